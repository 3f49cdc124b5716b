-- wrk script for benchmarks/throughput.py: a realistic mix of booking requests.
--
--   wrk -s booking_mix.lua URL -- SLOTS_FILE PHASE THREADS
--
-- SLOTS_FILE has one free slot a line, "PATH START END BAD_END", PATH being the book
-- path of an event type whose slots never overlap. Thread i takes lines i, i+THREADS, ...
-- so no two threads book the same slot. PHASE (0 warm-up, 1 measurement) keeps the
-- simulated clients of the two runs apart.
--
-- Every block of 20 requests holds:
--   14 fresh: a slot nobody has booked yet, from a well-behaved client      (201)
--    2 taken: a slot this thread booked 32 fresh requests ago               (400)
--    2 invalid: a malformed body, four kinds in turn                        (400)
--    2 hot: a taken slot from one of a few clients that send far too much   (429 after 15)
-- Well-behaved clients are 65,536 X-Forwarded-For addresses per thread and phase, taken
-- in turn, so none nears 15 requests a minute; the hot ones are 8 per thread.
--
-- done() prints one line, "RESULT {json}", with wrk's totals, latency percentiles in
-- microseconds and the status codes counted by every thread. A script that loads this one
-- may set the global result_extra to more members of that object (',"name":value') before
-- it calls done() (drain.lua does).

local MIX = {
  "fresh", "fresh", "fresh", "taken", "fresh", "invalid", "fresh", "hot", "fresh", "fresh",
  "fresh", "fresh", "taken", "fresh", "invalid", "fresh", "hot", "fresh", "fresh", "fresh",
}
local HOT_CLIENTS = 8
local TAKEN_LAG = 32

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local paths, starts, ends, bad_ends = {}, {}, {}, {}
local n_slots = 0
local phase = 0
local counter, fresh, normal, invalid = 0, 0, 0, 0
wrapped = 0
statuses = {}

function init(args)
  local file, threads_total = args[1], tonumber(args[3])
  phase = tonumber(args[2])
  local line_no = 0
  for line in io.lines(file) do
    if line_no % threads_total == tid then
      local path, s, e, bad = line:match("^(%S+) (%S+) (%S+) (%S+)$")
      n_slots = n_slots + 1
      paths[n_slots], starts[n_slots], ends[n_slots], bad_ends[n_slots] = path, s, e, bad
    end
    line_no = line_no + 1
  end
  if n_slots == 0 then
    error("no slots for thread " .. tid .. " in " .. file)
  end
end

local function next_fresh()
  fresh = fresh + 1
  if fresh > n_slots then
    wrapped = wrapped + 1 -- out of free slots: this one repeats an earlier slot
  end
  return (fresh - 1) % n_slots + 1
end

local function body(n, start_time, end_time, email)
  return '{"startTime":"' .. start_time .. '","endTime":"' .. end_time
    .. '","inviteeName":"Guest ' .. n .. '","inviteeEmail":"' .. email
    .. '","inviteePhone":"+1-555-0' .. (100 + n % 900) .. '","inviteeTimezone":"America/New_York"'
    .. ',"inviteeLocale":"en","source":"BookingPage","customFields":{"company":"Acme"}'
    .. ',"inviteeNotes":"Looking forward to it."}'
end

local function client_ip(kind)
  if kind == "hot" then
    return "172.16." .. phase .. "." .. (tid * HOT_CLIENTS + counter % HOT_CLIENTS + 1)
  end
  normal = normal + 1
  local n = normal % 65536
  return "10." .. (phase * 64 + tid) .. "." .. math.floor(n / 256) .. "." .. n % 256
end

function request()
  counter = counter + 1
  local kind = MIX[(counter - 1) % #MIX + 1]
  local email = "guest" .. counter .. "-t" .. tid .. "@example.com"
  local i
  if kind == "taken" or kind == "hot" then
    i = (math.max(fresh - TAKEN_LAG, 1) - 1) % n_slots + 1
  else
    i = next_fresh()
  end
  local s, e = starts[i], ends[i]
  if kind == "invalid" then
    invalid = invalid + 1
    local variant = invalid % 4
    if variant == 0 then
      email = "not-an-email"                       -- 400: inviteeEmail is not an email
    elseif variant == 1 then
      s = s:sub(1, -2)                             -- 400: a time without an offset
    elseif variant == 2 then
      e = bad_ends[i]                              -- 400: wrong duration
    else
      email = nil                                  -- 400: required field missing
    end
  end
  local payload
  if email == nil then
    payload = '{"startTime":"' .. s .. '","endTime":"' .. e
      .. '","inviteeName":"Guest ' .. counter .. '","inviteeTimezone":"America/New_York"}'
  else
    payload = body(counter, s, e, email)
  end
  local headers = {
    ["Content-Type"] = "application/json",
    ["X-Forwarded-For"] = client_ip(kind),
  }
  return wrk.format("POST", paths[i], headers, payload)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local totals, wrapped_total = {}, 0
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + n
    end
    wrapped_total = wrapped_total + thread:get("wrapped")
  end
  local parts = {}
  for status, n in pairs(totals) do
    table.insert(parts, string.format('"%d":%d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"bytes":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},'
      .. '"latency_us":{"mean":%.1f,"stdev":%.1f,"max":%d,'
      .. '"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p99.9":%d},'
      .. '"status":{%s},"slots_reused":%d%s}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.timeout, e.status,
    latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9),
    table.concat(parts, ","), wrapped_total, result_extra or ""
  ))
end
