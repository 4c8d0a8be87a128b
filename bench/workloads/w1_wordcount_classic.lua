-- W1 (RDD / Lua functions), the classic shape: word count as in Spark's
-- examples, a Lua closure at every step (gmatch per line, a {word, 1} pair
-- per word, a reducer call per word).  w1_wordcount.lua is the same job
-- written with ember's C helpers.
--
--   ember submit w1_wordcount_classic.lua INPUT [TOP [MIN_PARTITIONS]]
--
-- Words are runs of letters (the corpus is lowercase).  Prints the normalized
-- answer: "R distinct N", then TOP lines "R COUNT WORD", count descending,
-- then word ascending.
local ember = require("ember")
local input = arg[1] or error("usage: w1_wordcount_classic.lua INPUT [TOP]")
local top = tonumber(arg[2] or 20)
local min_parts = tonumber(arg[3] or 1)
local sc = ember.session{app = "bench-w1"}

local counts = sc:text_file(input, {min_partitions = min_parts})
  :flat_map(function(line) return line:gmatch("%a+") end)
  :map(function(w) return {w, 1} end)
  :reduce_by_key(function(a, b) return a + b end)

local all = counts:collect()
table.sort(all, function(a, b)
  if a[2] ~= b[2] then return a[2] > b[2] end
  return a[1] < b[1]
end)
print("R distinct " .. #all)
for i = 1, math.min(top, #all) do
  print(string.format("R %d %s", all[i][2], all[i][1]))
end
sc:stop()
