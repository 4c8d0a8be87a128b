-- W1 (RDD / Lua functions): word count.
--
--   ember submit w1_wordcount.lua INPUT [TOP [MIN_PARTITIONS]]
--
-- As a PySpark user writes it, `flatMap(lambda l: l.split()).countByValue()`:
-- a Lua function per line that splits it with ember.strsplit (C), every
-- word counted by count_by_value (a C counter on the map side, a shuffle,
-- a sum).  The corpus is lowercase words separated by single spaces, so the
-- whitespace-separated fields are the runs of letters.
-- w1_wordcount_classic.lua is the shape of Spark's examples, with a Lua
-- closure at every step.
--
-- Prints the normalized answer: "R distinct N", then TOP lines
-- "R COUNT WORD", count descending, then word ascending.
local ember = require("ember")
local input = arg[1] or error("usage: w1_wordcount.lua INPUT [TOP]")
local top = tonumber(arg[2] or 20)
local min_parts = tonumber(arg[3] or 1)
local sc = ember.session{app = "bench-w1"}

local counts = sc:text_file(input, {min_partitions = min_parts})
  :flat_map(function(line) return ember.strsplit(line) end)
  :count_by_value()

local all, n = {}, 0
for w, c in pairs(counts) do n = n + 1; all[n] = {w, c} end
table.sort(all, function(a, b)
  if a[2] ~= b[2] then return a[2] > b[2] end
  return a[1] < b[1]
end)
print("R distinct " .. n)
for i = 1, math.min(top, n) do
  print(string.format("R %d %s", all[i][2], all[i][1]))
end
sc:stop()
