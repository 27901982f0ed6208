#!/usr/bin/env python3
"""Test peer: GitHub REST API + git smart HTTP + GitHub Pages on loopback (the Forge seam, docs/architecture.md).

Usage:
    python3 Tests/Peers/github_emulator.py --root DIR [--port 0] [--token TOKEN:LOGIN[:SCOPES]]...
        [--org ORG]... [--time-scale F] [--pages-delay S] [--first-build-delay S]
        [--workflow-delay S] [--create-lag S] [--branch-lag S] [--cdn-lag S]
        [--errored-builds first|none] [--log FILE]

Binds 127.0.0.1 only and prints exactly ``READY <port>`` on stdout once listening. The API root
is the server root (GITHUB_API_URL=http://127.0.0.1:PORT, as api.github.com). SCOPES is
comma-separated (default ``repo,workflow``; ``TOKEN:LOGIN:`` = no scope). The token's prefix
gives its kind, as on github.com: ``ghs_`` a GitHub App installation token, ``github_pat_`` a
fine-grained token (both: SCOPES are permissions, ``workflows`` lets them push workflows, and no
X-OAuth-Scopes header), anything else a classic personal access token. Every configured user is
a member of every --org. State: DIR/repos/OWNER/REPO.git and DIR/state.json (reloaded on restart).

Strict by default: at least as unkind as github.com, with its documented and reported delays.
--time-scale (or GITHUB_EMULATOR_TIME_SCALE) multiplies every default delay, so fast tests keep
the same order of events in a fraction of the time; a delay given explicitly is used as is.
  first Pages build of a site   45 s   (GitHub: 30-60 s; later builds --pages-delay, 20 s)
  workflow run                  40 s   (a CI workflow that does not deploy: a quarter of it)
  after POST .../repos          3 s    git and /repos/{o}/{r}/... answer 404 (create lag)
  after the first push          2 s    POST/PUT .../pages answer 422 "The main branch must exist"
  after a build completes       3 s    the CDN still serves the previous build (the API says built)
  --errored-builds first        the first branch build of every site errors once, as GitHub's
                                sometimes do; a new build (POST .../pages/builds, "helpful when
                                diagnosing build warnings and failures") then succeeds

REST (status codes and bodies checked against docs.github.com / github/rest-api-description):
  GET  /user  /orgs/{org}  /rate_limit
  POST /user/repos  /orgs/{org}/repos                    201 | 400 | 401 | 403 | 404 | 422
  GET  /repos/{o}/{r}                                    200 | 404
  GET  POST  PUT /repos/{o}/{r}/pages                    200|404  201|409|422  204|404|422
  GET  /repos/{o}/{r}/pages/builds/latest  (200|404)     POST /repos/{o}/{r}/pages/builds (201)
  GET  /repos/{o}/{r}/git/ref/{ref}                      200 | 404 | 409 "Git Repository is empty."
  GET  /repos/{o}/{r}/commits/{ref}                      200 | 409 | 422 "No commit found for SHA"
  GET  /repos/{o}/{r}/actions/runs[?head_sha=&branch=&event=&status=&per_page=&page=]
  GET  /repos/{o}/{r}/actions/workflows/{id or file name}/runs[?same filters]   200 | 404
  POST /repos/{o}/{r}/actions/runs/{run_id}/rerun        201 | 403 (still running) | 404
  POST /repos/{o}/{r}/actions/workflows/{id or file name}/dispatches {"ref"}   204 | 404 | 422
  GET  /repos/{o}/{r}/actions/runs/{run_id}/jobs[?filter=latest|all&per_page=&page=]   200 | 404
  GET  /repos/{o}/{r}/actions/jobs/{job_id}/logs         302 (Location: a signed log URL) | 401 | 404
Job logs (https://docs.github.com/rest/actions/workflow-jobs#download-job-logs-for-a-workflow-run):
the API answers 302 to a plain-text log on a storage host (here /actions-results/... on this
server), signed in its query and valid for 1 minute. Storage takes no token: a download that
also carries an Authorization header is refused (400), as signed-URL stores refuse a second
authentication mechanism, so a client that forwards the API token there fails loudly.
Git smart HTTP (real `git http-backend`): /OWNER/REPO(.git)/info/refs, /git-upload-pack,
/git-receive-pack; reads are anonymous for public repositories; credentials only as HTTP Basic
with the token as password (x-access-token:TOKEN, as GitHub documents for installation tokens;
a Bearer or "token" header is no credential to git). Pages: /pages/OWNER/REPO/PATH.

Pages, as GitHub documents it (https://docs.github.com/rest/pages/pages):
  * a branch-built site (build_type legacy) builds on POST .../pages, on each push to its source
    branch, and on POST .../pages/builds ("the same effect as pushing a commit"); builds run one
    at a time per repository. PUT .../pages (a source change) queues NO build.
  * branch builds run Jekyll unless the source root has .nojekyll: files and folders whose name
    starts with "_" are not published (https://github.blog/2009-12-29-bypassing-jekyll-on-github-pages/).
  * a workflow-built site is what its actions/deploy-pages runs deployed; a run started while
    Pages was not enabled with build_type workflow fails ("Failed to create deployment (status:
    404) ... Ensure GitHub Pages has been enabled", as reported in actions/deploy-pages issues)
    and is not re-run when Pages is enabled later. Every workflow triggered by `push` runs (CI
    too), not only the one that deploys Pages.
  * until a new build is served, the previous one stays live (404 only before the first).
Workflow runs fail from their committed content, deterministically: each job under `jobs:` runs
its steps in order; a step whose `run:` holds `exit N` (N > 0) fails with GitHub's "Process
completed with exit code N."; upload-pages-artifact fails on a missing `path:` ("tar: ...: Cannot
open: No such file or directory"), deploy-pages while Pages is not workflow-built ("Failed to
create deployment (status: 404)"). The failed step and the steps after it are listed in the job
("Set up job" first, "Complete job" last, later steps skipped) and its log names the error; a
job whose `needs:` failed is skipped. The run fails when a job fails; only a successful job that
deploys Pages deploys.
Push refusals for .github/workflows/ use GitHub's wording per token kind: "... a Personal Access
Token ... without `workflow` scope" or "... a GitHub App ... without `workflows` permission"
(see e.g. github.com/repo-sync/github-sync/issues/23).

Control endpoints (not recorded, no authentication):
  POST /_emulator/faults {"method" (default any),"path" (regex on the path, no query),"status",
       "count","kind":"error"|"primary-rate-limit"|"secondary-rate-limit","retry_after",
       "reset_in","message"} (or a list of them)    GET | DELETE /_emulator/faults
  GET | DELETE /_emulator/requests    GET /_emulator/state
  GET | DELETE /_emulator/calls      REST calls counted per repository ("OWNER/REPO", lower case)
                                     and in total; git and Pages requests are not API calls
  POST /_emulator/config {"pages_delay","first_build_delay","workflow_delay","create_lag",
       "branch_lag","cdn_lag","errored_builds","rate_limit_authenticated","rate_limit_unauthenticated"}
Every other request is appended to --log (default DIR/requests.jsonl) as one JSON line:
  {"time","method","path" (with query),"headers":[[name,value],...] as received,"status",
   "client","api_version" (X-GitHub-Api-Version or null),"accept_github_json" (bool)}

Python 3.11 standard library only.
"""

import argparse, base64, hashlib, hmac, json, mimetypes, os, re, secrets, shutil, subprocess, sys
import threading, time, traceback, urllib.parse
from http.server import BaseHTTPRequestHandler

import loopback_peer

