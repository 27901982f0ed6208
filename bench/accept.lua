-- wrk script for bench/accept: POSTs a valid task request, each one a new task.
--   BENCH_SECRET=... wrk -s bench/accept.lua http://127.0.0.1:PORT/request
-- Every request carries a distinct nonce (random per-run prefix, thread id, per-thread counter),
-- so the Handler spools a new file each time instead of answering from the duplicate path.
-- done() prints one machine-readable "BENCH key=value ..." line for bench/accept to parse.

local secret = os.getenv("BENCH_SECRET") or error("BENCH_SECRET is not set")
local threads = {}

-- BENCH_PACE_MS=50: each connection waits that long before each request (wrk's delay() hook),
-- so 50 connections offer about 1,000 req/s whatever the server's speed.
-- BENCH_JITTER=1: each pause is drawn uniformly from 0 to twice that instead (the same mean, so
-- the same offered load). With a fixed pause, connections answered in the same millisecond send
-- again in the same millisecond (wrk's timers count whole milliseconds): once a group commit has
-- answered them together they stay together, and the load arrives in bursts. Random pauses
-- dissolve the bursts, as independent senders would.
local pace = tonumber(os.getenv("BENCH_PACE_MS") or "")
local jitter = os.getenv("BENCH_JITTER") == "1"
if pace and jitter then
  function delay()
    if not seeded then  -- per thread: its own sequence (prefix and id are set by then)
      math.randomseed(tonumber(prefix:sub(1, 8), 16) + id)
      seeded = true
    end
    return math.floor(2 * pace * math.random() + 0.5)
  end
elseif pace then
  function delay() return pace end
end

-- setup/done run in their own Lua state; each wrk thread has another. Hand every thread its id
-- and a prefix read from /dev/urandom (LuaJIT's math.random starts from the same seed in every
-- run; the jittered pauses seed it from this prefix).
function setup(thread)
  if not prefix then
    local f = assert(io.open("/dev/urandom", "rb"))
    prefix = f:read(6):gsub(".", function(c) return string.format("%02x", c:byte()) end)
    f:close()
  end
  table.insert(threads, thread)
  thread:set("id", #threads)
  thread:set("prefix", prefix)
end

-- Per-thread state (running phase).
sent, ok, other = 0, 0, 0

local headers = { ["Content-Type"] = "application/json" }
local template = '{"email":"bench@example.com","secret":"' .. secret .. '",'
  .. '"task":"bench-accept","round":1,"nonce":"%s",'
  .. '"brief":"Create a page that shows the sum of the CSV\'s numbers.",'
  .. '"checks":["document.querySelector(\'#total\') !== null"],'
  .. '"evaluation_url":"http://127.0.0.1:9/notify",'
  .. '"attachments":[{"name":"data.csv","url":"data:text/csv;base64,YSxiCjEsMgo="}]}'

function request()
  sent = sent + 1
  local body = string.format(template, prefix .. "-" .. id .. "-" .. sent)
  return wrk.format("POST", nil, headers, body)
end

-- summary.errors.status only counts statuses > 399, so count non-200 answers here.
function response(status, headers, body)
  if status == 200 then ok = ok + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local s, o, n = 0, 0, 0
  for _, t in ipairs(threads) do
    s, o, n = s + t:get("sent"), o + t:get("ok"), n + t:get("other")
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d rps=%.0f p50=%.2f p99=%.2f ok=%d non200=%d sent=%d "
      .. "connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, o, n, s,
    e.connect, e.read, e.write, e.status, e.timeout))
end
