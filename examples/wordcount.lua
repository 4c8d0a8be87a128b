-- wordcount.lua -- the classic: the 20 most frequent words of a text.
--
--   ember submit examples/wordcount.lua INPUT [TOP]
--
-- INPUT is a file, a directory or a glob.  Words are runs of letters,
-- compared in lower case.
local ember = require("ember")

local input = arg[1] or error("usage: wordcount.lua INPUT [TOP]")
local top = tonumber(arg[2] or 20)

local sc = ember.session{app = "wordcount"}

local counts = sc:text_file(input)
  :flat_map(function(line) return line:lower():gmatch("%a+") end)
  :map(function(w) return {w, 1} end)
  :reduce_by_key(function(a, b) return a + b end)

local all = counts:collect()
table.sort(all, function(a, b)
  if a[2] ~= b[2] then return a[2] > b[2] end
  return a[1] < b[1]
end)

print(string.format("%d distinct words; the %d most frequent:", #all, top))
for i = 1, math.min(top, #all) do
  print(string.format("%7d  %s", all[i][2], all[i][1]))
end
sc:stop()
