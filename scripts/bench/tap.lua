-- wrk script for POST /api/v1/auth/tap (used by scripts/bench-server.sh).
--
-- Environment: TAP_USERNAME and TAP_CODE (a multi-use temporary access pass).
-- Counts the responses whose status is not 200 per thread and prints one machine-readable
-- line at the end:
--   BENCH requests=N duration_us=N rps=F p50_us=N p90_us=N p99_us=N max_us=N non200=N
--         statuses=S:N,... connect=N read=N write=N timeout=N
-- Also works without a body (BENCH_GET=1) for a GET reference run (e.g. /healthz).

local username = os.getenv("TAP_USERNAME")
local code = os.getenv("TAP_CODE")
local get_only = os.getenv("BENCH_GET") == "1"

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  non200 = 0
  if get_only then
    wrk.method = "GET"
    wrk.body = nil
  else
    assert(username and code, "TAP_USERNAME and TAP_CODE must be set")
    wrk.method = "POST"
    -- Neither value needs JSON escaping: usernames and TAP codes are plain ASCII.
    wrk.body = '{"username":"' .. username .. '","code":"' .. code .. '"}'
    wrk.headers["Content-Type"] = "application/json"
  end
  req = wrk.format()
end

function request()
  return req
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
  end
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total_non200 = 0
  local merged = {}
  for _, t in ipairs(threads) do
    total_non200 = total_non200 + t:get("non200")
    local s = t:get("statuses")
    for k, v in pairs(s) do
      merged[k] = (merged[k] or 0) + v
    end
  end
  local parts = {}
  for k, v in pairs(merged) do
    table.insert(parts, k .. ":" .. v)
  end
  table.sort(parts)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d non200=%d statuses=%s connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    total_non200, table.concat(parts, ","), e.connect, e.read, e.write, e.timeout))
end
