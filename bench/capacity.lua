-- wrk script for bench/capacity.sh: a mix of the two endpoints through nginx, and a check that
-- every answer is HTTP 200 with the host's envelope ({"code":…}).
-- Env: COOKIE, FINAL_TASK, RUNNING_TASK, PICTURE.
local cookie = os.getenv("COOKIE")
local paths = {
  "/api/picture/out_painting/get_task?taskId=" .. os.getenv("FINAL_TASK"),
  "/api/picture/out_painting/get_task?taskId=" .. os.getenv("RUNNING_TASK"),
  "/api/picture/out_painting/get_task?taskId=no-such-task",
}
local create_body = '{"pictureId":' .. os.getenv("PICTURE") .. ',"parameters":{"xScale":1.5}}'
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  n, bad_status, bad_body, codes = 0, 0, 0, {}
end

function request()
  n = n + 1
  if n % 10 == 0 then
    return wrk.format("POST", "/api/picture/out_painting/create_task",
      { ["Cookie"] = cookie, ["Content-Type"] = "application/json" }, create_body)
  end
  return wrk.format("GET", paths[(n % 3) + 1], { ["Cookie"] = cookie })
end

function response(status, headers, body)
  if status ~= 200 then
    bad_status = bad_status + 1
    return
  end
  local code = body:match('^{"code":(%-?%d+),')
  if code == nil then
    bad_body = bad_body + 1
  else
    codes[code] = (codes[code] or 0) + 1
  end
end

function done(summary, latency, requests)
  local s, b, all = 0, 0, {}
  for _, t in ipairs(threads) do
    s = s + t:get("bad_status")
    b = b + t:get("bad_body")
    for k, v in pairs(t:get("codes")) do all[k] = (all[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(all) do table.insert(parts, string.format('"%s":%d', k, v)) end
  io.write(string.format('CAPACITY {"requests":%d,"non_200":%d,"not_envelope":%d,"p50_ms":%.1f,"p99_ms":%.1f,"max_ms":%.1f,"codes":{%s}}\n',
    summary.requests, s, b, latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    table.concat(parts, ",")))
end
