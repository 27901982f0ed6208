#!/usr/bin/env python3
"""Test peer: the evaluator's notification receiver (the Notifier seam, docs/architecture.md).

Usage:
    python3 Tests/Peers/evaluator.py [--port 0] [--log FILE] [--fail N]
                                     [--fail-status 500] [--hang] [--status CODE]
                                     [--delay SECONDS] [--location URL]
                                     [--retry-after VALUE] [--stream-bytes N]

Listens on 127.0.0.1 only and prints exactly ``READY <port>`` on stdout once
listening. Nothing else is written to stdout; request logging goes to stderr
only with --verbose (so an undrained stderr pipe can never block the peer).

Behaviour for POST on any path (first match wins):
  --hang          accept the request and never answer (the connection is held
                  up to 600 s, or until the client goes away, then closed)
  --status CODE   answer every POST with CODE
  --fail N        the first N POSTs are answered with --fail-status (default 500)
  otherwise       200 {"ok":true}

Modifiers, applied to whatever answer was chosen:
  --delay S         wait S seconds before answering (a slow evaluator; the client
                    may give up first, which is then simply not noticed)
  --location URL    add a Location header (with --status 301/302/303/307/308, a
                    redirect, as RFC 9110 §15.4 describes)
  --retry-after V   add a Retry-After header (RFC 9110 §10.2.3: seconds or a date)
  --stream-bytes N  the body is N bytes of "x" (announced in Content-Length),
                    written in 64 KiB pieces until done or the client goes away;
                    "sent_bytes" in the record says how far it got

Every non-control request is recorded, in memory and as one JSON line in --log:
    {"t", "method", "path", "headers", "body", "json", "status", "sent_bytes"}
("status" is null for a request that is being held by --hang.)

Control endpoints (never recorded):
  GET    /_peer/requests   JSON array of recorded requests
  DELETE /_peer/requests   clear the record
  POST   /_peer/config     {"fail":N,"fail_status":S,"hang":bool,"status":S|null,
                            "delay":S,"location":U,"retry_after":V,"stream_bytes":N}
                           replaces the behaviour (absent keys take their
                           defaults: fail 0, fail_status 500, hang false,
                           status null, no delay or extra headers, a small
                           body) and resets the failure counter.
  GET    /_peer/config     the current behaviour and failure counter

Python 3.11 standard library only.
"""

import argparse
import json
import select
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler

import loopback_peer

HANG_LIMIT_SECONDS = 600.0
MAX_BODY = 64 * 1024 * 1024


