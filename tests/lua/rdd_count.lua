-- count_by_value (Spark's countByValue), counted in C on the map side, and
-- ember.strsplit, against counts and splits computed here in plain Lua.
package.path = os.getenv("top_srcdir") .. "/tests/tap/?.lua;" .. package.path
local t = require("tap")
local ember = require("ember")

local tmp = os.tmpname()
os.remove(tmp)
os.execute("mkdir -p '" .. tmp .. "/local'")
local sc = ember.session{master = "local-cluster[2,1,32]", conf = {
  ["local.dir"] = tmp .. "/local", ["task.maxFailures"] = 1,
  ["executor.heartbeatInterval"] = "100ms"}}

-- the oracle: a count in a Lua table, keys as Lua itself compares them
local function count_lua(list)
  local c = {}
  for _, v in ipairs(list) do c[v] = (c[v] or 0) + 1 end
  return c
end

------------------------------------------------------------ ember.strsplit

local S = ember.strsplit
t.same(S("a b  c"), {"a", "b", "c"}, "strsplit: runs of spaces")
t.same(S("  \tlead and trail\r\n "), {"lead", "and", "trail"},
       "strsplit: leading and trailing whitespace of every kind")
t.same(S(""), {}, "strsplit: empty string, no fields")
t.same(S("   "), {}, "strsplit: only whitespace, no fields")
t.same(S("a,,b", ","), {"a", "", "b"}, "strsplit with sep keeps empty fields")
t.same(S("", ","), {""}, "strsplit with sep: empty string is one empty field")
t.same(S(",a,", ","), {"", "a", ""}, "strsplit with sep: edges")
t.same(S("a::b::c", "::"), {"a", "b", "c"}, "strsplit: a separator of two bytes")
t.same(S("a.b", "."), {"a", "b"}, "strsplit: the separator is plain, not a pattern")
t.same(S("a b c d", nil, 2), {"a", "b", "c d"}, "strsplit: max splits, whitespace")
t.same(S("a b  c  ", nil, 1), {"a", "b  c"}, "strsplit: the rest keeps inner, loses trailing whitespace")
t.same(S("a,b,c", ",", 1), {"a", "b,c"}, "strsplit: max splits with sep")
t.same(S("a,b", ",", 0), {"a,b"}, "strsplit: max 0 is no split")
t.same(S("a,b", ",", -1), {"a", "b"}, "strsplit: negative max is no limit")
t.same(S("x\0y z", nil), {"x\0y", "z"}, "strsplit: bytes, NUL included")
t.same(S(12.5, "."), {"12", "5"}, "strsplit: a number is its string")
t.raises(function() S({}) end, "ember.strsplit expects a string, got table",
         "strsplit: not a string")
t.raises(function() S("a", "") end, "empty separator", "strsplit: empty separator")
t.raises(function() S("a", 5) end, "separator must be a string", "strsplit: bad separator")
t.raises(function() S("a", nil, 1.5) end, "max must be an integer", "strsplit: bad max")

-- the same function on executors: by name, and through a local `ember`
local lines = {"the quick  brown fox", "", "jumps over\tthe lazy dog", "the end"}
local words = {}
for _, l in ipairs(lines) do for w in l:gmatch("%S+") do words[#words + 1] = w end end
t.same(sc:parallelize(lines, 2):flat_map(ember.strsplit):collect(), words,
       "flat_map(ember.strsplit) ships the function by name")
t.same(sc:parallelize(lines, 2):flat_map(function(l) return ember.strsplit(l) end):collect(),
       words, "a closure over the local ember module uses the executors' module")
t.same(sc:parallelize({1, 2}, 1):map(function(x) return x == 2 and ember.null or x end)
         :collect()[2], ember.null, "ember.null through the module upvalue")

------------------------------------------------------------ count_by_value

t.same(sc:parallelize(words, 3):count_by_value(), count_lua(words),
       "count_by_value of words")
t.same(sc:parallelize(lines, 2):flat_map(ember.strsplit):count_by_value(),
       count_lua(words), "flat_map arrays handed to the counter whole")
t.same(sc:parallelize(lines, 2):flat_map(function(l) return l:gmatch("%S+") end)
         :count_by_value(), count_lua(words), "flat_map iterators, one value at a time")
t.same(sc:parallelize({}, 2):count_by_value(), {}, "count_by_value of nothing")

-- keys of every length: inline (<= 8 bytes), arena, interned and not
local mixed = {}
for i = 1, 3000 do
  local n = i % 53
  mixed[#mixed + 1] = string.rep(string.char(97 + i % 5), n) .. (i % 7 == 0 and "\0z" or "")
end
t.same(sc:parallelize(mixed, 4):count_by_value(), count_lua(mixed),
       "strings of 0 to 54 bytes, with NULs")

-- numbers: 1 and 1.0 are one value, as in a Lua table; -0.0 is 0
local nums = {1, 1.0, 2, 2.5, 2.5, -0.0, 0, 3.0, 1e300, -1e300, 2^63, -2^63,
              math.maxinteger, math.mininteger, 7, 7.0, 7}
local got = sc:parallelize(nums, 3):count_by_value()
t.same(got, count_lua(nums), "numbers: integers and floats of equal value together")
t.same(sc:parallelize({5.0, 5.5}, 1):count_by_value(), {[5] = 1, [5.5] = 1},
       "an integral float is a key as Lua tables make it: the integer")

local mix = {true, false, true, "true", 1, "1"}
t.same(sc:parallelize(mix, 2):count_by_value(), count_lua(mix),
       "booleans are not strings, strings are not numbers")

-- tables by content; the table handed back is one of the equal ones
local pts = {{1, 2}, {1, 2}, {2, 1}, {x = 1}, {x = 1}, {1, 2}}
local byc = sc:parallelize(pts, 3):count_by_value()
local seen = {}
for k, n in pairs(byc) do
  seen[#seen + 1] = (k.x and ("x=" .. k.x) or (k[1] .. "," .. k[2])) .. ":" .. n
end
table.sort(seen)
t.same(seen, {"1,2:3", "2,1:1", "x=1:2"}, "tables counted by content")

local nulls = sc:parallelize({"a", "b"}, 2):map(function(x)
  return x == "a" and ember.null or x end):count_by_value()
t.same(nulls, {[ember.null] = 1, b = 1}, "ember.null is a value")

-- an array with a metatable: counted through __index/__len like a loop would
local proxied = sc:parallelize({3}, 1):flat_map(function(n)
  return setmetatable({}, {__len = function() return n end,
                           __index = function(_, i) return "p" .. i end})
end):count_by_value()
t.same(proxied, {p1 = 1, p2 = 1, p3 = 1}, "a flat_map result with a metatable")

t.raises(function()
  sc:parallelize({1, 2}, 1):map(function(x) return function() end end):count_by_value()
end, "count_by_value: cannot use a function as a key", "a function cannot be counted")
t.raises(function()
  sc:parallelize({0}, 1):map(function(x) return x / 0 * 0 end):count_by_value()
end, "NaN", "NaN cannot be a key of the result")

------------------------------------------------------------ count_by_key

local pairs_ = {}
for i = 1, 500 do pairs_[i] = {i % 7 == 0 and {i % 3} or ("k" .. i % 11), i} end
local want = {}
local tk = {}
for _, p in ipairs(pairs_) do
  local k = p[1]
  if type(k) == "table" then tk[k[1]] = (tk[k[1]] or 0) + 1
  else want[k] = (want[k] or 0) + 1 end
end
local cbk = sc:parallelize(pairs_, 4):count_by_key(2)
local gotk, gott = {}, {}
for k, n in pairs(cbk) do
  if type(k) == "table" then gott[k[1]] = n else gotk[k] = n end
end
t.same(gotk, want, "count_by_key: string keys")
t.same(gott, tk, "count_by_key: table keys by content")
t.raises(function() sc:parallelize({1}, 1):count_by_key() end,
         "count_by_key expects {key, value} pairs", "count_by_key: not a pair")
t.raises(function()
  sc:parallelize({1}, 1):map(function() return {print, 1} end):count_by_key()
end, "count_by_key: cannot use a C function as a key", "count_by_key: a function key")

-- more distinct values than an executor's memory holds at once: the
-- counter is flushed to the shuffle and the reduce side adds up
local N = 400000
local big = sc:range(0, 2 * N, 1, 4):map(function(i)
  return string.format("key-%09d-%s", i % N, string.rep("v", 20))
end):count_by_value(3)
local bad, n = 0, 0
for k, c in pairs(big) do
  n = n + 1
  if c ~= 2 then bad = bad + 1 end
end
t.is(n, N, "count_by_value under memory pressure: every value")
t.is(bad, 0, "count_by_value under memory pressure: every count exact")

sc:stop()
os.execute("rm -rf '" .. tmp .. "'")
t.done()
