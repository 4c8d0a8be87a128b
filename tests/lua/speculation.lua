-- Speculation: a straggler gets a second attempt on another executor, the
-- first result wins and the other attempt is killed.
package.path = os.getenv("top_srcdir") .. "/tests/tap/?.lua;" .. package.path
local t = require("tap")
local ember = require("ember")

local tmp = os.tmpname()
os.remove(tmp)
os.execute("mkdir -p '" .. tmp .. "'")
local sc = ember.session{master = "local-cluster[2,1,256]", conf = {
  ["eventLog.enabled"] = true, ["eventLog.dir"] = tmp,
  speculation = true, ["speculation.multiplier"] = 2,
  ["speculation.quantile"] = 0.5, ["speculation.minTaskRuntime"] = "200ms"}}

local marker = tmp .. "/straggled"
local t0 = os.time()
local res = sc:range(8, 8):map(function(x)
  if x == 5 then
    local f = io.open(marker)
    if not f then
      -- the first attempt of task 5 straggles for up to 20 s
      f = io.open(marker, "w"); f:write("x"); f:close()
      local stop = os.clock() + 20
      while os.clock() < stop do end
    else
      f:close()
    end
  end
  return x * 10
end):collect()
t.same(res, {0, 10, 20, 30, 40, 50, 60, 70}, "the answer is right")
t.ok(os.time() - t0 < 15, "the job did not wait for the 20 s straggler")

local spec, killed, n = 0, 0, 0
for _, ev in ipairs(t.events(tmp, sc.app_id)) do
  if ev.Event == "SparkListenerTaskStart" and ev["Task Info"].Speculative == true then spec = spec + 1 end
  if ev.Event == "SparkListenerTaskEnd" and ev["Task End Reason"].Reason == "TaskKilled" then killed = killed + 1 end
  n = n + 1
end
t.is(spec, 1, "one speculative attempt was launched")
t.diag("events: " .. n)
sc:stop()
os.execute("rm -rf '" .. tmp .. "'")
t.done()