class State:
    def __init__(self, log_path, fail, fail_status, hang, status, **extra):
        self.lock = threading.Lock()
        self.log_path = log_path
        self.records = []
        self.configure(fail=fail, fail_status=fail_status, hang=hang, status=status, **extra)

    def configure(self, fail=0, fail_status=500, hang=False, status=None,
                  delay=0, location=None, retry_after=None, stream_bytes=None):
        # Caller holds no lock or the lock; assignments are atomic enough, but
        # keep them together under the lock for consistency.
        self.fail = int(fail)
        self.fail_status = int(fail_status)
        self.hang = bool(hang)
        self.status = None if status is None else int(status)
        self.delay = float(delay or 0)
        self.location = location
        self.retry_after = None if retry_after is None else str(retry_after)
        self.stream_bytes = None if stream_bytes is None else int(stream_bytes)
        self.posts_seen = 0

    def config_dict(self):
        return {
            "fail": self.fail,
            "fail_status": self.fail_status,
            "hang": self.hang,
            "status": self.status,
            "delay": self.delay,
            "location": self.location,
            "retry_after": self.retry_after,
            "stream_bytes": self.stream_bytes,
            "posts_seen": self.posts_seen,
        }

    def decide(self):
        """Returns the status to answer for the next POST, or None to hang."""
        with self.lock:
            self.posts_seen += 1
            if self.hang:
                return None
            if self.status is not None:
                return self.status
            if self.posts_seen <= self.fail:
                return self.fail_status
            return 200

    def record(self, entry):
        with self.lock:
            self.records.append(entry)
            self._write_log(entry)

    def _write_log(self, entry):
        if not self.log_path:
            return
        with open(self.log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
            f.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "evaluator-peer/1"
    state: State = None  # set in main()
    verbose = False

    # ---- plumbing -------------------------------------------------------

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("evaluator: %s - %s\n" % (self.address_string(), fmt % args))

    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            total = 0
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    break
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # trailers until empty line
                    while True:
                        t = self.rfile.readline(65537)
                        if not t or t in (b"\r\n", b"\n"):
                            break
                    break
                total += size
                if total > MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)  # CRLF after chunk
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length) if length > 0 else b""

    def send_json(self, status, obj, headers=None):
        data = json.dumps(obj).encode("utf-8")
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def hold_connection(self):
        """Never answer: wait until the client disconnects or the limit passes."""
        self.close_connection = True
        deadline = time.monotonic() + HANG_LIMIT_SECONDS
        sock = self.connection
        while time.monotonic() < deadline:
            try:
                readable, _, _ = select.select([sock], [], [], 1.0)
                if readable:
                    data = sock.recv(65536, socket.MSG_PEEK)
                    if not data:
                        return  # client went away
                    sock.recv(65536)  # discard anything else it sends
            except OSError:
                return

    # ---- request handling -----------------------------------------------

    def handle_any(self):
        path = self.path
        try:
            raw = self.read_body()
        except (ValueError, OSError) as e:
            self.send_json(400, {"ok": False, "error": str(e)})
            return

        if path.split("?", 1)[0].startswith("/_peer/"):
            self.handle_control(path.split("?", 1)[0], raw)
            return

        text = raw.decode("utf-8", errors="replace")
        try:
            parsed = json.loads(text) if text.strip() else None
        except ValueError:
            parsed = None
        entry = {
            "t": time.time(),
            "method": self.command,
            "path": path,
            "headers": {k: v for k, v in self.headers.items()},
            "body": text,
            "json": parsed,
            "status": None,
            "sent_bytes": None,
        }

        if self.command != "POST":
            entry["status"] = 405
            self.state.record(entry)
            self.send_json(405, {"ok": False, "error": "method not allowed; POST a notification"})
            return

        status = self.state.decide()
        if status is None:
            self.state.record(entry)  # status stays null: never answered
            self.hold_connection()
            return
        entry["status"] = status
        self.state.record(entry)
        st = self.state
        if st.delay > 0:
            time.sleep(st.delay)
        headers = {}
        if st.location is not None:
            headers["Location"] = st.location
        if st.retry_after is not None:
            headers["Retry-After"] = st.retry_after
        try:
            if st.stream_bytes is not None:
                self.stream(status, st.stream_bytes, headers, entry)
            elif status == 200:
                self.send_json(200, {"ok": True}, headers)
            else:
                self.send_json(status, {"ok": False, "error": "evaluator peer answering %d" % status}, headers)
        except OSError:
            self.close_connection = True  # the client gave up (timeout, size limit)

    def stream(self, status, size, headers, entry):
        """A body of `size` bytes, written until done or the client goes away."""
        self.close_connection = True
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        piece = b"x" * 65536
        sent = 0
        try:
            while sent < size:
                n = min(len(piece), size - sent)
                self.wfile.write(piece[:n])
                sent += n
        finally:
            with self.state.lock:
                entry["sent_bytes"] = sent

    def handle_control(self, path, raw):
        st = self.state
        if path == "/_peer/requests":
            if self.command == "GET":
                with st.lock:
                    data = list(st.records)
                self.send_json(200, data)
                return
            if self.command == "DELETE":
                with st.lock:
                    n = len(st.records)
                    st.records.clear()
                self.send_json(200, {"ok": True, "cleared": n})
                return
        elif path == "/_peer/config":
            if self.command == "GET":
                with st.lock:
                    self.send_json(200, st.config_dict())
                return
            if self.command == "POST":
                try:
                    cfg = json.loads(raw.decode("utf-8") or "{}")
                    if not isinstance(cfg, dict):
                        raise ValueError("config must be a JSON object")
                    unknown = set(cfg) - {"fail", "fail_status", "hang", "status", "delay",
                                          "location", "retry_after", "stream_bytes"}
                    if unknown:
                        raise ValueError("unknown config keys: %s" % sorted(unknown))
                    with st.lock:
                        st.configure(
                            fail=cfg.get("fail") or 0,
                            fail_status=cfg.get("fail_status") or 500,
                            hang=bool(cfg.get("hang", False)),
                            status=cfg.get("status"),
                            delay=cfg.get("delay") or 0,
                            location=cfg.get("location"),
                            retry_after=cfg.get("retry_after"),
                            stream_bytes=cfg.get("stream_bytes"),
                        )
                        out = st.config_dict()
                except (ValueError, TypeError) as e:
                    self.send_json(400, {"ok": False, "error": str(e)})
                    return
                self.send_json(200, {"ok": True, "config": out})
                return
        self.send_json(404, {"ok": False, "error": "unknown control endpoint %s %s" % (self.command, path)})

    do_POST = handle_any
    do_GET = handle_any
    do_PUT = handle_any
    do_DELETE = handle_any
    do_PATCH = handle_any


def main(argv=None):
    ap = argparse.ArgumentParser(description="Evaluator notification receiver (test peer)")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = ephemeral, default)")
    ap.add_argument("--log", default=None, help="append one JSON line per request to FILE")
    ap.add_argument("--fail", type=int, default=0, help="answer the first N POSTs with --fail-status")
    ap.add_argument("--fail-status", type=int, default=500, help="status for the first N POSTs (default 500)")
    ap.add_argument("--hang", action="store_true", help="accept POSTs and never answer (held up to 600 s)")
    ap.add_argument("--status", type=int, default=None, help="answer every POST with CODE")
    ap.add_argument("--delay", type=float, default=0, help="wait SECONDS before answering")
    ap.add_argument("--location", default=None, help="add a Location header (redirects)")
    ap.add_argument("--retry-after", default=None, help="add a Retry-After header")
    ap.add_argument("--stream-bytes", type=int, default=None, help="answer with a body of N bytes")
    ap.add_argument("--verbose", action="store_true", help="log requests to stderr")
    args = ap.parse_args(argv)

    Handler.state = State(args.log, args.fail, args.fail_status, args.hang, args.status,
                          delay=args.delay, location=args.location,
                          retry_after=args.retry_after, stream_bytes=args.stream_bytes)
    Handler.verbose = args.verbose

    return loopback_peer.serve(Handler, args.port)


if __name__ == "__main__":
    sys.exit(main())
