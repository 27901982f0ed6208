#!/usr/bin/env python3
"""Test peer: a scripted OpenAI-compatible Chat Completions server (the Generator seam, docs/architecture.md).

Usage:
    python3 Tests/Peers/openai_stub.py [--port 0] [--key KEY] [--script FILE] [--log FILE]

Listens on 127.0.0.1 only and prints exactly ``READY <port>`` on stdout once
listening. Nothing else is written to stdout; request logging goes to stderr
only with --verbose.

Endpoints (the base URL may be given with or without /v1):
  POST /v1/chat/completions, /chat/completions   scripted completions
  GET  /v1/models, /models                       models the script mentions (or "stub-model")
  GET  /v1/models/ID, /models/ID                 one model, or 404 model_not_found
Anything else: 404 {"error":{"message":"Invalid URL (METHOD /path)",...}} as OpenAI answers.

Authentication: with --key, every API request must carry ``Authorization: Bearer KEY``;
otherwise 401 with OpenAI's error object.

Each completion request is validated as OpenAI validates it (400 with the error object
naming ``param``). Only valid requests consume a script step.

Script (--script FILE, or POST /_peer/script): {"steps":[step, ...], "default": step,
"models": ["id", ...], "server": NAME, "vision": bool} (a bare JSON array is taken as the steps).

"server" makes the stub refuse what that OpenAI-compatible server refuses, in its words, with
its status, before any step is consumed (see SERVER_REFUSALS below): "openai" (the default),
"llama-cpp-python", "vllm" or "ollama". "vision": false refuses image parts (vLLM's default
here, since most models it serves are text-only). When the steps are
exhausted, "default" is used; without one the answer is 500 "openai_stub: script exhausted".
Step kinds:
  {"content": "..." | any JSON}             200 chat.completion, finish_reason "stop"
  {"tool_calls":[{"name":..,"arguments":{..}|"raw"}], "content"?}   finish_reason "tool_calls"
  {"finish_reason":"length","content":".."} truncated answer (any finish_reason may be forced)
  {"refusal": "..."}                        content null, message.refusal set
  {"status":429,"retry_after":1}            rate limit (add "quota":true for insufficient_quota)
  {"status":500} / {"status":503} / {"status":502}   server errors as OpenAI sends them
  {"status":400,"param":"tools","message":".."}       any 4xx error object
  {"raw":"..","status":200,"content_type":"application/json"}  that exact body
  {"delay":S}  combinable: sleep S seconds before answering
  {"hang":true} never answer (held up to 600 s or until the client goes away)
  {"expect":{"has_tools":bool,"response_format":"json_schema"|"json_object"|"text"|"none",
             "last_user_contains":"..","tool_result_contains":"..","system_contains":"..",
             "model":".."}}  combinable: mismatch -> 400 "openai_stub: expectation failed: ..."
  Optional on any step: "model" (response model), "message"/"type"/"param"/"code" (error
  object fields), "headers" (extra response headers), "usage" (override usage object).

Record (memory + one JSON line per request in --log), for every API request (valid or not):
    {"t", "method", "path", "headers", "body": parsed JSON or raw text, "status",
     "step": index consumed or null, "source": "steps"|"default"|null}
Control endpoints (never recorded, never authenticated):
  POST   /_peer/script     replace the script, reset the step counter
  GET    /_peer/script     {"script":..., "next_step": N}
  GET    /_peer/requests   JSON array of recorded requests
  DELETE /_peer/requests   clear the record

Python 3.11 standard library only.
"""

import argparse
import json
import math
import random
import re
import select
import socket
import string
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler

import loopback_peer

HANG_LIMIT_SECONDS = 600.0
MAX_BODY = 64 * 1024 * 1024
ROLES = ("system", "developer", "user", "assistant", "tool")
ORG = "org-stub"

# Request parameters the Chat Completions endpoint accepts; anything else is
# rejected with "Unrecognized request argument supplied: X", as OpenAI does.
KNOWN_PARAMS = {
    "messages", "model", "audio", "frequency_penalty", "function_call", "functions",
    "logit_bias", "logprobs", "max_completion_tokens", "max_tokens", "metadata",
    "modalities", "n", "parallel_tool_calls", "prediction", "presence_penalty",
    "prompt_cache_key", "reasoning_effort", "response_format", "safety_identifier", "seed",
    "service_tier", "stop", "store", "stream", "stream_options", "temperature",
    "tool_choice", "tools", "top_logprobs", "top_p", "user", "verbosity",
    "web_search_options",
}

NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


# --------------------------------------------------------------------------
# errors

class ApiError(Exception):
    def __init__(self, status, message, type_="invalid_request_error", param=None, code=None,
                 headers=None):
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
        self.headers = headers or {}


