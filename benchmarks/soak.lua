-- wrk script for benchmarks/soak.py: booking_mix.lua's mix, keeping and timing every 201.
--
--   SOAK_IDS=FILE wrk -s soak.lua URL -- SLOTS_FILE PHASE THREADS
--
-- It loads booking_mix.lua from its own directory, so the requests, the status counts
-- and the "RESULT {json}" line are that script's. Each thread also keeps, for every 201,
-- the booking id and, with LuaJIT's ffi, how long the answer took and when its request
-- was sent (matched by the invitee's email, unique to each request and echoed in the
-- 201). wrk's own percentiles include its coordinated-omission correction; these are
-- measured. done() writes one line a 201 to SOAK_IDS: "ID [LATENCY_US SENT_US]".

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "booking_mix.lua")

local now
local has_ffi, ffi = pcall(require, "ffi")
if has_ffi then
  ffi.cdef([[
    typedef struct { long tv_sec; long tv_nsec; } soak_timespec;
    int clock_gettime(int clock_id, soak_timespec *tp);
  ]])
  local spec = ffi.new("soak_timespec")
  now = function()
    ffi.C.clock_gettime(1, spec) -- CLOCK_MONOTONIC
    return tonumber(spec.tv_sec) * 1e6 + tonumber(spec.tv_nsec) / 1e3
  end
end

local mix_setup, mix_request, mix_response, mix_done = setup, request, response, done
local soak_threads = {}
local sent = {}
local first_sent
created = {}
local n_created = 0

function setup(thread)
  mix_setup(thread)
  table.insert(soak_threads, thread)
end

function request()
  local req = mix_request()
  if now then
    local email = req:match('"inviteeEmail":"([^"]+)"')
    if email then
      local t = now()
      first_sent = first_sent or t
      sent[email] = t
    end
  end
  return req
end

function response(status, headers, body)
  mix_response(status, headers, body)
  if status == 201 then
    n_created = n_created + 1
    -- "?" keeps a 201 without an id countable.
    local line = body:match('"id"%s*:%s*"([^"]+)"') or "?"
    local email = body:match('"email"%s*:%s*"([^"]+)"')
    local t = email and sent[email]
    if t then
      sent[email] = nil
      line = string.format("%s %d %d", line, now() - t, t - first_sent)
    end
    created[n_created] = line
  end
end

function done(summary, latency, requests)
  mix_done(summary, latency, requests)
  local path = os.getenv("SOAK_IDS")
  if path then
    local file = assert(io.open(path, "w"))
    for _, thread in ipairs(soak_threads) do
      for _, line in ipairs(thread:get("created")) do
        file:write(line, "\n")
      end
    end
    file:close()
  end
end