ZERO = "0" * 40
DOCS = "https://docs.github.com/rest"
DOC = {k: DOCS + v for k, v in {
    "user": "/users/users#get-the-authenticated-user", "org": "/orgs/orgs#get-an-organization",
    "user_repo": "/repos/repos#create-a-repository-for-the-authenticated-user",
    "org_repo": "/repos/repos#create-an-organization-repository", "repo": "/repos/repos#get-a-repository",
    "pages": "/pages/pages#get-a-apiname-pages-site", "pages_create": "/pages/pages#create-a-apiname-pages-site",
    "pages_update": "/pages/pages#update-information-about-a-apiname-pages-site",
    "builds": "/pages/pages#get-latest-pages-build", "ref": "/git/refs#get-a-reference",
    "commit": "/commits/commits#get-a-commit", "runs": "/actions/workflow-runs#list-workflow-runs-for-a-repository",
    "workflow_runs": "/actions/workflow-runs#list-workflow-runs-for-a-workflow",
    "jobs": "/actions/workflow-jobs#list-jobs-for-a-workflow-run",
    "job_logs": "/actions/workflow-jobs#download-job-logs-for-a-workflow-run",
    "rerun": "/actions/workflow-runs#re-run-a-workflow", "dispatch": "/actions/workflows#create-a-workflow-dispatch-event", "request_build": "/pages/pages#request-a-apiname-pages-build",
    "primary": "/overview/rate-limits-for-the-rest-api", "versions": "/overview/api-versions",
    "secondary": "/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}.items()}
API_VERSIONS = ("2022-11-28", "2026-03-10")  # the versions github/rest-api-description publishes
CONTENT_TYPES = {  # text types carry a charset, as Pages sends them; the rest comes from mimetypes
    ".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8", ".txt": "text/plain; charset=utf-8",
    ".js": "application/javascript; charset=utf-8", ".mjs": "application/javascript; charset=utf-8",
    ".json": "application/json; charset=utf-8", ".md": "text/markdown; charset=utf-8",
    ".csv": "text/csv; charset=utf-8", ".svg": "image/svg+xml", ".webp": "image/webp", ".woff2": "font/woff2"}
# Missing User-Agent: GitHub refuses before any API logic, as text/html and not JSON
# (docs "Troubleshooting the REST API: User agent required"; the wording is GitHub's).
NO_USER_AGENT = (b"Request forbidden by administrative rules. Please make sure your request has a User-Agent "
                 b"header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-"
                 b"required). Check https://developer.github.com for other possible causes.\n")
PAGES_404 = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{} &middot; GitHub Pages</title></head>"
             "<body><div class=\"container\"><h1>404</h1>{}</div></body></html>\n")
PAGES_NO_SITE = PAGES_404.format("Site not found", "<p><strong>There isn't a GitHub Pages site here.</strong></p>")
PAGES_NO_FILE = PAGES_404.format("Page not found", "<p><strong>File not found</strong></p><p>The site configured "
                                 "at this address does not contain the requested file.</p>")

# pre-receive hook written into every bare repository. GitHub refuses a push that creates, changes
# or deletes a file under .github/workflows/ when the token may not: a classic token without the
# `workflow` scope, an App or fine-grained token without the `workflows` permission, each with its
# own wording. The reason goes back through EMULATOR_REJECT_FILE so the server can put it in the
# report-status "ng" line: git then prints "! [remote rejected] main -> main (refusing to allow ...)".
HOOK = r'''#!@PYTHON@
import os, subprocess, sys
kind = os.environ.get("EMULATOR_TOKEN_KIND", "classic")
granted = os.environ.get("EMULATOR_TOKEN_SCOPES", "").split(",")
if ("workflow" if kind == "classic" else "workflows") in granted:
    sys.exit(0)
for line in sys.stdin:
    old, new, ref = line.split()
    if new == "0" * 40:
        continue
    cmd = (["git", "ls-tree", "-r", "--name-only", new] if old == "0" * 40 else
           ["git", "diff", "--name-only", "--no-renames", old, new]) + ["--", ".github/workflows"]
    changed = [f for f in subprocess.run(cmd, capture_output=True, text=True).stdout.split("\n") if f]
    if changed:
        with open(os.environ["EMULATOR_REJECT_FILE"], "w") as f:
            if kind == "app":
                f.write("refusing to allow a GitHub App to create or update workflow `%s` "
                        "without `workflows` permission" % changed[0])
            else:
                f.write("refusing to allow a Personal Access Token to create or update workflow `%s` "
                        "without `workflow` scope" % changed[0])
        sys.exit(1)
'''


class Refusal(Exception):
    """An API error answer: status, message, documentation_url, extra body fields."""

    def __init__(self, status, message, doc=DOCS, **fields):
        super().__init__(message)
        self.status, self.message, self.doc, self.fields = status, message, doc, fields


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)) if t else None


def node_id(kind, n):
    return base64.b64encode(f"0{len(kind)}:{kind}{n}".encode()).decode()


def pkt_lines(data):
    """Split pkt-line framed bytes into payloads (None for flush/delimiter packets)."""
    out, i = [], 0
    while i + 4 <= len(data):
        n = int(data[i:i + 4], 16)
        out.append(data[i + 4:i + n] if n >= 4 else None)
        i += max(n, 4)
    return out


def pkt(payload):
    return b"0000" if payload is None else b"%04x" % (len(payload) + 4) + payload


def rewrite_report(body, reason):
    """Replace 'ng REF pre-receive hook declined' by GitHub's reason (inside side-band 1 if used)."""
    def fix(report):
        out = b""
        for p in pkt_lines(report):
            if p is not None and p.startswith(b"ng ") and b"hook declined" in p:
                p = b"ng " + p.split(b" ")[1].rstrip(b"\n") + b" " + reason.encode() + b"\n"
            out += pkt(p)
        return out
    packets = pkt_lines(body)
    if not packets or packets[0] is None or packets[0][:1] not in (b"\x01", b"\x02", b"\x03"):
        return fix(body)
    band1 = b"".join(p[1:] for p in packets if p is not None and p[:1] == b"\x01")
    out, done = b"", False
    for p in packets:
        if p is None or p[:1] != b"\x01":
            out += pkt(p)
        elif not done:
            out, done = out + pkt(b"\x01" + fix(band1)), True
    return out


