-- W1 (DataFrame path): word count with vectorized operators, no Lua per row.
--
--   ember submit w1_wordcount_df.lua INPUT [TOP [MAX_PARTITION_BYTES]]
--
-- The corpus (bench/gen text) is lowercase letters a-z, words separated by
-- single spaces, lines ending in '\n' (no leading or trailing spaces), so
-- splitting on " " gives exactly the runs of letters that the RDD version
-- finds with %a+ (the filter drops empty strings, should any appear).
-- One job: read:text -> explode(split) -> filter -> group_by:count, the
-- (<= 100,000) groups collected and sorted on the driver, as the RDD W1 does.
-- Prints "R distinct N", then TOP lines "R COUNT WORD", count descending,
-- then word ascending.
local ember = require("ember")
local input = arg[1] or error("usage: w1_wordcount_df.lua INPUT [TOP [MAX_PARTITION_BYTES]]")
local top = tonumber(arg[2] or 20)
local split_bytes = tonumber(arg[3] or 0)
local sc = ember.session{app = "bench-w1-df"}

local reader = sc.read
if split_bytes > 0 then reader = reader:option("max_partition_bytes", split_bytes) end
local counts = reader:text(input)
  :select(ember.explode(ember.split("value", " ")):alias("word"))
  :filter("word != ''")
  :group_by("word")
  :count()

local all = counts:collect()
table.sort(all, function(a, b)
  if a.count ~= b.count then return a.count > b.count end
  return a.word < b.word
end)
print("R distinct " .. #all)
for i = 1, math.min(top, #all) do
  print(string.format("R %d %s", all[i].count, all[i].word))
end
sc:stop()