def tname(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a decimal"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    if isinstance(v, dict):
        return "an object"
    return "an unknown value"


def supported(values):
    q = ["'%s'" % v for v in values]
    if len(q) == 1:
        return q[0]
    if len(q) == 2:
        return "%s and %s" % (q[0], q[1])
    return "%s, and %s" % (", ".join(q[:-1]), q[-1])


def e_type(param, expected, got):
    return ApiError(400, "Invalid type for '%s': expected %s, but got %s instead." % (param, expected, tname(got)),
                    param=param, code="invalid_type")


def e_missing(param):
    return ApiError(400, "Missing required parameter: '%s'." % param, param=param,
                    code="missing_required_parameter")


def e_value(param, value, values):
    return ApiError(400, "Invalid value: '%s'. Supported values are: %s." % (value, supported(values)),
                    param=param, code="invalid_value")


def e_empty(param):
    return ApiError(400, "Invalid '%s': empty array. Expected an array with minimum length 1, but got an empty array instead." % param,
                    param=param, code="empty_array")


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# --------------------------------------------------------------------------
# request validation (what api.openai.com checks before running a model)

def text_of(content):
    """Text of a message content (string or array of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for p in content:
            if isinstance(p, dict):
                for k in ("text", "refusal"):
                    if isinstance(p.get(k), str):
                        out.append(p[k])
        return "\n".join(out)
    return ""


PART_TYPES = {
    "system": ("text",),
    "developer": ("text",),
    "user": ("text", "image_url", "input_audio", "file"),
    "assistant": ("text", "refusal"),
    "tool": ("text",),
}


def validate_content(i, role, content):
    p = "messages[%d].content" % i
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise e_type(p, "one of a string or array of objects", content)
    allowed = PART_TYPES[role]
    for j, part in enumerate(content):
        pp = "%s[%d]" % (p, j)
        if not isinstance(part, dict):
            raise e_type(pp, "an object", part)
        if "type" not in part:
            raise e_missing(pp + ".type")
        t = part["type"]
        if not isinstance(t, str):
            raise e_type(pp + ".type", "a string", t)
        if t not in allowed:
            raise e_value(pp + ".type", t, allowed)
        if t == "text":
            if "text" not in part:
                raise e_missing(pp + ".text")
            if not isinstance(part["text"], str):
                raise e_type(pp + ".text", "a string", part["text"])
        elif t == "refusal":
            if not isinstance(part.get("refusal"), str):
                raise e_missing(pp + ".refusal") if "refusal" not in part else e_type(pp + ".refusal", "a string", part["refusal"])
        elif t == "image_url":
            iu = part.get("image_url")
            if not isinstance(iu, dict):
                raise e_missing(pp + ".image_url") if iu is None else e_type(pp + ".image_url", "an object", iu)
            if not isinstance(iu.get("url"), str):
                raise e_missing(pp + ".image_url.url")


def validate_tool_calls(i, calls):
    p = "messages[%d].tool_calls" % i
    if not isinstance(calls, list):
        raise e_type(p, "an array", calls)
    if not calls:
        raise e_empty(p)
    ids = []
    for j, c in enumerate(calls):
        cp = "%s[%d]" % (p, j)
        if not isinstance(c, dict):
            raise e_type(cp, "an object", c)
        for k in ("id", "type", "function"):
            if k not in c:
                raise e_missing("%s.%s" % (cp, k))
        if not isinstance(c["id"], str):
            raise e_type(cp + ".id", "a string", c["id"])
        if c["type"] != "function":
            if not isinstance(c["type"], str):
                raise e_type(cp + ".type", "a string", c["type"])
            raise e_value(cp + ".type", c["type"], ("function",))
        f = c["function"]
        if not isinstance(f, dict):
            raise e_type(cp + ".function", "an object", f)
        for k in ("name", "arguments"):
            if k not in f:
                raise e_missing("%s.function.%s" % (cp, k))
            if not isinstance(f[k], str):
                raise e_type("%s.function.%s" % (cp, k), "a string", f[k])
        ids.append(c["id"])
    return ids


def validate_messages(msgs):
    if not isinstance(msgs, list):
        raise e_type("messages", "an array", msgs)
    if not msgs:
        raise e_empty("messages")
    pending = []        # tool_call_ids of the last assistant message still unanswered
    answerable = None   # ids of the assistant message the current tool run answers
    pending_from = None
    for i, m in enumerate(msgs):
        mp = "messages[%d]" % i
        if not isinstance(m, dict):
            raise e_type(mp, "an object", m)
        if "role" not in m:
            raise e_missing(mp + ".role")
        role = m["role"]
        if not isinstance(role, str):
            raise e_type(mp + ".role", "a string", role)
        if role not in ROLES:
            raise e_value(mp + ".role", role, ROLES)
        if "name" in m and not isinstance(m["name"], str):
            raise e_type(mp + ".name", "a string", m["name"])

        if role != "tool" and pending:
            raise ApiError(400, "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. "
                                "The following tool_call_ids did not have response messages: %s" % ", ".join(pending),
                           param="messages.[%d].role" % pending_from)

        if role in ("system", "developer", "user"):
            if "content" not in m:
                raise e_missing(mp + ".content")
            validate_content(i, role, m["content"])
            answerable = None
        elif role == "assistant":
            calls = m.get("tool_calls")
            content = m.get("content")
            if calls is None and content is None and m.get("function_call") is None:
                raise e_missing(mp + ".content")
            if content is not None:
                validate_content(i, role, content)
            if calls is not None:
                ids = validate_tool_calls(i, calls)
                pending = list(ids)
                answerable = set(ids)
                pending_from = i
            else:
                answerable = None
        else:  # tool
            if answerable is None:
                raise ApiError(400, "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
                               param="messages.[%d].role" % i)
            if "tool_call_id" not in m:
                raise e_missing(mp + ".tool_call_id")
            tcid = m["tool_call_id"]
            if not isinstance(tcid, str):
                raise e_type(mp + ".tool_call_id", "a string", tcid)
            if "content" not in m:
                raise e_missing(mp + ".content")
            validate_content(i, role, m["content"])
            if tcid not in answerable:
                raise ApiError(400, "Invalid parameter: 'tool_call_id' of '%s' not found in 'tool_calls' of previous message." % tcid,
                               param="messages.[%d].tool_call_id" % i)
            if tcid in pending:
                pending.remove(tcid)
    if pending:
        raise ApiError(400, "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. "
                            "The following tool_call_ids did not have response messages: %s" % ", ".join(pending),
                       param="messages.[%d].role" % pending_from)


def strict_schema_problem(schema, path=()):
    """The first rule of Structured Outputs' strict mode the schema breaks, or None."""
    if not isinstance(schema, dict):
        return None
    t = schema.get("type")
    types = t if isinstance(t, list) else [t]
    if "object" in types or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            return "In context=%r, 'additionalProperties' is required to be supplied and to be false." % (tuple(path),)
        props = schema.get("properties") or {}
        req = schema.get("required")
        req = req if isinstance(req, list) else []
        missing = [k for k in props if k not in req]
        if missing:
            return ("In context=%r, 'required' is required to be supplied and to be an array including every key in properties. Missing '%s'."
                    % (tuple(path), missing[0]))
        for k, sub in props.items():
            prob = strict_schema_problem(sub, path + ("properties", k))
            if prob:
                return prob
    if isinstance(schema.get("items"), dict):
        prob = strict_schema_problem(schema["items"], path + ("items",))
        if prob:
            return prob
    for key in ("anyOf",):
        for n, sub in enumerate(schema.get(key) or []):
            prob = strict_schema_problem(sub, path + (key, str(n)))
            if prob:
                return prob
    for key in ("$defs", "definitions"):
        for name, sub in (schema.get(key) or {}).items():
            prob = strict_schema_problem(sub, path + (key, name))
            if prob:
                return prob
    return None


def validate_response_format(rf, msgs):
    if not isinstance(rf, dict):
        raise e_type("response_format", "an object", rf)
    if "type" not in rf:
        raise e_missing("response_format.type")
    t = rf["type"]
    types = ("json_object", "json_schema", "text")
    if not isinstance(t, str):
        raise e_type("response_format.type", "a string", t)
    if t not in types:
        raise e_value("response_format.type", t, types)
    if t == "json_object":
        if not any("json" in text_of(m.get("content")).lower() for m in msgs if isinstance(m, dict)):
            raise ApiError(400, "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
                           param="messages")
    if t == "json_schema":
        if "json_schema" not in rf:
            raise e_missing("response_format.json_schema")
        js = rf["json_schema"]
        if not isinstance(js, dict):
            raise e_type("response_format.json_schema", "an object", js)
        if "name" not in js:
            raise e_missing("response_format.json_schema.name")
        name = js["name"]
        if not isinstance(name, str):
            raise e_type("response_format.json_schema.name", "a string", name)
        if not NAME_RE.match(name):
            raise ApiError(400, "Invalid 'response_format.json_schema.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                           param="response_format.json_schema.name", code="invalid_value")
        if "description" in js and not isinstance(js["description"], str):
            raise e_type("response_format.json_schema.description", "a string", js["description"])
        if "schema" in js and not isinstance(js["schema"], dict):
            raise e_type("response_format.json_schema.schema", "an object", js["schema"])
        if "strict" in js and js["strict"] is not None and not isinstance(js["strict"], bool):
            raise e_type("response_format.json_schema.strict", "a boolean", js["strict"])
        if js.get("strict") is True:
            schema = js.get("schema") or {}
            if schema.get("type") != "object":
                raise ApiError(400, "Invalid schema for response_format '%s': schema must be a JSON Schema of 'type: \"object\"', got 'type: \"%s\"'."
                               % (name, schema.get("type")), param="response_format")
            prob = strict_schema_problem(schema)
            if prob:
                raise ApiError(400, "Invalid schema for response_format '%s': %s" % (name, prob), param="response_format")


def validate_tools(tools):
    if not isinstance(tools, list):
        raise e_type("tools", "an array", tools)
    if not tools:
        raise e_empty("tools")
    names = []
    for i, t in enumerate(tools):
        p = "tools[%d]" % i
        if not isinstance(t, dict):
            raise e_type(p, "an object", t)
        if "type" not in t:
            raise e_missing(p + ".type")
        if t["type"] != "function":
            if not isinstance(t["type"], str):
                raise e_type(p + ".type", "a string", t["type"])
            raise e_value(p + ".type", t["type"], ("function", "custom"))
        if "function" not in t:
            raise e_missing(p + ".function")
        f = t["function"]
        if not isinstance(f, dict):
            raise e_type(p + ".function", "an object", f)
        if "name" not in f:
            raise e_missing(p + ".function.name")
        name = f["name"]
        if not isinstance(name, str):
            raise e_type(p + ".function.name", "a string", name)
        if not NAME_RE.match(name):
            raise ApiError(400, "Invalid '%s.function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'." % p,
                           param=p + ".function.name", code="invalid_value")
        if "description" in f and not isinstance(f["description"], str):
            raise e_type(p + ".function.description", "a string", f["description"])
        if "parameters" in f and not isinstance(f["parameters"], dict):
            raise e_type(p + ".function.parameters", "an object", f["parameters"])
        if "strict" in f and f["strict"] is not None and not isinstance(f["strict"], bool):
            raise e_type(p + ".function.strict", "a boolean", f["strict"])
        if f.get("strict") is True:
            prob = strict_schema_problem(f.get("parameters") or {"type": "object", "properties": {}})
            if prob:
                raise ApiError(400, "Invalid schema for function '%s': %s" % (name, prob),
                               param=p + ".function.parameters", code="invalid_function_parameters")
        names.append(name)
    return names


def validate_request(body):
    if not isinstance(body, dict):
        raise ApiError(400, "Invalid type for request body: expected an object, but got %s instead." % tname(body))
    for k in body:
        if k not in KNOWN_PARAMS:
            raise ApiError(400, "Unrecognized request argument supplied: %s" % k)
    if "model" not in body or body["model"] is None:
        raise ApiError(400, "you must provide a model parameter")
    if not isinstance(body["model"], str):
        raise e_type("model", "a string", body["model"])
    if "messages" not in body:
        raise e_missing("messages")
    validate_messages(body["messages"])
    msgs = body["messages"]

    tool_names = None
    if body.get("tools") is not None:
        tool_names = validate_tools(body["tools"])
    if "tool_choice" in body and body["tool_choice"] is not None:
        tc = body["tool_choice"]
        if tool_names is None:
            raise ApiError(400, "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
                           param="tool_choice")
        if isinstance(tc, str):
            if tc not in ("none", "auto", "required"):
                raise e_value("tool_choice", tc, ("none", "auto", "required"))
        elif isinstance(tc, dict):
            if tc.get("type") != "function":
                raise e_value("tool_choice.type", tc.get("type"), ("function",)) if "type" in tc else e_missing("tool_choice.type")
            fn = tc.get("function")
            if not isinstance(fn, dict):
                raise e_missing("tool_choice.function") if fn is None else e_type("tool_choice.function", "an object", fn)
            if not isinstance(fn.get("name"), str):
                raise e_missing("tool_choice.function.name")
            if fn["name"] not in tool_names:
                raise ApiError(400, "Invalid value for 'tool_choice': function '%s' is not among the provided 'tools'." % fn["name"],
                               param="tool_choice")
        else:
            raise e_type("tool_choice", "one of a string or object", tc)
    if "parallel_tool_calls" in body and body["parallel_tool_calls"] is not None and not isinstance(body["parallel_tool_calls"], bool):
        raise e_type("parallel_tool_calls", "a boolean", body["parallel_tool_calls"])

    if body.get("response_format") is not None:
        validate_response_format(body["response_format"], msgs)

    for key, lo, hi in (("temperature", 0, 2), ("top_p", 0, 1),
                        ("frequency_penalty", -2, 2), ("presence_penalty", -2, 2)):
        if key in body and body[key] is not None:
            v = body[key]
            if not is_num(v):
                raise e_type(key, "a decimal", v)
            if v > hi:
                raise ApiError(400, "Invalid '%s': decimal above maximum value. Expected a value <= %s, but got %s instead." % (key, hi, v),
                               param=key, code="decimal_above_max_value")
            if v < lo:
                raise ApiError(400, "Invalid '%s': decimal below minimum value. Expected a value >= %s, but got %s instead." % (key, lo, v),
                               param=key, code="decimal_below_min_value")
    for key in ("max_tokens", "max_completion_tokens", "n", "seed"):
        if key in body and body[key] is not None:
            v = body[key]
            if not is_int(v):
                raise e_type(key, "an integer", v)
            if key != "seed" and v < 1:
                raise ApiError(400, "Invalid '%s': integer below minimum value. Expected a value >= 1, but got %d instead." % (key, v),
                               param=key, code="integer_below_min_value")
    for key in ("stream", "store", "logprobs"):
        if key in body and body[key] is not None and not isinstance(body[key], bool):
            raise e_type(key, "a boolean", body[key])
    if body.get("stream") is True:
        raise ApiError(400, "openai_stub: stream=true is not supported by this test peer", param="stream",
                       code="openai_stub_unsupported")


# --------------------------------------------------------------------------
# script

def rand_id(n, alphabet=string.ascii_letters + string.digits):
    return "".join(random.choice(alphabet) for _ in range(n))


def check_expect(expect, body):
    """List of mismatch descriptions (empty when the request matches)."""
    problems = []
    msgs = body.get("messages") or []
    if "has_tools" in expect:
        has = bool(body.get("tools"))
        if has != bool(expect["has_tools"]):
            problems.append("has_tools is %s, expected %s" % (str(has).lower(), str(bool(expect["has_tools"])).lower()))
    if "response_format" in expect:
        rf = body.get("response_format")
        got = rf.get("type") if isinstance(rf, dict) else "none"
        want = expect["response_format"] or "none"
        if got != want:
            problems.append("response_format.type is %r, expected %r" % (got, want))
    if "has_images" in expect and has_image_parts(body) != bool(expect["has_images"]):
        problems.append("has_images is %s, expected %s" % (str(has_image_parts(body)).lower(), str(bool(expect["has_images"])).lower()))
    if "max_tokens" in expect and body.get("max_tokens") != expect["max_tokens"]:
        problems.append("max_tokens is %r, expected %r" % (body.get("max_tokens"), expect["max_tokens"]))
    if "model" in expect and body.get("model") != expect["model"]:
        problems.append("model is %r, expected %r" % (body.get("model"), expect["model"]))
    if "last_user_contains" in expect:
        users = [m for m in msgs if isinstance(m, dict) and m.get("role") == "user"]
        last = text_of(users[-1].get("content")) if users else None
        if last is None or expect["last_user_contains"] not in last:
            problems.append("last user message does not contain %r (it is %r)"
                            % (expect["last_user_contains"], (last or "")[:200]))
    if "tool_result_contains" in expect:
        tools = [text_of(m.get("content")) for m in msgs if isinstance(m, dict) and m.get("role") == "tool"]
        if not any(expect["tool_result_contains"] in t for t in tools):
            problems.append("no tool message contains %r (%d tool messages)" % (expect["tool_result_contains"], len(tools)))
    if "system_contains" in expect:
        sys_text = "\n".join(text_of(m.get("content")) for m in msgs
                             if isinstance(m, dict) and m.get("role") in ("system", "developer"))
        if expect["system_contains"] not in sys_text:
            problems.append("no system/developer message contains %r" % expect["system_contains"])
    unknown = set(expect) - {"has_tools", "has_images", "max_tokens", "response_format", "model", "last_user_contains",
                             "tool_result_contains", "system_contains"}
    if unknown:
        problems.append("unknown expect keys %s" % sorted(unknown))
    return problems


# --------------------------------------------------------------------------
# other OpenAI-compatible servers: what they refuse, and how they say it

def has_image_parts(body):
    for m in body.get("messages") or []:
        if isinstance(m, dict) and isinstance(m.get("content"), list):
            if any(isinstance(p, dict) and p.get("type") == "image_url" for p in m["content"]):
                return True
    return False


def server_refusal(script, body):
    """(status, body) of the refusal the scripted server gives this request, or None.

    llama-cpp-python (llama_cpp.server, 0.3.x): its request model allows response_format types
    'text' and 'json_object' only, and its route error handler turns the pydantic validation
    error into HTTP 500 {"error": {"message", "type": "internal_server_error", ...}}, as reported
    in ggml-org/llama.cpp#23463 ("llama_cpp.server returns HTTP 500 instead of HTTP 422 when
    response_format type is json_schema"). It accepts tools but, without a function-calling chat
    format, answers in text (the steps script that).
    vLLM: without --enable-auto-tool-choice, a request with tools answers 400 {"object": "error",
    "message": "\"auto\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be
    set", "type": "BadRequestError", "param": null, "code": 400} (vllm-project/vllm#9986, PR #30613);
    image parts to a text-only model answer 400 "<model> is not a multimodal model None"
    (studio-dots-ai/dots.ocr#61 quotes the body).
    Ollama: tools to a model whose template has none answer 400 {"error": {"message": "<model> does
    not support tools", "type": "api_error", "param": null, "code": null}} (ollama/ollama#6027, #5793).
    """
    server = script.get("server") or "openai"
    model = body.get("model") or ""
    rf = body.get("response_format")
    images = has_image_parts(body)
    vision = script.get("vision", server != "vllm")
    if server == "llama-cpp-python":
        if isinstance(rf, dict) and rf.get("type") not in (None, "text", "json_object"):
            message = ("1 validation error for CreateChatCompletionRequest\nresponse_format.type\n"
                       "  Input should be 'text' or 'json_object' [type=literal_error, input_value=%r, input_type=str]\n"
                       "    For further information visit https://errors.pydantic.dev/2.9/v/literal_error" % rf.get("type"))
            return 500, {"error": {"message": message, "type": "internal_server_error", "param": None, "code": None}}
    elif server == "vllm":
        if body.get("tools") and body.get("tool_choice") in (None, "auto"):
            return 400, {"object": "error", "message": "\"auto\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set",
                         "type": "BadRequestError", "param": None, "code": 400}
    elif server == "ollama":
        if body.get("tools"):
            return 400, {"error": {"message": "%s does not support tools" % model, "type": "api_error", "param": None, "code": None}}
    if images and not vision:
        if server == "vllm":
            return 400, {"object": "error", "message": "%s is not a multimodal model None" % model,
                         "type": "BadRequestError", "param": None, "code": 400}
        return 400, {"error": {"message": "Invalid content type. image_url is only supported by certain models.",
                               "type": "invalid_request_error", "param": "messages", "code": None}}
    return None


def normalize_script(obj):
    if isinstance(obj, list):
        obj = {"steps": obj}
    if not isinstance(obj, dict):
        raise ValueError("script must be a JSON object {\"steps\":[...], \"default\": {...}}")
    steps = obj.get("steps", [])
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        raise ValueError("script 'steps' must be an array of objects")
    if "default" in obj and obj["default"] is not None and not isinstance(obj["default"], dict):
        raise ValueError("script 'default' must be an object")
    if "models" in obj and not (isinstance(obj["models"], list) and all(isinstance(m, str) for m in obj["models"])):
        raise ValueError("script 'models' must be an array of strings")
    if obj.get("server", "openai") not in ("openai", "llama-cpp-python", "vllm", "ollama"):
        raise ValueError("script 'server' must be openai, llama-cpp-python, vllm or ollama")
    return obj


class State:
    def __init__(self, key, log_path, script):
        self.lock = threading.Lock()
        self.key = key
        self.log_path = log_path
        self.script = script
        self.next_step = 0
        self.records = []

    def set_script(self, script):
        with self.lock:
            self.script = script
            self.next_step = 0

    def take_step(self):
        """(step, index, source) or (None, index, None) when exhausted without default."""
        with self.lock:
            i = self.next_step
            self.next_step += 1
            steps = self.script.get("steps", [])
            if i < len(steps):
                return steps[i], i, "steps"
            d = self.script.get("default")
            if d is not None:
                return d, i, "default"
            return None, i, None

    def models(self):
        with self.lock:
            s = self.script
            ids = list(s.get("models") or [])
            for st in list(s.get("steps", [])) + ([s["default"]] if s.get("default") else []):
                for m in (st.get("model"), (st.get("expect") or {}).get("model")):
                    if isinstance(m, str) and m not in ids:
                        ids.append(m)
        return ids or ["stub-model"]

    def record(self, entry):
        with self.lock:
            self.records.append(entry)

    def log(self, entry):
        if not self.log_path:
            return
        with self.lock:
            with open(self.log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry, ensure_ascii=False) + "\n")
                f.flush()


# --------------------------------------------------------------------------
# responses

def ratelimit_headers(remaining_requests=4999, reset_requests="12ms"):
    return {
        "x-ratelimit-limit-requests": "5000",
        "x-ratelimit-limit-tokens": "4000000",
        "x-ratelimit-remaining-requests": str(remaining_requests),
        "x-ratelimit-remaining-tokens": "3999000" if remaining_requests else "0",
        "x-ratelimit-reset-requests": reset_requests,
        "x-ratelimit-reset-tokens": "0s" if remaining_requests else reset_requests,
    }


def estimate_tokens(text):
    return max(1, (len(text) + 3) // 4) if text else 0


def usage_for(body, completion_text):
    prompt = "\n".join(text_of(m.get("content")) for m in body.get("messages") or [] if isinstance(m, dict))
    pt = estimate_tokens(prompt) + 3 * len(body.get("messages") or [])
    ct = max(1, estimate_tokens(completion_text))
    return {
        "prompt_tokens": pt,
        "completion_tokens": ct,
        "total_tokens": pt + ct,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    }


def completion_from_step(step, body):
    """(status, json body) for a content / tool_calls / refusal step."""
    content = step.get("content")
    if content is not None and not isinstance(content, str):
        content = json.dumps(content)
    message = {"role": "assistant", "content": content, "refusal": step.get("refusal"), "annotations": []}
    finish = "stop"
    args_text = ""
    if step.get("tool_calls"):
        calls = []
        for c in step["tool_calls"]:
            args = c.get("arguments", {})
            if not isinstance(args, str):
                args = json.dumps(args, separators=(",", ":"))
            args_text += args
            calls.append({"id": c.get("id") or "call_" + rand_id(24), "type": "function",
                          "function": {"name": c.get("name", "write_file"), "arguments": args}})
        message["tool_calls"] = calls
        finish = "tool_calls"
    elif content is None and step.get("refusal") is None:
        message["content"] = ""
    finish = step.get("finish_reason") or finish
    return {
        "id": "chatcmpl-" + rand_id(29),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": step.get("model") or body.get("model"),
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": step.get("usage") or usage_for(body, (message["content"] or "") + (message["refusal"] or "") + args_text),
        "service_tier": "default",
        "system_fingerprint": "fp_stub0001",
    }


def error_from_step(step, body):
    """ApiError (or raw tuple for 502) for a step with a non-200 status."""
    status = int(step["status"])
    model = body.get("model") or "stub-model"
    headers = dict(step.get("headers") or {})
    ra = step.get("retry_after")
    if ra is not None:
        headers["Retry-After"] = str(int(math.ceil(float(ra))))
        if float(ra) != int(math.ceil(float(ra))):
            headers["retry-after-ms"] = str(int(float(ra) * 1000))
    if status == 429:
        wait = "%ss" % (ra if ra is not None else 1)
        headers.update(ratelimit_headers(remaining_requests=0, reset_requests=wait))
        if step.get("quota"):
            d = ("You exceeded your current quota, please check your plan and billing details. For more information on this error, "
                 "read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.", "insufficient_quota", "insufficient_quota")
        else:
            d = ("Rate limit reached for %s in organization %s on requests per min (RPM): Limit 3, Used 3, Requested 1. "
                 "Please try again in %s. Visit https://platform.openai.com/account/rate-limits to learn more." % (model, ORG, wait),
                 "requests", "rate_limit_exceeded")
    elif status == 500:
        d = ("The server had an error while processing your request. Sorry about that!", "server_error", None)
    elif status == 503:
        d = ("The engine is currently overloaded, please try again later", "server_error", None)
    elif status >= 500:
        d = ("The server had an error while processing your request. Sorry about that!", "server_error", None)
    elif status == 401:
        d = ("Incorrect API key provided: sk-stub****. You can find your API key at https://platform.openai.com/account/api-keys.",
             "invalid_request_error", "invalid_api_key")
    elif status == 404:
        d = ("The model `%s` does not exist or you do not have access to it." % model, "invalid_request_error", "model_not_found")
    else:
        d = ("openai_stub: scripted %d error" % status, "invalid_request_error", None)
    return ApiError(status, step.get("message", d[0]), type_=step.get("type", d[1]),
                    param=step.get("param"), code=step.get("code", d[2]), headers=headers)


# --------------------------------------------------------------------------
# HTTP

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "openai-stub/1"
    state: State = None
    verbose = False

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("openai_stub: %s - %s\n" % (self.address_string(), fmt % args))

    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    break
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while True:
                        t = self.rfile.readline(65537)
                        if not t or t in (b"\r\n", b"\n"):
                            break
                    break
                total += size
                if total > MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length) if length > 0 else b""

    def send_bytes(self, status, data, content_type="application/json", headers=None, api=True):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        if api:
            self.send_header("x-request-id", "req_" + rand_id(32, "0123456789abcdef"))
            self.send_header("openai-version", "2020-10-01")
            self.send_header("openai-organization", ORG)
            self.send_header("openai-processing-ms", str(random.randint(100, 900)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()

    def send_json(self, status, obj, headers=None, api=True):
        self.send_bytes(status, (json.dumps(obj, indent=2) + "\n").encode("utf-8"), headers=headers, api=api)

    def hold_connection(self):
        self.close_connection = True
        deadline = time.monotonic() + HANG_LIMIT_SECONDS
        sock = self.connection
        while time.monotonic() < deadline:
            try:
                readable, _, _ = select.select([sock], [], [], 1.0)
                if readable:
                    data = sock.recv(65536, socket.MSG_PEEK)
                    if not data:
                        return
                    sock.recv(65536)
            except OSError:
                return

    # ---- dispatch -----------------------------------------------------------

    def handle_any(self):
        path = self.path.split("?", 1)[0]
        try:
            raw = self.read_body()
        except (ValueError, OSError) as e:
            self.send_json(413, {"error": {"message": str(e), "type": "invalid_request_error", "param": None, "code": None}})
            return
        if path.startswith("/_peer/"):
            self.handle_control(path, raw)
            return

        text = raw.decode("utf-8", errors="replace")
        try:
            parsed = json.loads(text)
            body_rec, parse_ok = parsed, True
        except ValueError:
            parsed, body_rec, parse_ok = None, text, False
        entry = {"t": time.time(), "method": self.command, "path": self.path,
                 "headers": {k: v for k, v in self.headers.items()},
                 "body": body_rec, "status": None, "step": None, "source": None}
        self.state.record(entry)

        def finish(status, obj=None, headers=None, raw_bytes=None, content_type="application/json"):
            entry["status"] = status
            self.state.log(entry)
            if raw_bytes is not None:
                self.send_bytes(status, raw_bytes, content_type=content_type, headers=headers)
            else:
                self.send_json(status, obj, headers=headers)

        p = path.rstrip("/")
        if p.startswith("/v1/"):
            p = p[3:]
        is_chat = p == "/chat/completions" and self.command == "POST"
        is_models = (p == "/models" or p.startswith("/models/")) and self.command == "GET"
        if not (is_chat or is_models):
            finish(404, {"error": {"message": "Invalid URL (%s %s)" % (self.command, path), "type": "invalid_request_error",
                                   "param": None, "code": None}})
            return

        # authentication comes first, as on api.openai.com
        if self.state.key is not None:
            auth = self.headers.get("Authorization")
            if not auth:
                finish(401, {"error": {"message": "You didn't provide an API key. You need to provide your API key in an Authorization header "
                                                  "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank "
                                                  "username) if you're accessing the API from your browser and are prompted for a username and "
                                                  "password. You can obtain an API key from https://platform.openai.com/account/api-keys.",
                                       "type": "invalid_request_error", "param": None, "code": None}})
                return
            given = auth[7:].strip() if auth.lower().startswith("bearer ") else auth
            if given != self.state.key:
                shown = (given[:3] + "*" * 4 + given[-4:]) if len(given) > 8 else "*" * len(given)
                finish(401, {"error": {"message": "Incorrect API key provided: %s. You can find your API key at "
                                                  "https://platform.openai.com/account/api-keys." % shown,
                                       "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}})
                return

        if is_models:
            models = self.state.models()
            objs = [{"id": m, "object": "model", "created": 1686935002, "owned_by": "openai-stub"} for m in models]
            if p == "/models":
                finish(200, {"object": "list", "data": objs}, headers=ratelimit_headers())
            else:
                mid = p[len("/models/"):]
                found = [o for o in objs if o["id"] == mid]
                if found:
                    finish(200, found[0])
                else:
                    finish(404, {"error": {"message": "The model '%s' does not exist" % mid, "type": "invalid_request_error",
                                           "param": "model", "code": "model_not_found"}})
            return

        # ---- chat completions ----
        if not parse_ok:
            finish(400, {"error": {"message": "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
                                              "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid "
                                              "JSON. If you have trouble figuring out how to fix this, please contact us through our help "
                                              "center at help.openai.com.)",
                                   "type": "invalid_request_error", "param": None, "code": None}})
            return
        try:
            validate_request(parsed)
        except ApiError as e:
            finish(e.status, e.body, headers=e.headers)
            return

        with self.state.lock:
            script = self.state.script
        refusal = server_refusal(script, parsed)
        if refusal is not None:
            finish(refusal[0], refusal[1])
            return

        step, idx, source = self.state.take_step()
        entry["step"], entry["source"] = idx, source
        if step is None:
            finish(500, {"error": {"message": "openai_stub: script exhausted (request #%d, no default step)" % idx,
                                   "type": "server_error", "param": None, "code": "openai_stub_script_exhausted"}})
            return

        problems = check_expect(step["expect"], parsed) if isinstance(step.get("expect"), dict) else []

        delay = step.get("delay")
        if delay:
            time.sleep(float(delay))

        if problems:
            finish(400, {"error": {"message": "openai_stub: expectation failed: step %d: %s" % (idx, "; ".join(problems)),
                                   "type": "invalid_request_error", "param": None, "code": "openai_stub_expectation_failed"}})
            return

        if step.get("hang"):
            self.state.log(entry)  # status stays null: never answered
            self.hold_connection()
            return

        try:
            if "raw" in step:
                raw_body = step["raw"] if isinstance(step["raw"], str) else json.dumps(step["raw"])
                finish(int(step.get("status", 200)), raw_bytes=raw_body.encode("utf-8"),
                       content_type=step.get("content_type", "application/json"), headers=step.get("headers"))
                return
            status = int(step.get("status", 200))
            if status == 502 and not any(k in step for k in ("message", "type", "code", "param")):
                html = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n"
                        "<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n")
                finish(502, raw_bytes=html.encode(), content_type="text/html", headers=step.get("headers"))
                return
            if status != 200:
                e = error_from_step(step, parsed)
                finish(e.status, e.body, headers=e.headers)
                return
            headers = ratelimit_headers()
            headers.update(step.get("headers") or {})
            finish(200, completion_from_step(step, parsed), headers=headers)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def handle_control(self, path, raw):
        st = self.state
        if path == "/_peer/requests":
            if self.command == "GET":
                with st.lock:
                    data = list(st.records)
                self.send_json(200, data, api=False)
                return
            if self.command == "DELETE":
                with st.lock:
                    n = len(st.records)
                    st.records.clear()
                self.send_json(200, {"ok": True, "cleared": n}, api=False)
                return
        elif path == "/_peer/script":
            if self.command == "POST":
                try:
                    script = normalize_script(json.loads(raw.decode("utf-8")))
                except ValueError as e:
                    self.send_json(400, {"ok": False, "error": str(e)}, api=False)
                    return
                st.set_script(script)
                self.send_json(200, {"ok": True, "steps": len(script.get("steps", [])),
                                     "default": script.get("default") is not None}, api=False)
                return
            if self.command == "GET":
                with st.lock:
                    out = {"script": st.script, "next_step": st.next_step}
                self.send_json(200, out, api=False)
                return
        self.send_json(404, {"ok": False, "error": "unknown control endpoint %s %s" % (self.command, path)}, api=False)

    do_POST = handle_any
    do_GET = handle_any
    do_PUT = handle_any
    do_DELETE = handle_any
    do_PATCH = handle_any


def main(argv=None):
    ap = argparse.ArgumentParser(description="Scripted OpenAI-compatible Chat Completions server (test peer)")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = ephemeral, default)")
    ap.add_argument("--key", default=None, help="require Authorization: Bearer KEY")
    ap.add_argument("--script", default=None, help="JSON script file {\"steps\":[...],\"default\":{...}}")
    ap.add_argument("--log", default=None, help="append one JSON line per API request to FILE")
    ap.add_argument("--verbose", action="store_true", help="log requests to stderr")
    args = ap.parse_args(argv)

    script = {"steps": []}
    if args.script:
        try:
            with open(args.script, encoding="utf-8") as f:
                script = normalize_script(json.load(f))
        except (OSError, ValueError) as e:
            sys.stderr.write("openai_stub: cannot load script %s: %s\n" % (args.script, e))
            return 2

    Handler.state = State(args.key, args.log, script)
    Handler.verbose = args.verbose
    return loopback_peer.serve(Handler, args.port)


if __name__ == "__main__":
    sys.exit(main())
