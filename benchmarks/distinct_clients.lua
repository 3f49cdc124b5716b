-- wrk script for benchmarks/memory.py: one booking request from each of N distinct clients.
--
--   wrk -s distinct_clients.lua URL -- BOOK_PATH BODY_FILE CLIENTS ROUND THREADS
--
-- Thread i sends CLIENTS / THREADS requests to BOOK_PATH with the body in BODY_FILE, each
-- with its own X-Forwarded-For address (ROUND keeps the addresses of two rounds apart),
-- then answers its connections' remaining turns with GET /__admin/health, which the rate
-- limiter never sees, and stops once every booking request has its answer. It prints
-- "PROGRESS TID ANSWERED QUOTA" every 10,000 answers and at the end, when the caller
-- interrupts wrk (SIGINT), since wrk otherwise sleeps out --duration.
-- done() prints "RESULT {json}" with the status codes of the booking requests.

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local path, payload, quota, round
local sent, answered = 0, 0
local verified = false
statuses = {}

function init(args)
  path = args[1]
  local file = io.open(args[2], "r")
  payload = file:read("*a")
  file:close()
  local clients, threads_total = tonumber(args[3]), tonumber(args[5])
  round = tonumber(args[4])
  quota = math.floor(clients / threads_total)
  if tid < clients % threads_total then
    quota = quota + 1
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
  -- 2^24 addresses per round and thread: 10.x.y.z with x = 32 * round + 4 * tid + high bits.
  local n = sent
  local ip = (round * 32 + tid * 4 + math.floor(n / 65536)) .. "." .. math.floor(n / 256) % 256
    .. "." .. n % 256
  local headers = { ["Content-Type"] = "application/json", ["X-Forwarded-For"] = "10." .. ip }
  return wrk.format("POST", path, headers, payload)
end

function response(status, headers, body)
  if status ~= 200 then -- a booking request's answer: health is the only 200
    answered = answered + 1
    statuses[status] = (statuses[status] or 0) + 1
    if answered % 10000 == 0 or answered == quota then
      io.write("PROGRESS " .. tid .. " " .. answered .. " " .. quota .. "\n")
      io.flush()
    end
    if answered >= quota then
      -- wrk's main thread sleeps out --duration; memory.py interrupts it on this line.
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