class Emulator:
    """Users, organisations, repositories, Pages sites and workflow runs; thread-safe."""

    def __init__(self, args):
        self.root = os.path.abspath(args.root)
        self.repos_dir, self.tmp_dir = os.path.join(self.root, "repos"), os.path.join(self.root, "tmp")
        os.makedirs(self.repos_dir, exist_ok=True)
        os.makedirs(self.tmp_dir, exist_ok=True)
        self.log_path = args.log or os.path.join(self.root, "requests.jsonl")
        self.state_path = os.path.join(self.root, "state.json")
        self.lock, self.repo_locks = threading.RLock(), {}
        self.tokens, self.users = {}, {}
        for spec in args.token:
            parts = spec.split(":")
            if len(parts) < 2 or not parts[0] or not parts[1]:
                sys.exit(f"github_emulator: bad --token {spec!r} (want TOKEN:LOGIN[:SCOPES])")
            kind = "app" if parts[0].startswith("ghs_") else "fine-grained" if parts[0].startswith("github_pat_") else "classic"
            default = ["repo", "workflow"] if kind == "classic" else ["contents", "pages", "administration", "workflows"]
            scopes = [s for s in parts[2].split(",") if s] if len(parts) > 2 else default
            user = self.users.setdefault(parts[1].lower(), {"login": parts[1], "id": 1000 + len(self.users)})
            self.tokens[parts[0]] = dict(user, scopes=scopes, kind=kind)
        self.orgs = {o.lower(): {"login": o, "id": 9000 + i} for i, o in enumerate(args.org)}
        scale = args.time_scale
        self.delays = {name: (given if given is not None else default * scale) for name, given, default in (
            ("first_build_delay", args.first_build_delay if args.first_build_delay is not None else args.pages_delay, 45),
            ("pages_delay", args.pages_delay, 20), ("workflow_delay", args.workflow_delay, 40),
            ("create_lag", args.create_lag, 3), ("branch_lag", args.branch_lag, 2), ("cdn_lag", args.cdn_lag, 3))}
        self.errored_builds = args.errored_builds
        self.limits = {"authenticated": 5000, "unauthenticated": 60}
        self.counters, self.faults, self.requests, self.base = {}, [], [], ""
        self.calls = {}  # "owner/repo" (lower case) or "" -> REST calls answered
        self.signing_key = secrets.token_bytes(32)
        self.state = {"next_id": 100000, "repos": {}}
        if os.path.exists(self.state_path):
            with open(self.state_path) as f:
                self.state = json.load(f)
            for repo in self.state["repos"].values():
                repo.setdefault("builds", [])

    def save(self):
        with self.lock:
            with open(self.state_path + ".tmp", "w") as f:
                json.dump(self.state, f, indent=1)
            os.replace(self.state_path + ".tmp", self.state_path)

    def next_id(self):
        with self.lock:
            self.state["next_id"] += 1
            return self.state["next_id"]

    def sign(self, text):
        """The signature of a log URL: an HMAC under this process's own key."""
        return hmac.new(self.signing_key, text.encode(), hashlib.sha256).hexdigest()[:32]

    def record(self, entry):
        with self.lock:
            self.requests.append(entry)
            with open(self.log_path, "a") as f:
                f.write(json.dumps(entry) + "\n")

    def take_fault(self, method, path):
        """Consume one matching injected fault, or None."""
        with self.lock:
            for f in self.faults:
                if f["remaining"] > 0 and f["method"] in ("*", method) and re.search(f["path"], path):
                    f["remaining"] -= 1
                    return dict(f)
        return None

    def count(self, key, authenticated, charge=True):
        """Primary rate limit bookkeeping per identity: (limit, remaining, reset, used)."""
        with self.lock:
            now = time.time()
            c = self.counters.get(key)
            if not c or now >= c["reset"]:
                c = self.counters[key] = {"used": 0, "reset": int(now) + 3600}
            c["used"] += 1 if charge else 0
            limit = self.limits["authenticated" if authenticated else "unauthenticated"]
            return limit, max(0, limit - c["used"]), c["reset"], c["used"]

    # ---- git plumbing -------------------------------------------------------------------------
    def repo_path(self, repo):
        return os.path.join(self.repos_dir, repo["owner"], repo["name"] + ".git")

    def git(self, repo, *args, data=None, env=None):
        return subprocess.run(["git", "--git-dir", self.repo_path(repo), *args], input=data,
                              capture_output=True, env=env)

    def out(self, repo, *args, data=None, env=None):
        return self.git(repo, *args, data=data, env=env).stdout.decode(errors="replace").strip()

    def refs(self, repo):
        lines = self.out(repo, "for-each-ref", "--format=%(refname) %(objectname)").splitlines()
        return dict(line.split(" ", 1) for line in lines if " " in line)

    def repo_lock(self, repo):
        with self.lock:
            return self.repo_locks.setdefault(repo["id"], threading.Lock())

    # ---- accounts and repositories ------------------------------------------------------------
    def find(self, owner, name):
        return self.state["repos"].get(f"{owner}/{name}".lower())

    def account(self, login):
        """(login, id, type) of a configured user or organisation, else None."""
        for table, kind in ((self.users, "User"), (self.orgs, "Organization")):
            if login.lower() in table:
                return table[login.lower()]["login"], table[login.lower()]["id"], kind
        return None

    def can_admin(self, ident, repo):
        if ident is None:
            return False
        if repo["owner_type"] == "Organization":
            return repo["owner"].lower() in self.orgs  # every configured user is a member
        return repo["owner"].lower() == ident["login"].lower()

    def can_read(self, ident, repo):
        return not repo["private"] or self.can_admin(ident, repo)

    def create_repo(self, owner, owner_type, name, body, creator):
        with self.lock:
            repo = {"id": self.next_id(), "owner": owner, "owner_type": owner_type, "name": name,
                    "description": body.get("description"), "homepage": body.get("homepage"),
                    "private": bool(body.get("private")) or body.get("visibility") == "private",
                    "has_issues": body.get("has_issues", True), "has_projects": body.get("has_projects", True),
                    "has_wiki": body.get("has_wiki", True), "default_branch": "main",
                    "created_at": time.time(), "pushed_at": None, "pages": None, "pushes": [], "runs": [],
                    "builds": []}
            path = self.repo_path(repo)
            shutil.rmtree(path, ignore_errors=True)  # leftover of an earlier run without state
            subprocess.run(["git", "init", "--quiet", "--bare", "-b", "main", path], check=True)
            self.git(repo, "config", "http.receivepack", "true")
            hook = os.path.join(path, "hooks", "pre-receive")
            with open(hook, "w") as f:
                f.write(HOOK.replace("@PYTHON@", sys.executable))
            os.chmod(hook, 0o755)
            self.state["repos"][f"{owner}/{name}".lower()] = repo
            if body.get("auto_init"):  # GitHub: an "Initial commit" holding a README.md
                readme = f"# {name}\n" + (f"\n{repo['description']}\n" if repo["description"] else "")
                blob = self.out(repo, "hash-object", "-w", "--stdin", data=readme.encode())
                tree = self.out(repo, "mktree", data=f"100644 blob {blob}\tREADME.md\n".encode())
                email = f"{creator['id']}+{creator['login']}@users.noreply.github.com"
                env = dict(os.environ, GIT_AUTHOR_NAME=creator["login"], GIT_AUTHOR_EMAIL=email,
                           GIT_COMMITTER_NAME="GitHub", GIT_COMMITTER_EMAIL="noreply@github.com")
                sha = self.out(repo, "commit-tree", tree, "-m", "Initial commit", env=env)
                self.git(repo, "update-ref", "refs/heads/main", sha)
                self.record_push(repo, {}, {"refs/heads/main": sha}, creator["login"])
            self.save()
            return repo

    def record_push(self, repo, before, after, pusher):
        """Remember every ref a push moved; a push to the default branch may start workflow runs."""
        now = time.time()
        with self.lock:
            for ref in sorted(set(before) | set(after)):
                if before.get(ref) != after.get(ref):
                    repo["pushes"].append({"ref": ref, "before": before.get(ref, ZERO),
                                           "after": after.get(ref, ZERO), "time": now, "pusher": pusher})
                    if ref == "refs/heads/" + repo["default_branch"] and ref in after:
                        self.start_runs(repo, after[ref], now, pusher)
                    pages = repo["pages"]
                    if pages and pages["build_type"] == "legacy" and ref == "refs/heads/" + pages["source"]["branch"] \
                            and ref in after:
                        self.queue_build(repo, now, pusher)
            repo["pushed_at"] = now
            self.save()

    def start_runs(self, repo, sha, now, actor):
        """A 'push' run for each workflow at the new tip that `on:` push triggers. One that deploys
        Pages (actions/deploy-pages) succeeds only if Pages was enabled with build_type workflow
        when it started; then its deployment becomes a build. Other workflows (CI) succeed sooner."""
        message = self.out(repo, "log", "-1", "--format=%s", sha)
        for path in self.out(repo, "ls-tree", "--name-only", sha, ".github/workflows/").splitlines():
            text = self.out(repo, "cat-file", "blob", f"{sha}:{path}")
            if not path.endswith((".yml", ".yaml")) or not triggered_by_push(text):
                continue
            self.new_run(repo, path, text, sha, "push", now, actor, message)

    def new_run(self, repo, path, text, sha, event, now, actor, message):
        name = re.search(r"^name:\s*['\"]?(.+?)['\"]?\s*$", text, re.M)  # GitHub falls back to the path
        run = {"id": self.next_id(), "run_number": len(repo["runs"]) + 1, "path": path,
               "name": name.group(1) if name else path, "head_sha": sha, "event": event,
               "head_branch": repo["default_branch"], "actor": actor, "message": message,
               "deploys": "actions/deploy-pages" in text, "artifact": artifact_path(text), "attempt": 0}
        repo["runs"].append(run)
        self.begin_run(repo, run, now)

    def begin_run(self, repo, run, now):
        """(Re)starts a run: its jobs run the committed workflow against the commit and the state
        of Pages at its start (a re-run is a new attempt with new job ids, as on GitHub)."""
        delay = self.delays["workflow_delay"] * (1 if run["deploys"] else 0.25)
        text = self.out(repo, "cat-file", "blob", f"{run['head_sha']}:{run['path']}")
        jobs = self.run_jobs(repo, run, text, now, delay)
        ok = all(j["conclusion"] != "failure" for j in jobs)
        run.update(created=now, delay=delay, attempt=run["attempt"] + 1, outcome="success" if ok else "failure")
        for job in jobs:
            job["attempt"] = run["attempt"]
        run["jobs"] = run.get("jobs", []) + jobs
        if any(j["deploys"] and j["conclusion"] == "success" for j in jobs):
            repo["builds"].append({"sha": run["head_sha"], "start": now, "done": now + delay, "final": "built",
                                   "pusher": run["actor"], "root": run["artifact"], "jekyll": False, "kind": "workflow"})

    def run_jobs(self, repo, run, text, now, delay):
        """Every job of the workflow, run against the commit: its steps, conclusion and log."""
        pages = repo["pages"]
        full, sha, failed, jobs = f"{repo['owner']}/{repo['name']}", run["head_sha"], set(), []
        for key, body in workflow_jobs(text):
            lines = [line for line in body.splitlines() if line.strip()]
            level = indent(lines[0]) if lines else 0
            name = next((m for m in (re.match(r"^(\s*)name:\s*['\"]?(.+?)['\"]?\s*$", line) for line in lines)
                         if m and len(m.group(1)) == level), None)
            job = {"id": self.next_id(), "key": key, "name": name.group(2) if name else key,
                   "deploys": "actions/deploy-pages" in body, "steps": [], "log": []}
            stamp = iso(now)[:-1] + ".0000000Z "
            log = job["log"]
            log.append(stamp + "Current runner version: '2.321.0'")
            job["steps"].append({"name": "Set up job", "conclusion": "success"})
            needs = re.search(r"^\s+needs:\s*\[?([^\]\n]*)", body, re.M)
            if needs and failed & {n.strip(" '\"") for n in needs.group(1).split(",")}:
                job.update(conclusion="skipped", steps=[])
                jobs.append(job)
                continue
            error, steps = None, workflow_steps(body)
            if not steps and job["deploys"]:  # steps not readable: still upload and deploy
                steps = [f"  uses: actions/upload-pages-artifact\n  with: {{ path: {run['artifact'] or '.'} }}",
                         "  uses: actions/deploy-pages"]
            for step in steps:
                label = step_name(step)
                if error:
                    job["steps"].append({"name": label, "conclusion": "skipped"})
                    continue
                log.append(stamp + "##[group]" + label)
                script = step_field(step, "run")  # the runner echoes the script, then its shell
                log.extend(stamp + line for line in (script.splitlines() + ["shell: /usr/bin/bash -e {0}"] if script else []))
                log.append(stamp + "##[endgroup]")
                error = self.step_error(repo, sha, step, pages, full)
                if error:
                    log.extend(stamp + line for line in error)
                job["steps"].append({"name": label, "conclusion": "failure" if error else "success"})
            job["steps"].append({"name": "Complete job", "conclusion": "success"})
            log.append(stamp + "Cleaning up orphan processes")
            job["conclusion"] = "failure" if error else "success"
            if error:
                failed.add(key)
            jobs.append(job)
        return jobs

    def step_error(self, repo, sha, step, pages, full):
        """The log lines of a failing step, or None: `exit N` in a run script, a missing
        upload-pages-artifact path, a deploy-pages while Pages is not workflow-built."""
        script = step_field(step, "run")
        if script is not None:
            for line in script.splitlines():
                m = re.match(r"\s*exit\s+(\d+)\s*(?:#.*)?$", line)
                if m and int(m.group(1)):
                    return [line.strip(), f"##[error]Process completed with exit code {m.group(1)}."]
            return None
        uses = step_field(step, "uses") or ""
        if "upload-pages-artifact" in uses:
            path = artifact_path("upload-pages-artifact\n" + step) or "."
            kind = self.out(repo, "cat-file", "-t", f"{sha}:{path}") if path != "." else "tree"
            if kind != "tree":
                return [f"tar: {path}: Cannot open: No such file or directory",
                        "tar: Error is not recoverable: exiting now", "##[error]Process completed with exit code 2."]
        if "deploy-pages" in uses and (pages is None or pages["build_type"] != "workflow"):
            return [f"##[error]Failed to create deployment (status: 404) with build version {sha}. Ensure GitHub "
                    f"Pages has been enabled: {self.base}/{full}/settings/pages"]
        return None

    def queue_build(self, repo, now, pusher):
        """A branch build of the source branch's tip (legacy sites): one at a time per repository."""
        pages = repo["pages"]
        sha = self.refs(repo).get("refs/heads/" + pages["source"]["branch"])
        if not sha:
            return None
        root = pages["source"]["path"].strip("/")
        previous = [b for b in repo["builds"] if b["kind"] == "legacy"]
        first = not repo["builds"]
        start = max([now] + [b["done"] for b in repo["builds"]])
        delay = self.delays["first_build_delay" if first else "pages_delay"]
        errored = self.errored_builds == "first" and not previous
        nojekyll = self.git(repo, "cat-file", "-e", f"{sha}:{root + '/' if root else ''}.nojekyll").returncode == 0
        build = {"sha": sha, "start": start, "done": start + delay, "final": "errored" if errored else "built",
                 "pusher": pusher, "root": root, "jekyll": not nojekyll, "kind": "legacy"}
        repo["builds"].append(build)
        return build

    # ---- runs and Pages builds are derived from the clock, so delays behave like propagation ------
    def run_view(self, repo, run, now):
        """(status, conclusion, completed_at) of a workflow run at time now."""
        done = run["created"] + run["delay"]
        if now >= done:
            return "completed", run["outcome"], done
        return ("in_progress" if now >= run["created"] + run["delay"] / 3 else "queued"), None, None

    def builds(self, repo, now):
        """Pages builds oldest first, each with its status at time now."""
        return [dict(b, status=b["final"] if now >= b["done"] else "building" if now >= b["start"] else "queued")
                for b in repo["builds"]]

    def deployed(self, repo, now):
        """The build the CDN serves: the last one built at least cdn_lag ago (the API says
        "built" at once; the edge caches catch up later)."""
        lag = self.delays["cdn_lag"]
        served = [b for b in repo["builds"] if b["final"] == "built" and now >= b["done"] + lag]
        return max(served, key=lambda b: b["done"]) if served else None

    def visible(self, repo, now=None):
        """False during the window after creation in which git and the API answer 404."""
        return (now or time.time()) >= repo["created_at"] + self.delays["create_lag"]

    def branch_visible(self, repo, branch, now):
        """The Pages API sees a branch only branch_lag after its first push."""
        first = [p["time"] for p in repo["pushes"] if p["ref"] == "refs/heads/" + branch and p["after"] != ZERO]
        return bool(first) and branch and "refs/heads/" + branch in self.refs(repo) and now >= min(first) + self.delays["branch_lag"]

    # ---- JSON representations -------------------------------------------------------------------
    def user_obj(self, login, uid, kind="User"):
        b = self.base
        return {"login": login, "id": uid, "node_id": node_id(kind, uid), "avatar_url": f"{b}/avatars/{login}",
                "gravatar_id": "", "url": f"{b}/{'orgs' if kind == 'Organization' else 'users'}/{login}",
                "html_url": f"{b}/{login}", "repos_url": f"{b}/users/{login}/repos", "type": kind,
                "site_admin": False}

    def repo_obj(self, repo, ident=None):
        b, full = self.base, f"{repo['owner']}/{repo['name']}"
        admin = self.can_admin(ident, repo)
        return {"id": repo["id"], "node_id": node_id("Repository", repo["id"]), "name": repo["name"],
                "full_name": full, "private": repo["private"], "fork": False, "description": repo["description"],
                "owner": self.user_obj(*(self.account(repo["owner"]) or (repo["owner"], 0, repo["owner_type"]))),
                "html_url": f"{b}/{full}", "url": f"{b}/repos/{full}", "clone_url": f"{b}/{full}.git",
                "git_url": f"{b}/{full}.git", "ssh_url": f"git@127.0.0.1:{full}.git", "svn_url": f"{b}/{full}",
                "homepage": repo["homepage"], "size": 0, "stargazers_count": 0, "watchers_count": 0,
                "forks_count": 0, "open_issues_count": 0, "language": None, "has_issues": repo["has_issues"],
                "has_projects": repo["has_projects"], "has_wiki": repo["has_wiki"],
                "has_pages": repo["pages"] is not None, "has_downloads": True, "archived": False,
                "disabled": False, "visibility": "private" if repo["private"] else "public",
                "default_branch": repo["default_branch"], "created_at": iso(repo["created_at"]),
                "updated_at": iso(repo["pushed_at"] or repo["created_at"]),
                "pushed_at": iso(repo["pushed_at"] or repo["created_at"]),
                "permissions": {"admin": admin, "maintain": admin, "push": admin, "triage": admin, "pull": True}}

    def pages_obj(self, repo, now):
        full, pages, builds = f"{repo['owner']}/{repo['name']}", repo["pages"], self.builds(repo, now)
        return {"url": f"{self.base}/repos/{full}/pages", "status": builds[-1]["status"] if builds else None,
                "cname": pages.get("cname"), "custom_404": False, "html_url": f"{self.base}/pages/{full}/",
                "build_type": pages["build_type"], "source": pages["source"], "public": True,
                "protected_domain_state": None, "pending_domain_unverified_at": None,
                "https_enforced": pages.get("https_enforced", True)}

    def build_obj(self, repo, build, n, now):
        pusher = self.account(build["pusher"])
        return {"url": f"{self.base}/repos/{repo['owner']}/{repo['name']}/pages/builds/{n}",
                "status": build["status"], "commit": build["sha"],
                "error": {"message": "Page build failed." if build["status"] == "errored" else None},
                "pusher": self.user_obj(*pusher) if pusher else None,
                "duration": int(max(0.0, min(now, build["done"]) - build["start"]) * 1000),
                "created_at": iso(build["start"]), "updated_at": iso(min(now, build["done"]))}

    def run_obj(self, repo, run, now):
        b, full = self.base, f"{repo['owner']}/{repo['name']}"
        status, conclusion, done = self.run_view(repo, run, now)
        started = run["created"] + run["delay"] / 3 if status != "queued" else None
        return {"id": run["id"], "name": run["name"], "node_id": node_id("WorkflowRun", run["id"]),
                "head_branch": run["head_branch"], "head_sha": run["head_sha"], "path": run["path"],
                "display_title": run["message"], "run_number": run["run_number"], "run_attempt": run["attempt"],
                "event": run["event"], "status": status, "conclusion": conclusion,
                "workflow_id": workflow_id(run["path"]),
                "url": f"{b}/repos/{full}/actions/runs/{run['id']}", "html_url": f"{b}/{full}/actions/runs/{run['id']}",
                "created_at": iso(run["created"]), "updated_at": iso(done or started or run["created"]),
                "run_started_at": iso(started), "head_commit": {"id": run["head_sha"], "message": run["message"]},
                "repository": {"id": repo["id"], "name": repo["name"], "full_name": full}}

    def commit_obj(self, repo, sha):
        fmt = "%H%x00%T%x00%P%x00%an%x00%ae%x00%at%x00%cn%x00%ce%x00%ct%x00%B"
        f = self.out(repo, "log", "-1", "--format=" + fmt, sha).split("\0", 9)
        b, full = self.base, f"{repo['owner']}/{repo['name']}"
        kinds = {"A": "added", "M": "modified", "D": "removed"}
        changes = self.out(repo, "diff-tree", "--no-commit-id", "-r", "--root", "--name-status", sha).splitlines()
        return {"sha": f[0], "node_id": node_id("Commit", f[0][:8]), "url": f"{b}/repos/{full}/commits/{f[0]}",
                "html_url": f"{b}/{full}/commit/{f[0]}", "author": None, "committer": None,
                "commit": {"author": {"name": f[3], "email": f[4], "date": iso(int(f[5]))},
                           "committer": {"name": f[6], "email": f[7], "date": iso(int(f[8]))},
                           "message": f[9], "tree": {"sha": f[1], "url": f"{b}/repos/{full}/git/trees/{f[1]}"},
                           "url": f"{b}/repos/{full}/git/commits/{f[0]}", "comment_count": 0},
                "parents": [{"sha": p, "url": f"{b}/repos/{full}/commits/{p}", "html_url": f"{b}/{full}/commit/{p}"}
                            for p in f[2].split()],
                "files": [{"filename": c.split("\t", 1)[1], "status": kinds.get(c[:1], "modified")}
                          for c in changes if "\t" in c]}

    def snapshot(self):
        now = time.time()
        with self.lock:
            repos = [{"full_name": f"{r['owner']}/{r['name']}", "id": r["id"], "private": r["private"],
                      "pages": r["pages"], "pages_deployed_sha": (self.deployed(r, now) or {}).get("sha"),
                      "pushes": [{"ref": p["ref"], "sha": p["after"], "time": p["time"]} for p in r["pushes"]],
                      "runs": [self.run_obj(r, run, now) for run in r["runs"]],
                      "builds": [{k: b[k] for k in ("sha", "status", "kind", "jekyll")} for b in self.builds(r, now)]}
                     for r in self.state["repos"].values()]
            return {"repos": repos, "delays": self.delays, "errored_builds": self.errored_builds,
                    "rate_limits": self.limits, "calls": self.calls_obj(), "faults": self.faults, "users": list(self.users.values()),
                    "orgs": list(self.orgs.values())}


    def count_call(self, repo_key):
        with self.lock:
            self.calls[repo_key] = self.calls.get(repo_key, 0) + 1

    def calls_obj(self):
        with self.lock:
            return {"total": sum(self.calls.values()), "by_repository": {k: v for k, v in self.calls.items() if k},
                    "unscoped": self.calls.get("", 0)}


