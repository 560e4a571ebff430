-- wrk script for scale.sh: one GET path, with a bearer token, from the environment.
--   SCALE_TOKEN  the bearer token
--   SCALE_PATH   the path; every "{n}" becomes a random number in 1..SCALE_N,
--                zero-padded to 24 digits (the ids scale.sh inserts)
--   SCALE_N      the largest such number
-- Prints one JSON line at the end (requests, latency percentiles, statuses).

local token = "Bearer " .. (os.getenv("SCALE_TOKEN") or "")
local path = os.getenv("SCALE_PATH") or "/"
local n = tonumber(os.getenv("SCALE_N") or "1")
statuses = {}
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  threads[#threads + 1] = thread
end

function init(args)
  math.randomseed(os.time() * 1000 + (id or 0))
end

function request()
  local p = path:gsub("{n}", function() return string.format("%024d", math.random(n)) end)
  return wrk.format("GET", p, { ["Authorization"] = token })
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      merged[status] = (merged[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(merged) do
    parts[#parts + 1] = string.format('"%d": %d', status, count)
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, '
      .. '"errors": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect + e.read + e.write + e.timeout, table.concat(parts, ", ")))
end
