-- W1 in plain Lua 5.4, one thread, no engine: the interpreter's own cost
-- for the word count, as a reference for ember's Lua-function path.
-- Run as `ember submit w1_lua.lua INPUT [TOP]` (the script starts no
-- session: it is Debian's liblua5.4, as ember's executors use, in one
-- thread), or with any lua5.4.  The idiomatic loop: gmatch per line, one
-- table update per word.
local input = arg[1] or error("usage: w1_lua.lua INPUT [TOP]")
local top = tonumber(arg[2] or 20)
local counts = {}
for line in io.lines(input) do
  for w in line:gmatch("%a+") do counts[w] = (counts[w] or 0) + 1 end
end
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