def workflow_id(path):
    return int.from_bytes(path.encode()[-6:], "big") % 10**8


def triggered_by_push(text):
    """Whether a workflow's `on:` includes push (inline `on: push`, `on: [push, ...]`, or a
    `push:` key in its block); a workflow_dispatch-only workflow never runs on a push."""
    m = re.search(r"^(?:on|\"on\"|'on'):(.*)$", text, re.M)
    if not m:
        return False
    if re.search(r"\bpush\b", m.group(1)):
        return True
    for line in text[m.end():].splitlines()[1:]:
        if line.strip() and not line.startswith((" ", "\t")):
            break
        if re.match(r"\s+push\s*:", line) or re.match(r"\s+-\s*push\b", line):
            return True
    return False


def artifact_path(text):
    """`path:` of the workflow's actions/upload-pages-artifact step ('' = repository root)."""
    at = text.find("upload-pages-artifact")
    for line in text[at:].splitlines()[1:] if at >= 0 else []:
        if re.match(r"\s*-\s", line):  # next step
            break
        m = (re.match(r"\s*path:\s*['\"]?([^'\"#]*?)['\"]?\s*(#.*)?$", line)
             or re.search(r"[{,]\s*path:\s*['\"]?([^'\",}#\s]*)", line))  # with: { path: site }
        if m:
            return "/".join(p for p in m.group(1).strip().split("/") if p not in ("", "."))
    return ""


