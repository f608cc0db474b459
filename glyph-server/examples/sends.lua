-- wrk script: 1:1 sends shaped like glyph-client's (a ~270-byte envelope,
-- a ~430-byte self-copy), a fresh client id per request, between the users
-- `load users BASE N > users.txt` registered ("token user_id" per line).
--   wrk -t2 -c50 -d10s -s glyph-server/examples/sends.lua http://127.0.0.1:8080 -- users.txt
local users = {}
local counter = 0
local threads = 0
local all_threads = {}
created = 0
replayed = 0

-- Each thread gets its own number (a global in its Lua state), so client
-- ids never repeat across threads: every request is a new message.
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
  all_threads[#all_threads + 1] = thread
end

function init(args)
  -- This run's mark, so that runs against the same users never repeat ids.
  run = os.time()
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
    '{"client_id":"wrk-%d-%d-%d-%d","copies":[{"recipient":"%s","device_id":1,' ..
    '"envelope":{"v":2,"pad":"%s"},"self_copy":{"v":1,"pad":"%s"}}]}',
    run, thread_id, counter, math.random(1, 1000000000), to.id, pad_e, pad_s)
  return wrk.format(nil, nil,
    { ["Authorization"] = "Bearer " .. from.token, ["Content-Type"] = "application/json" }, body)
end

-- Only 201 (stored now) counts as accepted; a 200 is a replay of a client
-- id already stored (which fresh ids never are), counted apart.
function response(status, headers, body)
  if status == 201 then created = created + 1 elseif status == 200 then replayed = replayed + 1 end
end

function done(summary, latency, requests)
  local stored, replays = 0, 0
  for _, thread in ipairs(all_threads) do
    stored = stored + thread:get("created")
    replays = replays + thread:get("replayed")
  end
  io.write(string.format("accepted %.0f msgs/s (%d stored, %d replays); p50 %.2f ms, p99 %.2f ms, max %.2f ms; non-2xx %d, errors %d\n",
    stored / (summary.duration / 1e6), stored, replays,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
