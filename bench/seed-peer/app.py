"""The seed's accept path, as bench/accept's baseline: FastAPI + pydantic, POST /request.

Validates the body with a pydantic model as the seed does, compares the secret, writes the task
as JSON to its own file and fsyncs it before answering 200 (the seed kept tasks in memory only;
a durable peer is the fair comparison). Run by bench/accept as
    SEED_SECRET=... SEED_SPOOL=DIR .venv/bin/python app.py PORT
on 127.0.0.1 only, one uvicorn worker like the seed.
"""

import hmac
import itertools
import json
import os
import sys
from typing import List

import uvicorn
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

SECRET = os.environ["SEED_SECRET"]
SPOOL = os.environ["SEED_SPOOL"]
os.makedirs(SPOOL, exist_ok=True)
counter = itertools.count()
app = FastAPI()


class Attachment(BaseModel):
    name: str
    url: str


class TaskRequest(BaseModel):
    email: str
    secret: str
    task: str
    round: int
    nonce: str
    brief: str
    checks: List[str]
    evaluation_url: str
    attachments: List[Attachment] = []


# A plain `def` endpoint: FastAPI runs it on its thread pool, so fsyncs of concurrent requests
# overlap instead of stalling the event loop (faster than an `async def` doing the same).
@app.post("/request")
def receive(request: TaskRequest):
    if not hmac.compare_digest(request.secret.encode(), SECRET.encode()):
        raise HTTPException(status_code=403, detail="secret does not match")
    task = request.model_dump(exclude={"secret"})
    path = os.path.join(SPOOL, f"{os.getpid()}-{next(counter)}.json")
    with open(path, "w") as file:
        json.dump(task, file)
        file.flush()
        os.fsync(file.fileno())
    return {"status": "accepted", "task": request.task, "round": request.round, "nonce": request.nonce}


@app.get("/")
def health():
    return {"status": "ok"}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