def indent(line):
    return len(line) - len(line.lstrip(" "))


def blocks(lines, level):
    """(head line, following lines) for each line at exactly `level` of indentation."""
    out = []
    for line in lines:
        if line.strip() and not line.lstrip().startswith("#") and indent(line) == level:
            out.append((line, []))
        elif out:
            out[-1][1].append(line)
    return out


def workflow_jobs(text):
    """(job id, body) of each job under a block-style `jobs:`; one job "build" holding the whole
    text when the jobs cannot be read (flow style), so a run still has a job to report."""
    lines = text.splitlines()
    at = next((i for i, line in enumerate(lines) if re.match(r"^(jobs|\"jobs\"|'jobs'):\s*(#.*)?$", line)), None)
    if at is None:
        return [("build", text)]
    body = []
    for line in lines[at + 1:]:
        if line.strip() and indent(line) == 0:
            break
        body.append(line)
    level = min((indent(line) for line in body if line.strip()), default=0)
    jobs = [(head.strip().rstrip(":").strip("'\""), "\n".join(rest)) for head, rest in blocks(body, level)
            if re.match(r"^\s*[\w'\"-]+:\s*(#.*)?$", head)]
    return jobs or [("build", text)]


def workflow_steps(body):
    """Each step of a job as text, its leading "-" blanked so its keys align."""
    lines = body.splitlines()
    at = next((i for i, line in enumerate(lines) if re.match(r"^\s*steps:\s*(#.*)?$", line)), None)
    if at is None:
        return []
    rest = [line for line in lines[at + 1:]]
    dashes = [line for line in rest if re.match(r"^\s*-\s", line)]
    if not dashes:
        return []
    level, steps = indent(dashes[0]), []
    for line in rest:
        if line.strip() and indent(line) < level:
            break
        if indent(line) == level and re.match(r"^\s*-\s", line):
            steps.append(line.replace("-", " ", 1))
        elif steps:
            steps[-1] += "\n" + line
    return steps


def step_field(step, key):
    """A step's `key:` value (a `|` or `>` block scalar joined by newlines), or None."""
    lines = step.splitlines()
    level = indent(lines[0]) if lines else 0
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)" + key + r":\s*(.*?)\s*$", line)
        if m and len(m.group(1)) == level:
            value = m.group(2)
            if value[:1] in ("|", ">"):
                return "\n".join(l.strip() for l in lines[i + 1:] if indent(l) > level or not l.strip())
            return value.strip("'\"")
    return None


