-- wrk: create_task with a different picture and parameters on every request (no duplicate-window
-- answers), counting the envelope codes (W4). Env: COOKIE, FIRST_PICTURE, PICTURES.
local cookie = os.getenv("COOKIE")
local first = tonumber(os.getenv("FIRST_PICTURE"))
local pictures = tonumber(os.getenv("PICTURES"))
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  n, codes = 0, {}
end

function request()
  n = n + 1
  local picture = first + ((n * 7 + id * 1009) % pictures)
  local body = string.format('{"pictureId":%d,"parameters":{"angle":%d,"topOffset":%d}}', picture, n % 360, (n * 13 + id) % 500)
  return wrk.format("POST", "/api/picture/out_painting/create_task",
    { ["Cookie"] = cookie, ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
  local code = body:match('^{"code":(%-?%d+),') or ("http" .. status)
  codes[code] = (codes[code] or 0) + 1
end

function done(summary, latency, requests)
  local all = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("codes")) do all[k] = (all[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(all) do table.insert(parts, string.format('"%s":%d', k, v)) end
  io.write('BENCH {"codes":{' .. table.concat(parts, ",") .. '}}\n')
end
