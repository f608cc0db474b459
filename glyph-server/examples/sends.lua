-- wrk script: 1:1 sends shaped like glyph-client's (a ~270-byte envelope,
-- a ~430-byte self-copy), a fresh client id per request, between the users
-- `load users BASE N > users.txt` registered ("token user_id" per line).
--   wrk -t2 -c50 -d10s -s glyph-server/examples/sends.lua http://127.0.0.1:8080 -- users.txt
local users = {}
local counter = 0
local thread_id = 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

function init(args)
  for line in io.lines(args[1] or "users.txt") do
    local token, id = line:match("^(%S+) (%S+)$")
    if token then users[#users + 1] = { token = token, id = id } end
  end
  wrk.method = "POST"
  wrk.path = "/v1/messages"
end

local pad_e = string.rep("e", 240)
local pad_s = string.rep("s", 410)

function request()
  counter = counter + 1
  local from = users[(counter % #users) + 1]
  local to = users[((counter + 1 + math.floor(counter / #users) % (#users - 1)) % #users) + 1]
  local body = string.format(
    '{"client_id":"wrk-%d-%d-%d","copies":[{"recipient":"%s","device_id":1,' ..
    '"envelope":{"v":2,"pad":"%s"},"self_copy":{"v":1,"pad":"%s"}}]}',
    thread_id, counter, math.random(1, 1000000000), to.id, pad_e, pad_s)
  return wrk.format(nil, nil,
    { ["Authorization"] = "Bearer " .. from.token, ["Content-Type"] = "application/json" }, body)
end

local failures = 0
function response(status, headers, body)
  if status ~= 201 and status ~= 200 then failures = failures + 1 end
end

function done(summary, latency, requests)
  io.write(string.format("accepted %.0f msgs/s; p50 %.2f ms, p99 %.2f ms, max %.2f ms; non-2xx %d, errors %d\n",
    (summary.requests - summary.errors.status) / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