def step_name(step):
    """GitHub's label of a step: its name, else "Run " and its action or first script line."""
    name, uses, run = step_field(step, "name"), step_field(step, "uses"), step_field(step, "run")
    if name:
        return name
    if uses:
        return "Run " + uses
    return "Run " + ((run or "").strip().splitlines() or [""])[0]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    emu: Emulator = None

    def version_string(self):
        return "GitHub.com"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.status, self.ident, self.rate = 0, None, (0, 0, 0, 0)
        self.req_id = ":".join(secrets.token_hex(n).upper() for n in (2, 3, 3, 4, 4))
        self.url = urllib.parse.urlsplit(self.path)
        self.query = {k: v[0] for k, v in urllib.parse.parse_qs(self.url.query).items()}
        control = self.url.path.startswith("/_emulator/")
        try:
            self.body = self.read_body()
            self.control() if control else self.route()
        except Refusal as r:
            self.error(r.status, r.message, r.doc, **r.fields)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            traceback.print_exc()
            if not self.status:
                self.json(500, {"message": "Server Error"})
        finally:
            if not control:
                h = self.headers
                self.emu.record({"time": time.time(), "method": self.command, "path": self.path,
                                 "headers": [[k, v] for k, v in h.items()], "status": self.status,
                                 "client": self.client_address[0], "api_version": h.get("X-GitHub-Api-Version"),
                                 "accept_github_json": "application/vnd.github+json" in (h.get("Accept") or "")})

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():  # git past http.postBuffer
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    # ---- responses -------------------------------------------------------------------------------
    def send(self, status, body=b"", headers=()):
        self.status = status
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def json(self, status, obj, headers=()):
        if obj is None:
            return self.send(status, b"", headers)
        body = (json.dumps(obj, indent=2) + "\n").encode()
        self.send(status, body, [("Content-Type", "application/json; charset=utf-8")] + list(headers))

    def rest(self, status, obj, extra=(), rate=None):
        limit, remaining, reset, used = rate or self.rate
        h = [("X-GitHub-Media-Type", "github.v3; format=json"), ("X-GitHub-Api-Version-Selected", "2022-11-28"),
             ("X-RateLimit-Limit", str(limit)), ("X-RateLimit-Remaining", str(remaining)),
             ("X-RateLimit-Reset", str(reset)), ("X-RateLimit-Used", str(used)),
             ("X-RateLimit-Resource", "core"), ("X-GitHub-Request-Id", self.req_id)]
        if self.ident and self.ident["kind"] == "classic":  # classic PATs: their scopes come back on every response
            h.append(("X-OAuth-Scopes", ", ".join(self.ident["scopes"])))
        self.json(status, obj, h + list(extra))

    def error(self, status, message, doc=DOCS, extra=(), rate=None, **fields):
        # Current GitHub error bodies carry the status, as a string, after documentation_url.
        self.rest(status, {"message": message, **fields, "documentation_url": doc, "status": str(status)}, extra, rate)

    def text(self, status, message, headers=()):
        self.send(status, message.encode(), [("Content-Type", "text/plain; charset=utf-8")] + list(headers))

    def authenticate(self, git=False):
        """(credentials_sent, identity or None) from the Authorization header. The REST API takes
        Bearer or token; git over HTTPS only Basic with the token as the password
        (x-access-token:TOKEN; docs.github.com "Authenticating as a GitHub App installation":
        `git clone https://x-access-token:TOKEN@github.com/owner/repo.git`). To git, a Bearer
        or token header is no credential at all: it answers 401 and git asks for a password."""
        scheme, _, cred = (self.headers.get("Authorization") or "").strip().partition(" ")
        if not scheme:
            return False, None
        token = cred.strip() if scheme.lower() in ("bearer", "token") and not git else None
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(cred.strip()).decode().partition(":")
                token = password or None
            except ValueError:
                pass
        elif git:
            return False, None
        return True, self.emu.tokens.get(token)

    # ---- dispatch ----------------------------------------------------------------------------------
    def route(self):
        path = self.url.path
        self.sent_auth, self.ident = self.authenticate()
        fault = self.emu.take_fault(self.command, path)
        if fault:
            return self.inject(fault)
        if path.startswith("/pages/"):
            return self.pages_site(path)
        if path.startswith("/actions-results/"):
            return self.log_download(path)
        m = re.match(r"^/([^/]+)/([^/]+?)(?:\.git)?/(info/refs|git-upload-pack|git-receive-pack|HEAD|objects/.+)$",
                     path)
        if m:
            self.sent_auth, self.ident = self.authenticate(git=True)
            return self.git_http(*m.groups())
        self.api(path)

    def inject(self, f):
        now, who = int(time.time()), self.ident["id"] if self.ident else None
        kind, retry = f.get("kind", "error"), f.get("retry_after")
        status = int(f.get("status") or (403 if "rate-limit" in kind else 500))
        extra = [("Retry-After", str(int(retry)))] if retry is not None else []
        if kind == "primary-rate-limit":
            limit = self.emu.limits["authenticated" if who else "unauthenticated"]
            msg = f"API rate limit exceeded for user ID {who}." if who else (
                f"API rate limit exceeded for {self.client_address[0]}. (But here's the good news: Authenticated "
                "requests get a higher rate limit. Check out the documentation for more details.)")
            rate = (limit, 0, now + int(f.get("reset_in", 60)), limit)
            return self.error(status, f.get("message") or msg, DOC["primary"], extra, rate)
        self.rate = self.emu.count(f"user:{who}" if who else f"ip:{self.client_address[0]}", who is not None)
        if kind == "secondary-rate-limit":
            msg = ("You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If "
                   f"you reach out to GitHub Support for help, please include the request ID {self.req_id}.")
            return self.error(status, f.get("message") or msg, DOC["secondary"], extra)
        reasons = {500: "Server Error", 502: "Server Error", 503: "Service Unavailable", 401: "Bad credentials",
                   403: "Forbidden", 404: "Not Found", 409: "Conflict", 422: "Validation Failed"}
        self.error(status, f.get("message") or reasons.get(status, "Error"), extra=extra)

    # ---- REST --------------------------------------------------------------------------------------
    def api(self, path):
        if not self.headers.get("User-Agent"):
            return self.send(403, NO_USER_AGENT, [("Content-Type", "text/html")])
        key = f"user:{self.ident['id']}" if self.ident else f"ip:{self.client_address[0]}"
        self.rate = self.emu.count(key, self.ident is not None, charge=path != "/rate_limit")
        self.emu.count_call(self.call_scope(path))
        version = self.headers.get("X-GitHub-Api-Version")
        if version and version not in API_VERSIONS:
            raise Refusal(400, f"API version {version!r} is not supported.", DOC["versions"])
        if self.sent_auth and not self.ident:  # an unknown token fails even on public endpoints
            raise Refusal(401, "Bad credentials")
        limit, _, reset, used = self.rate
        if used > limit:
            who = f"user ID {self.ident['id']}" if self.ident else self.client_address[0]
            return self.error(403, f"API rate limit exceeded for {who}.", DOC["primary"], rate=(limit, 0, reset, limit))
        method = "GET" if self.command == "HEAD" else self.command
        m = re.match(r"^/repos/([^/]+)/([^/]+)(/.*)?$", path)
        if m:
            for verb, pattern, fn in (
                    ("GET", r"", self.get_repo), ("GET", r"/pages", self.get_pages),
                    ("POST", r"/pages", self.create_pages), ("PUT", r"/pages", self.update_pages),
                    ("GET", r"/pages/builds/latest", self.latest_build), ("POST", r"/pages/builds", self.request_build),
                    ("GET", r"/git/ref/(?P<ref>.+)", self.get_ref), ("GET", r"/commits/(?P<ref>.+)", self.get_commit),
                    ("GET", r"/actions/runs", self.list_runs),
                    ("GET", r"/actions/workflows/(?P<workflow>[^/]+)/runs", self.list_runs),
                    ("POST", r"/actions/runs/(?P<run_id>\d+)/rerun", self.rerun),
                    ("GET", r"/actions/runs/(?P<run_id>\d+)/jobs", self.list_jobs),
                    ("GET", r"/actions/jobs/(?P<job_id>\d+)/logs", self.job_logs),
                    ("POST", r"/actions/workflows/(?P<workflow>[^/]+)/dispatches", self.dispatch)):
                sub = re.fullmatch(pattern, m.group(3) or "")
                if sub and verb == method:
                    repo = self.emu.find(m.group(1), m.group(2))
                    # private looks absent; so does a repository created a moment ago
                    if not repo or not self.emu.can_read(self.ident, repo) or not self.emu.visible(repo):
                        raise Refusal(404, "Not Found", DOC["repo"])
                    return fn(repo, **sub.groupdict())
        for verb, pattern, fn in (("GET", r"/user", self.get_user), ("GET", r"/orgs/(?P<org>[^/]+)", self.get_org),
                                  ("POST", r"/user/repos", self.create_repo), ("GET", r"/rate_limit", self.rate_limit),
                                  ("POST", r"/orgs/(?P<org>[^/]+)/repos", self.create_repo)):
            sub = re.fullmatch(pattern, path)
            if sub and verb == method:
                return fn(**sub.groupdict())
        raise Refusal(404, "Not Found")

    def call_scope(self, path):
        """The repository ("owner/name", lower case) a REST call is about, or "" for none."""
        m = re.match(r"^/repos/([^/]+)/([^/]+)", path)
        if m:
            return f"{m.group(1)}/{m.group(2)}".lower()
        m = re.fullmatch(r"/(?:user|orgs/([^/]+))/repos", path)
        if m and self.command == "POST":
            try:
                name = str(json.loads(self.body or b"{}").get("name") or "")
            except (ValueError, AttributeError):
                return ""
            owner = m.group(1) or (self.ident["login"] if self.ident else "")
            return f"{owner}/{name}".lower()
        return ""

    def require_auth(self, doc):
        if self.ident is None:
            raise Refusal(401, "Requires authentication", doc)

    def require_admin(self, repo, doc):
        self.require_auth(doc)
        if not self.emu.can_admin(self.ident, repo):
            raise Refusal(403, "Must have admin rights to Repository.", doc)

    def json_body(self):
        try:
            body = json.loads(self.body or b"{}")
        except ValueError:
            raise Refusal(400, "Problems parsing JSON")
        if not isinstance(body, dict):
            raise Refusal(400, "Body should be a JSON object")
        return body

    def get_user(self):
        self.require_auth(DOC["user"])
        obj = self.emu.user_obj(self.ident["login"], self.ident["id"])
        self.rest(200, dict(obj, name=self.ident["login"], company=None, blog="", location=None, email=None, bio=None,
                            public_repos=0, followers=0, following=0, created_at="2020-01-01T00:00:00Z"))

    def get_org(self, org):
        acct = self.emu.account(org)
        if not acct or acct[2] != "Organization":
            raise Refusal(404, "Not Found", DOC["org"])
        obj = self.emu.user_obj(*acct)
        self.rest(200, dict(obj, description=None, name=acct[0], public_repos=0, created_at="2020-01-01T00:00:00Z"))

    def rate_limit(self):
        core = dict(zip(("limit", "remaining", "reset", "used"), self.rate), resource="core")
        self.rest(200, {"resources": {"core": core}, "rate": core})

    def create_repo(self, org=None):
        doc = DOC["org_repo" if org else "user_repo"]
        self.require_auth(doc)
        acct = self.emu.account(org) if org else (self.ident["login"], self.ident["id"], "User")
        if not acct or (org and acct[2] != "Organization"):
            raise Refusal(404, "Not Found", doc)
        body = self.json_body()
        if "name" not in body:
            raise Refusal(422, 'Invalid request.\n\n"name" wasn\'t supplied.', doc)
        for field, kind in (("name", str), ("description", str), ("private", bool), ("auto_init", bool)):
            if body.get(field) is not None and not isinstance(body[field], kind):
                raise Refusal(422, f"Invalid request.\n\nFor 'properties/{field}', {json.dumps(body[field])} is not "
                                   f"a {'string' if kind is str else 'boolean'}.", doc)
        # GitHub replaces each run of characters outside [A-Za-z0-9._-] with a single '-'.
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", (body["name"] or "").strip())
        problem = {"resource": "Repository", "code": "custom", "field": "name"}
        if not name:
            problem["code"] = "missing_field"
        elif len(name) > 100:
            problem["message"] = "name is too long (maximum is 100 characters)"
        elif name in (".", ".."):
            problem["message"] = "name is invalid"
        elif self.emu.find(acct[0], name):
            problem["message"] = "name already exists on this account"
        else:
            repo = self.emu.create_repo(acct[0], acct[2], name, body, self.ident)
            return self.rest(201, self.emu.repo_obj(repo, self.ident),
                             [("Location", f"{self.emu.base}/repos/{acct[0]}/{name}")])
        raise Refusal(422, "Repository creation failed.", doc, errors=[problem])

    def get_repo(self, repo):
        self.rest(200, self.emu.repo_obj(repo, self.ident))

    def pages_source(self, repo, body, doc, build_type, source):
        """Validated (build_type, source) from a create/update body."""
        build_type, source = body.get("build_type", build_type), body.get("source", source)
        if build_type not in ("legacy", "workflow") or not isinstance(source, dict):
            raise Refusal(422, "Invalid request.\n\nbuild_type must be \"legacy\" or \"workflow\".", doc)
        source = {"branch": source.get("branch") or repo["default_branch"], "path": source.get("path", "/")}
        if source["path"] not in ("/", "/docs"):
            raise Refusal(422, "Invalid request.\n\nsource.path must be \"/\" or \"/docs\".", doc)
        # Only a branch-built site needs its branch to exist (GitHub's wording), and for a moment
        # after the first push the Pages API does not see it yet.
        if build_type == "legacy" and not self.emu.branch_visible(repo, source["branch"], time.time()):
            raise Refusal(422, f"The {source['branch']} branch must exist before GitHub Pages can be built.", doc)
        return build_type, source

    def get_pages(self, repo):
        if not repo["pages"]:
            raise Refusal(404, "Not Found", DOC["pages"])
        self.rest(200, self.emu.pages_obj(repo, time.time()))

    def create_pages(self, repo):
        """Enabling a branch-built site builds it; a workflow-built site waits for a run."""
        doc = DOC["pages_create"]
        self.require_admin(repo, doc)
        body = self.json_body()
        if repo["pages"]:
            raise Refusal(409, "GitHub Pages is already enabled.", doc)
        if repo["private"]:  # a free plan publishes Pages from public repositories only
            raise Refusal(422, "Your current plan does not support GitHub Pages for this repository.", doc)
        build_type, source = self.pages_source(repo, body, doc, "legacy", {})
        with self.emu.lock:
            now = time.time()
            repo["pages"] = {"build_type": build_type, "source": source, "enabled_at": now,
                             "cname": None, "https_enforced": True}
            if build_type == "legacy":
                self.emu.queue_build(repo, now, self.ident["login"])
            self.emu.save()
        self.rest(201, self.emu.pages_obj(repo, time.time()))

    def update_pages(self, repo):
        """A new source or build type is recorded, and nothing is built: the site keeps serving
        its last build until a push or POST .../pages/builds."""
        doc = DOC["pages_update"]
        self.require_admin(repo, doc)
        body, pages = self.json_body(), repo["pages"]
        if not pages:
            raise Refusal(404, "Not Found", doc)
        parsed = self.pages_source(repo, body, doc, pages["build_type"], pages["source"])
        with self.emu.lock:
            pages.update(build_type=parsed[0], source=parsed[1])
            pages.update({k: body[k] for k in ("cname", "https_enforced") if k in body})
            self.emu.save()
        self.rest(204, None)

    def latest_build(self, repo):
        now = time.time()
        builds = self.emu.builds(repo, now)
        if not builds:
            raise Refusal(404, "Not Found", DOC["builds"])
        self.rest(200, self.emu.build_obj(repo, builds[-1], len(builds), now))

    def request_build(self, repo):
        """Builds the source branch's tip, queued behind a running build. A workflow-built site
        has nothing to build here (its runs deploy it): the answer is the same, nothing happens."""
        doc = DOC["request_build"]
        self.require_admin(repo, doc)
        if not repo["pages"]:
            raise Refusal(404, "Not Found", doc)
        with self.emu.lock:
            if repo["pages"]["build_type"] == "legacy":
                self.emu.queue_build(repo, time.time(), self.ident["login"])
            self.emu.save()
        url = f"{self.emu.base}/repos/{repo['owner']}/{repo['name']}/pages/builds/latest"
        self.rest(201, {"url": url, "status": "queued"})

    def get_ref(self, repo, ref):
        refs = self.emu.refs(repo)
        if not refs:  # git data of a repository without commits is a 409, not a 404
            raise Refusal(409, "Git Repository is empty.", DOC["ref"])
        if "refs/" + ref not in refs:
            raise Refusal(404, "Not Found", DOC["ref"])
        b, full, sha = self.emu.base, f"{repo['owner']}/{repo['name']}", refs["refs/" + ref]
        self.rest(200, {"ref": "refs/" + ref, "node_id": node_id("Ref", sha[:8]),
                        "url": f"{b}/repos/{full}/git/refs/{ref}",
                        "object": {"sha": sha, "type": "commit", "url": f"{b}/repos/{full}/git/commits/{sha}"}})

    def get_commit(self, repo, ref):
        if not self.emu.refs(repo):
            raise Refusal(409, "Git Repository is empty.", DOC["commit"])
        ref = urllib.parse.unquote(ref)
        sha = self.emu.out(repo, "rev-parse", "--verify", "--quiet", ref + "^{commit}") if ref[:1] != "-" else ""
        if not sha:
            raise Refusal(422, f"No commit found for SHA: {ref}", DOC["commit"])
        self.rest(200, self.emu.commit_obj(repo, sha))

    def list_runs(self, repo, workflow=None):
        now, q = time.time(), self.query
        chosen = repo["runs"]
        if workflow is not None:  # a workflow is named by its file name or its id
            chosen = [r for r in chosen if workflow in (r["path"].rsplit("/", 1)[-1], str(workflow_id(r["path"])))]
            tip = self.emu.refs(repo).get("refs/heads/" + repo["default_branch"])
            names = self.emu.out(repo, "ls-tree", "--name-only", tip, ".github/workflows/").splitlines() if tip else []
            if not chosen and workflow not in [n.rsplit("/", 1)[-1] for n in names]:
                raise Refusal(404, "Not Found", DOC["workflow_runs"])
        runs = [self.emu.run_obj(repo, r, now) for r in reversed(chosen)]
        for key, field in (("head_sha",) * 2, ("branch", "head_branch"), ("event",) * 2, ("status",) * 2):
            if key in q:  # status= also matches a conclusion ("success", "failure", ...)
                runs = [r for r in runs if q[key] in (r[field], r["conclusion"] if key == "status" else None)]
        per_page, page = max(1, min(100, int(q.get("per_page", 30)))), max(1, int(q.get("page", 1)))
        self.rest(200, {"total_count": len(runs), "workflow_runs": runs[(page - 1) * per_page:page * per_page]})

    def job_obj(self, repo, run, job, now):
        """A job as "List jobs for a workflow run" shows it: steps and conclusion once the run
        has completed; queued or in progress (no conclusion) before."""
        b, full = self.emu.base, f"{repo['owner']}/{repo['name']}"
        latest = job["attempt"] == run["attempt"]
        status, conclusion, done = self.emu.run_view(repo, run, now) if latest else ("completed", None, None)
        conclusion = job["conclusion"] if status == "completed" else None
        started = run["created"] + run["delay"] / 3 if status != "queued" else None
        steps = [{"name": st["name"], "status": "completed" if conclusion else "queued",
                  "conclusion": st["conclusion"] if conclusion else None, "number": n + 1,
                  "started_at": iso(started), "completed_at": iso(done)} for n, st in enumerate(job["steps"])]
        return {"id": job["id"], "run_id": run["id"], "run_url": f"{b}/repos/{full}/actions/runs/{run['id']}",
                "run_attempt": job["attempt"], "node_id": node_id("CheckRun", job["id"]), "head_sha": run["head_sha"],
                "head_branch": run["head_branch"], "url": f"{b}/repos/{full}/actions/jobs/{job['id']}",
                "html_url": f"{b}/{full}/actions/runs/{run['id']}/job/{job['id']}", "status": status,
                "conclusion": conclusion, "created_at": iso(run["created"]), "started_at": iso(started),
                "completed_at": iso(done), "name": job["name"], "steps": steps,
                "check_run_url": f"{b}/repos/{full}/check-runs/{job['id']}", "labels": ["ubuntu-latest"],
                "runner_id": 1, "runner_name": "GitHub Actions 1", "runner_group_id": 2,
                "runner_group_name": "GitHub Actions", "workflow_name": run["name"]}

    def list_jobs(self, repo, run_id):
        """https://docs.github.com/rest/actions/workflow-jobs#list-jobs-for-a-workflow-run: the
        latest attempt's jobs by default (filter=latest), every attempt's with filter=all."""
        run = next((r for r in repo["runs"] if str(r["id"]) == run_id), None)
        if not run:
            raise Refusal(404, "Not Found", DOC["jobs"])
        which = self.query.get("filter", "latest")
        if which not in ("latest", "all"):
            raise Refusal(422, f"Invalid request.\n\n{json.dumps(which)} is not a member of [\"latest\", \"all\"].", DOC["jobs"])
        now = time.time()
        jobs = [self.job_obj(repo, run, j, now) for j in run.get("jobs", [])
                if which == "all" or j["attempt"] == run["attempt"]]
        per_page, page = max(1, min(100, int(self.query.get("per_page", 30)))), max(1, int(self.query.get("page", 1)))
        self.rest(200, {"total_count": len(jobs), "jobs": jobs[(page - 1) * per_page:page * per_page]})

    def job_logs(self, repo, job_id):
        """https://docs.github.com/rest/actions/workflow-jobs#download-job-logs-for-a-workflow-run:
        302 to a plain-text log whose link "expires after 1 minute". Logs need a signed-in user
        here (stricter than reading runs); a job that has not completed has no log yet (404)."""
        self.require_auth(DOC["job_logs"])
        now = time.time()
        found = next(((r, j) for r in repo["runs"] for j in r.get("jobs", []) if str(j["id"]) == job_id), None)
        if not found or (found[1]["attempt"] == found[0]["attempt"] and self.emu.run_view(repo, found[0], now)[0] != "completed"):
            raise Refusal(404, "Not Found", DOC["job_logs"])
        expires = int(now) + 60
        signature = self.emu.sign(f"{job_id}:{expires}")
        location = f"{self.emu.base}/actions-results/{repo['owner']}/{repo['name']}/jobs/{job_id}/log.txt?se={expires}&sig={signature}"
        self.rest(302, None, [("Location", location)])

    def log_download(self, path):
        """The storage host of job logs: the signature in the URL is the only credential."""
        m = re.fullmatch(r"/actions-results/([^/]+)/([^/]+)/jobs/(\d+)/log\.txt", path)
        repo = self.emu.find(m.group(1), m.group(2)) if m else None
        if self.headers.get("Authorization"):
            return self.text(400, "Only one authentication mechanism allowed: the URL is signed; send no Authorization header.\n")
        expires, signature = self.query.get("se", ""), self.query.get("sig", "")
        if not m or not repo or not expires.isdigit() or signature != self.emu.sign(f"{m.group(3)}:{expires}"):
            return self.text(403, "AuthenticationFailed: Signature did not match.\n")
        if time.time() > int(expires):
            return self.text(403, "AuthenticationFailed: Signed expiry time has passed.\n")
        job = next((j for r in repo["runs"] for j in r.get("jobs", []) if str(j["id"]) == m.group(3)), None)
        if not job:
            return self.text(404, "BlobNotFound: The specified blob does not exist.\n")
        self.text(200, "\n".join(job["log"]) + "\n")

    def rerun(self, repo, run_id):
        doc = DOC["rerun"]
        self.require_admin(repo, doc)
        run = next((r for r in repo["runs"] if str(r["id"]) == run_id), None)
        if not run:
            raise Refusal(404, "Not Found", doc)
        now = time.time()
        if self.emu.run_view(repo, run, now)[0] != "completed":
            raise Refusal(403, "This workflow is already running", doc)
        with self.emu.lock:
            self.emu.begin_run(repo, run, now)
            self.emu.save()
        self.rest(201, {})

    def dispatch(self, repo, workflow):
        """A workflow_dispatch event: a run of the workflow as it is on `ref`, if it declares that
        trigger (GitHub: 422 "Workflow does not have 'workflow_dispatch' trigger")."""
        doc = DOC["dispatch"]
        self.require_admin(repo, doc)
        ref = str(self.json_body().get("ref") or "")
        sha = self.emu.refs(repo).get(ref if ref.startswith("refs/") else "refs/heads/" + ref)
        if not sha:
            raise Refusal(422, f"No ref found for: {ref}", doc)
        names = self.emu.out(repo, "ls-tree", "--name-only", sha, ".github/workflows/").splitlines()
        path = next((n for n in names if workflow in (n.rsplit("/", 1)[-1], str(workflow_id(n)))), None)
        if not path:
            raise Refusal(404, "Not Found", doc)
        text = self.emu.out(repo, "cat-file", "blob", f"{sha}:{path}")
        if not re.search(r"\bworkflow_dispatch\b", text):
            raise Refusal(422, "Workflow does not have 'workflow_dispatch' trigger", doc)
        with self.emu.lock:
            message = self.emu.out(repo, "log", "-1", "--format=%s", sha)
            self.emu.new_run(repo, path, text, sha, "workflow_dispatch", time.time(), self.ident["login"], message)
            self.emu.save()
        self.rest(204, None)

    # ---- git smart HTTP: git http-backend as a CGI -------------------------------------------------
    def git_http(self, owner, name, rest):
        repo, ident = self.emu.find(owner, name), self.ident
        push = rest == "git-receive-pack" or self.query.get("service") == "git-receive-pack"
        challenge = [("WWW-Authenticate", 'Basic realm="GitHub"')]
        if self.sent_auth and not ident:
            return self.text(401, "Invalid username or token. Password authentication is not supported for Git "
                                  "operations.\n", challenge)
        if (repo and not ident and not self.emu.can_read(None, repo)) or (push and not ident):
            return self.text(401, "", challenge)  # git asks for credentials and retries
        if not repo or not self.emu.can_read(ident, repo) or not self.emu.visible(repo):
            return self.text(404, "Repository not found.\n")  # also just after creation (lag)
        if push and not self.emu.can_admin(ident, repo):
            return self.text(403, f"Permission to {repo['owner']}/{repo['name']}.git denied to {ident['login']}.\n")
        reject_file = os.path.join(self.emu.tmp_dir, "reject-" + secrets.token_hex(8))
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(GIT_PROJECT_ROOT=self.emu.repos_dir, GIT_HTTP_EXPORT_ALL="1", REQUEST_METHOD=self.command,
                   PATH_INFO=f"/{repo['owner']}/{repo['name']}.git/{rest}", QUERY_STRING=self.url.query,
                   CONTENT_TYPE=self.headers.get("Content-Type") or "", CONTENT_LENGTH=str(len(self.body)),
                   REMOTE_ADDR=self.client_address[0], REMOTE_USER=ident["login"] if ident else "",
                   EMULATOR_TOKEN_SCOPES=",".join(ident["scopes"]) if ident else "",
                   EMULATOR_TOKEN_KIND=ident["kind"] if ident else "", EMULATOR_REJECT_FILE=reject_file)
        for header, var in (("Content-Encoding", "HTTP_CONTENT_ENCODING"), ("Git-Protocol", "HTTP_GIT_PROTOCOL")):
            if self.headers.get(header):
                env[var] = self.headers[header]  # http-backend inflates gzip request bodies itself
        writing = push and self.command == "POST"
        with self.emu.repo_lock(repo) if writing else threading.Lock():
            before = self.emu.refs(repo) if writing else None
            proc = subprocess.run(["git", "http-backend"], input=self.body, capture_output=True, env=env)
            after = self.emu.refs(repo) if writing else None
            if writing and after != before:
                self.emu.record_push(repo, before, after, ident["login"])
        head, sep, body = proc.stdout.partition(b"\r\n\r\n")
        if not sep:
            head, sep, body = proc.stdout.partition(b"\n\n")
        if proc.returncode or not sep:
            sys.stderr.write(proc.stderr.decode(errors="replace"))
            return self.text(500, "git http-backend failed\n")
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            k, _, v = line.partition(":")
            if k.lower() == "status":
                status = int(v.split()[0])
            elif k:
                headers.append((k, v.strip()))
        if os.path.exists(reject_file):
            with open(reject_file) as f:
                body = rewrite_report(body, f.read())
            os.unlink(reject_file)
        self.send(status, body, headers)

    # ---- GitHub Pages ------------------------------------------------------------------------------
    def pages_site(self, path):
        m = re.match(r"^/pages/([^/]+)/([^/]+)(/.*)?$", path)
        repo = self.emu.find(m.group(1), m.group(2)) if m else None
        build = self.emu.deployed(repo, time.time()) if repo else None
        html = [("Content-Type", "text/html; charset=utf-8")]
        if not build:  # not enabled, or nothing built yet: the previous tip stays live until then
            return self.send(404, PAGES_NO_SITE.encode(), html)
        rel = urllib.parse.unquote(m.group(3) or "")
        parts = [p for p in rel.split("/") if p not in ("", ".")]
        if ".." in parts:
            return self.send(404, PAGES_NO_FILE.encode(), html)
        sha, root = build["sha"], build["root"]

        def kind(p):
            return self.emu.out(repo, "cat-file", "-t", f"{sha}:{p}")

        target = "/".join(([root] if root else []) + parts)
        # Jekyll (a branch build without .nojekyll) does not publish files or folders named "_..."
        found = "" if build["jekyll"] and any(p.startswith("_") for p in parts) else kind(target)
        if found == "tree":
            if not rel.endswith("/"):  # Pages redirects a directory to its trailing-slash URL
                return self.send(301, b"", [("Location", path + "/")])
            target = (target + "/" if target else "") + "index.html"
            found = kind(target)
        elif not found and parts and "." not in parts[-1] and kind(target + ".html") == "blob":
            target, found = target + ".html", "blob"  # Pages serves /about from about.html
        status = 200
        if found != "blob":  # a site's own 404.html answers for missing files
            status, target = 404, "/".join(([root] if root else []) + ["404.html"])
            if kind(target) != "blob":
                return self.send(404, PAGES_NO_FILE.encode(), html)
        data = self.emu.git(repo, "cat-file", "blob", f"{sha}:{target}").stdout
        ext = os.path.splitext(target)[1].lower()
        ctype = CONTENT_TYPES.get(ext) or mimetypes.guess_type(target)[0] or "application/octet-stream"
        self.send(status, data, [("Content-Type", ctype), ("Cache-Control", "max-age=600"),
                                 ("Access-Control-Allow-Origin", "*"), ("ETag", f'"{sha[:12]}-{len(data):x}"'),
                                 ("X-GitHub-Request-Id", self.req_id)])

    # ---- control endpoints -------------------------------------------------------------------------
    def control(self):
        path, emu, verb = self.url.path, self.emu, self.command
        body = json.loads(self.body or b"{}") if verb == "POST" else None
        answer = (404, {"message": f"unknown control endpoint {verb} {path}"})
        with emu.lock:  # build the answer under the lock, send it after
            if path == "/_emulator/faults" and verb == "POST":
                for f in body if isinstance(body, list) else [body]:
                    re.compile(f.get("path", ""))
                    emu.faults.append(dict(f, method=f.get("method", "*"), path=f.get("path", ""),
                                           remaining=int(f.get("count", 1))))
                answer = (201, {"faults": list(emu.faults)})
            elif path in ("/_emulator/faults", "/_emulator/requests", "/_emulator/calls") and verb == "DELETE":
                {"faults": emu.faults, "requests": emu.requests, "calls": emu.calls}[path.rsplit("/", 1)[1]].clear()
                answer = (204, None)
            elif path == "/_emulator/calls":
                answer = (200, emu.calls_obj())
            elif path == "/_emulator/faults":
                answer = (200, {"faults": list(emu.faults)})
            elif path == "/_emulator/requests":
                answer = (200, list(emu.requests))
            elif path == "/_emulator/state":
                answer = (200, emu.snapshot())
            elif path == "/_emulator/config" and verb == "POST":
                for name in emu.delays:
                    emu.delays[name] = float(body.get(name, emu.delays[name]))
                emu.errored_builds = body.get("errored_builds", emu.errored_builds)
                for kind in ("authenticated", "unauthenticated"):
                    emu.limits[kind] = int(body.get("rate_limit_" + kind, emu.limits[kind]))
                answer = (200, {"delays": emu.delays, "errored_builds": emu.errored_builds, "rate_limits": dict(emu.limits)})
        self.json(*answer)

