-- wrk script for benchmarks/state_growth.py: book every slot of a file, from CLIENTS clients.
--
--   wrk -s fill.lua URL -- SLOTS_FILE CLIENTS THREADS
--
-- SLOTS_FILE has one free slot a line, "PATH START END BAD_END" (slots.py). Thread i books
-- lines i, i+THREADS, ... once each. Requests come from CLIENTS X-Forwarded-For addresses
-- in turn (10.200.0.0 upwards), so each client sends one request in CLIENTS: at a few
-- thousand requests a second, far below 15 a minute. Once its lines are answered a thread
-- sends GET /__admin/health, which the rate limiter never sees, and stops. It prints
-- "PROGRESS TID ANSWERED QUOTA" every 50,000 answers and at its end; done() prints
-- "RESULT {json}" with the status codes of the booking requests.

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local paths, starts, ends = {}, {}, {}
local quota, sent, answered, clients, threads_total = 0, 0, 0, 0, 1
local verified = false
statuses = {}

function init(args)
  clients, threads_total = tonumber(args[2]), tonumber(args[3])
  local line_no = 0
  for line in io.lines(args[1]) do
    if line_no % threads_total == tid then
      local path, s, e = line:match("^(%S+) (%S+) (%S+)")
      quota = quota + 1
      paths[quota], starts[quota], ends[quota] = path, s, e
    end
    line_no = line_no + 1
  end
end

function request()
  -- wrk calls thread 0's request() once before the run, to check it, and sends nothing.
  if tid == 0 and not verified then
    verified = true
    return wrk.format("GET", "/__admin/health")
  end
  if sent >= quota then
    return wrk.format("GET", "/__admin/health")
  end
  sent = sent + 1
  local n = ((sent - 1) * threads_total + tid) % clients
  local ip = "10." .. (200 + math.floor(n / 65536)) .. "." .. math.floor(n / 256) % 256
    .. "." .. n % 256
  local body = '{"startTime":"' .. starts[sent] .. '","endTime":"' .. ends[sent]
    .. '","inviteeName":"Guest ' .. sent .. '","inviteeEmail":"guest' .. sent .. "-t" .. tid
    .. '@example.com","inviteePhone":"+1-555-0' .. (100 + sent % 900)
    .. '","inviteeTimezone":"America/New_York","inviteeLocale":"en","source":"BookingPage"'
    .. ',"customFields":{"company":"Acme"},"inviteeNotes":"Looking forward to it."}'
  local headers = { ["Content-Type"] = "application/json", ["X-Forwarded-For"] = ip }
  return wrk.format("POST", paths[sent], headers, body)
end

function response(status, headers, body)
  if status ~= 200 then -- a booking request's answer: health is the only 200
    answered = answered + 1
    statuses[status] = (statuses[status] or 0) + 1
    if answered % 50000 == 0 or answered == quota then
      io.write("PROGRESS " .. tid .. " " .. answered .. " " .. quota .. "\n")
      io.flush()
    end
    if answered >= quota then
      wrk.thread:stop()
    end
  end
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(totals) do
    table.insert(parts, string.format('"%d":%d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"socket_errors":%d,"status":{%s}}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout,
    table.concat(parts, ",")
  ))
end
