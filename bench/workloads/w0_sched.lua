-- W0b/W0c: scheduler throughput and warm-session job latency.
--
--   ember submit w0_sched.lua [TASKS] [JOBS]
--
-- ember's Lua has no wall clock (os.clock is the driver's CPU time), so the
-- script reads one from `date +%s%N` through io.popen.  A popen costs several
-- ms from the driver, so each interval is bracketed by stamps and the cost of
-- an empty bracket (median of 5) is subtracted.  Prints
--   M tasks_s  SECONDS      one job of TASKS empty tasks (TASKS partitions)
--   M jobs_s   SECONDS      JOBS trivial one-task jobs, back to back
local ember = require("ember")
local ntasks = tonumber(arg[1] or 10000)
local njobs = tonumber(arg[2] or 100)
local sc = ember.session{app = "bench-w0-sched"}

local function now()
  local p = assert(io.popen("date +%s%N"))
  local s = p:read("l")
  p:close()
  return tonumber(s)
end
local empty = {}
for i = 1, 5 do local a = now(); empty[i] = now() - a end
table.sort(empty)
local bracket = empty[3]

-- warm up the executors (first task on each)
sc:parallelize({1, 2}, 2):count()

local t0 = now()
local n = sc:range(ntasks, ntasks):count()
local t1 = now()
assert(n == ntasks)
print(string.format("M tasks_s %.6f", (t1 - t0 - bracket) / 1e9))

local ds = sc:parallelize({1}, 1)
local t2 = now()
local total = 0
for _ = 1, njobs do total = total + ds:count() end
local t3 = now()
print(string.format("M jobs_s %.6f", (t3 - t2 - bracket) / 1e9))
print("R tasks " .. n)
print("R jobs " .. total)
sc:stop()