def main():
    parser = argparse.ArgumentParser(description="GitHub REST + git smart HTTP + Pages emulator (loopback only)")
    parser.add_argument("--root", required=True, help="state directory (bare repositories, state.json)")
    parser.add_argument("--port", type=int, default=0, help="0 = ephemeral")
    parser.add_argument("--token", action="append", default=[], help="TOKEN:LOGIN[:SCOPES], repeatable")
    parser.add_argument("--org", action="append", default=[], help="organisation every user may create repos in")
    scale = float(os.environ.get("GITHUB_EMULATOR_TIME_SCALE") or 1)
    parser.add_argument("--time-scale", type=float, default=scale, help="multiplies every default delay (1 = realistic)")
    parser.add_argument("--pages-delay", type=float, help="seconds a Pages branch build takes (default 20)")
    parser.add_argument("--first-build-delay", type=float, help="seconds a site's first build takes (default 45)")
    parser.add_argument("--workflow-delay", type=float, help="seconds a Pages workflow run takes (default 40)")
    parser.add_argument("--create-lag", type=float, help="seconds a new repository answers 404 (default 3)")
    parser.add_argument("--branch-lag", type=float, help="seconds the Pages API misses a new branch (default 2)")
    parser.add_argument("--cdn-lag", type=float, help="seconds the page lags a completed build (default 3)")
    parser.add_argument("--errored-builds", choices=("first", "none"), default="first",
                        help="first: each site's first branch build errors once (default)")
    parser.add_argument("--log", help="request log (default DIR/requests.jsonl)")
    args = parser.parse_args()
    Handler.emu = emu = Emulator(args)

    def bound(server):
        emu.base = f"http://127.0.0.1:{server.server_address[1]}"

    return loopback_peer.serve(Handler, args.port, on_bound=bound)

if __name__ == "__main__":
    sys.exit(main())
