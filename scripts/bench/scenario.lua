-- wrk script for every benchmark scenario, configured from the environment:
--   BENCH_MODE     get | list | revisions | create | mix
--   BENCH_DATA     the folder seed.py wrote (targets.tsv, orgs.tsv, bodies.jsonl)
--   BENCH_SPREAD   how many templates (first lines of targets.tsv) writes go to
--                  (1 = one hot template); GET uses every template, revision
--                  listings only the others
-- Counts responses by status and prints one JSON line at the end.

local mode = os.getenv("BENCH_MODE") or "get"
local data = os.getenv("BENCH_DATA") or "."
local spread = tonumber(os.getenv("BENCH_SPREAD") or "1000")
local prefix = "/v1/admin/integration-templates"

local function lines(path)
  local out = {}
  for line in io.lines(path) do out[#out + 1] = line end
  return out
end

local targets, orgs, bodies = {}, {}, {}
statuses = {}  -- global: done() reads it from each thread
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  threads[#threads + 1] = thread
end

function init(args)
  math.randomseed(os.time() * 1000 + (id or 0))
  for _, line in ipairs(lines(data .. "/targets.tsv")) do
    local token, template = line:match("^(%S+)\t(%S+)$")
    targets[#targets + 1] = { "Bearer " .. token, template }
  end
  orgs = lines(data .. "/orgs.tsv")
  bodies = lines(data .. "/bodies.jsonl")
  if spread > #targets then spread = #targets end
end

local function get_template()
  local t = targets[math.random(#targets)]
  return wrk.format("GET", prefix .. "/" .. t[2], { ["Authorization"] = t[1] })
end

local function list_templates()
  local token = orgs[math.random(#orgs)]
  local offset = math.random(0, 50)
  return wrk.format("GET", prefix .. "?limit=50&offset=" .. offset,
    { ["Authorization"] = "Bearer " .. token })
end

local function list_revisions()
  -- Templates the write scenarios never touch (they write to the first
  -- BENCH_SPREAD lines), so every listing holds the seeded revisions only.
  local first = spread < #targets and spread + 1 or 1
  local t = targets[math.random(first, #targets)]
  return wrk.format("GET", prefix .. "/" .. t[2] .. "/revisions", { ["Authorization"] = t[1] })
end

local function create_revision()
  local t = targets[math.random(spread)]
  return wrk.format("POST", prefix .. "/" .. t[2] .. "/revisions",
    { ["Authorization"] = t[1], ["Content-Type"] = "application/json" },
    bodies[math.random(#bodies)])
end

local function mix()
  local r = math.random(100)
  if r <= 90 then return get_template() end
  if r <= 99 then return list_templates() end
  return create_revision()
end

local modes = {
  get = get_template, list = list_templates, revisions = list_revisions,
  create = create_revision, mix = mix,
}
local make = modes[mode] or error("unknown BENCH_MODE " .. mode)

function request()
  return make()
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      merged[status] = (merged[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(merged) do
    parts[#parts + 1] = string.format('"%d": %d', status, n)
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "p999_us": %d, '
      .. '"max_us": %d, "socket_errors": %d, "timeouts": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9), latency.max, e.connect + e.read + e.write, e.timeout,
    table.concat(parts, ", ")))
end
