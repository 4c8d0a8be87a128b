-- sort_by and sort_by_key (Spark's sortBy/sortByKey) against table.sort
-- of the same values here.
package.path = os.getenv("top_srcdir") .. "/tests/tap/?.lua;" .. package.path
local t = require("tap")
local ember = require("ember")
local sc = ember.session{master = "local-cluster[2,1,256]",
                         conf = {["task.maxFailures"] = 1}}

local function id(x) return x end
local function sorted(list, lt)
  local c = {}
  for i, v in ipairs(list) do c[i] = v end
  table.sort(c, lt)
  return c
end

-- integers with duplicates, over 4 input partitions
local nums, seed = {}, 7
for i = 1, 5000 do
  seed = (seed * 1103515245 + 12345) % 2147483648
  nums[i] = seed % 1000 - 500
end
local ds = sc:parallelize(nums, 4)
t.same(ds:sort_by(id):collect(), sorted(nums), "sort_by: ascending, across partitions")
t.same(ds:sort_by(id, false):collect(), sorted(nums, function(a, b) return a > b end),
       "sort_by: descending")
for _, n in ipairs({1, 3, 7}) do
  local s = ds:sort_by(id, true, n)
  t.is(s:num_partitions(), n, "sort_by into " .. n .. " partitions")
  t.same(s:collect(), sorted(nums), "... in order (" .. n .. " partitions)")
end
t.same(ds:sort_by(function(x) return -x end):take(3), {499, 499, 499},
       "take(3) of a sort by a computed key")
local same = sc:parallelize({4, 4, 4, 4, 4, 4}, 3):sort_by(id, true, 5):collect()
t.same(same, {4, 4, 4, 4, 4, 4}, "every key equal: more ranges than keys")
t.same(sc:parallelize({}, 2):sort_by(id):collect(), {}, "an empty dataset")

-- sort_by_key: keys in order, every pair kept
local prs = {}
for i, v in ipairs(nums) do prs[i] = {v % 37, i} end
local got = sc:parallelize(prs, 4):sort_by_key(true, 3):collect()
local keys_ok, seen = true, {}
for i, p in ipairs(got) do
  if i > 1 and got[i - 1][1] > p[1] then keys_ok = false end
  seen[p[2]] = p[1]
end
t.ok(keys_ok and #got == #prs, "sort_by_key: keys ascending, all pairs")
local all = true
for i, p in ipairs(prs) do if seen[i] ~= p[1] then all = false end end
t.ok(all, "sort_by_key: every value with its own key")
t.raises(function() sc:parallelize({1, 2}, 1):sort_by_key():collect() end,
         "sort_by_key expects {key, value} pairs", "sort_by_key of non-pairs")

-- strings by bytes
local strs = {"b", "a", "B", "", "ab", "a\0b", "a\0", "zz", "Z", "ä"}
t.same(sc:parallelize(strs, 3):sort_by(id):collect(), sorted(strs),
       "strings in byte order")

-- tuples: count descending, then word
local counts = {{"the", 5}, {"a", 9}, {"cat", 5}, {"zoo", 1}, {"an", 9}, {"be", 5}}
local byt = sc:parallelize(counts, 2):sort_by(function(p) return {-p[2], p[1]} end):collect()
local words = {}
for i, p in ipairs(byt) do words[i] = p[1] end
t.same(words, {"a", "an", "be", "cat", "the", "zoo"}, "tuple keys {-count, word}")
t.same(sc:parallelize({{1, 2}, {1}, {0, 9}, {1, 2, 0}}, 2):sort_by(id):collect(),
       {{0, 9}, {1}, {1, 2}, {1, 2, 0}}, "arrays: element by element, a prefix first")

-- across types, and NaN after every number
local mixed = sc:parallelize({"s", 2.5, true, ember.null, -1, false, {1}, 0 / 0, math.huge}, 3)
  :sort_by(id):collect()
local shown = {}
for i, v in ipairs(mixed) do shown[i] = v ~= v and "nan" or tostring(v):gsub("table: .*", "{}") end
t.same(shown, {"null", "false", "true", "-1", "2.5", "inf", "nan", "s", "{}"},
       "null < booleans < numbers (NaN last) < strings < tables")
t.raises(function() sc:parallelize({1, 2}, 1):sort_by(function() return print end):collect() end,
         "cannot sort by a function key", "a function is not a sort key")
t.raises(function() ds:sort_by(id, "up") end, "ascending must be a boolean",
         "ascending must be a boolean")
t.raises(function() ds:sort_by(5) end, "sort_by", "sort_by needs a function")

sc:stop()
t.done()
