-- wrk script for benchmarks/proxy.py: booking_mix.lua's mix for a set time, then drained.
--
--   wrk --duration=(SECONDS + DRAIN)s -s drain.lua URL -- SLOTS_FILE PHASE THREADS SECONDS
--
-- wrk ends a run by closing its connections, whether a request is in flight on them or
-- not; a proxy in front of the server sees each of those as a request its client gave up
-- on. Here each thread sends requests for SECONDS from its first one; after that, delay()
-- holds each connection once its answer is in, so the requests in flight are answered in
-- wrk's last DRAIN seconds and wrk stops with nothing left in flight.
--
-- It loads booking_mix.lua from its own directory, so the requests and the "RESULT {json}"
-- line are that script's, of the SECONDS measured: requests, duration and status counts
-- are the answers received within them, as wrk counts a run of its own; the latency
-- percentiles are wrk's, of every answer (the drained ones too, at most one a connection).
-- RESULT gains "drain":{"answered":N,"unanswered":M}: the answers received in the drain,
-- and the requests sent that never got one (cut off by wrk's stop: a drain too short, or
-- connection errors).

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "booking_mix.lua")

local ffi = require("ffi") -- wrk's LuaJIT
ffi.cdef([[
  typedef struct { long tv_sec; long tv_nsec; } drain_timespec;
  int clock_gettime(int clock_id, drain_timespec *tp);
]])
local spec = ffi.new("drain_timespec")
local function now_us()
  ffi.C.clock_gettime(1, spec) -- CLOCK_MONOTONIC
  return tonumber(spec.tv_sec) * 1e6 + tonumber(spec.tv_nsec) / 1e3
end

local HOLD_MS = 3600 * 1000 -- longer than any run: the connection sends nothing more

local mix_setup, mix_init, mix_request, mix_response, mix_done =
  setup, init, request, response, done
local drain_threads = {}
local stop_at -- this thread's end of the measurement: its first request + SECONDS
-- Globals, so that done(), in wrk's main Lua state, reads each thread's with thread:get.
sent, answered, drained, measure_us = 0, 0, 0, 0

function setup(thread)
  mix_setup(thread)
  table.insert(drain_threads, thread)
end

function init(args)
  mix_init(args)
  measure_us = tonumber(args[4]) * 1e6
end

-- wrk calls delay() before each request it sends, from the first; not before the one
-- request() it asks of one thread to check the script, before the run.
function delay()
  local now = now_us()
  if not stop_at then
    stop_at = now + measure_us
  end
  if now >= stop_at then
    return HOLD_MS
  end
  return 0
end

function request()
  if stop_at then
    sent = sent + 1
  end
  return mix_request()
end

function response(status, headers, body)
  if now_us() < stop_at then
    answered = answered + 1
    mix_response(status, headers, body)
  else
    drained = drained + 1
  end
end

function done(summary, latency, requests)
  local n_sent, n_answered, n_drained = 0, 0, 0
  for _, thread in ipairs(drain_threads) do
    n_sent = n_sent + thread:get("sent")
    n_answered = n_answered + thread:get("answered")
    n_drained = n_drained + thread:get("drained")
  end
  summary.requests = n_answered
  summary.duration = drain_threads[1]:get("measure_us") -- init() ran in the threads
  result_extra = string.format(
    ',"drain":{"answered":%d,"unanswered":%d}', n_drained, n_sent - n_answered - n_drained
  )
  mix_done(summary, latency, requests)
end
