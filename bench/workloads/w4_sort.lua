-- W4: sort 100-byte records (lines) by key and write them out.
--
--   ember submit w4_sort.lua INPUT OUTDIR [PARTITIONS]
--
-- ember has no sort_by, so this is a hand-made TeraSort:
--  1. sample: the keys of the first 20,000 records (take) give PARTITIONS-1
--     range boundaries (the generator's keys are uniform, so the head of the
--     file is a fair sample; a real sort_by would sample every split);
--  2. group_by_key hash-partitions, so for each reduce partition i we find
--     a key that hashes to i: group integers 1..M by themselves and collect
--     the smallest key of each partition (collect is in partition order);
--  3. map each line to {key of its range, line}, group_by_key(PARTITIONS),
--     sort each group's lines with table.sort, save_as_text_file.
-- part-0000i then holds range i, sorted: the files in name order are the
-- sorted output.  Lines compare whole (key, then payload).
local ember = require("ember")
local input = arg[1] or error("usage: w4_sort.lua INPUT OUTDIR [PARTITIONS]")
local outdir = arg[2] or error("usage: w4_sort.lua INPUT OUTDIR [PARTITIONS]")
local R = tonumber(arg[3] or 8)
local sc = ember.session{app = "bench-w4"}

-- 1. range boundaries from a sample
local sample = sc:text_file(input):map(function(l) return l:sub(1, 10) end):take(20000)
table.sort(sample)
local bounds = {}
for j = 1, R - 1 do bounds[j] = sample[j * #sample // R + 1] end

-- 2. one key per reduce partition
local M = 64 * R
local pkey
repeat
  pkey = sc:range(1, M + 1, 1, 2):map(function(x) return {x, true} end)
    :group_by_key(R)
    :map_partitions(function(it)
      local m = false
      for kv in it do if not m or kv[1] < m then m = kv[1] end end
      return {m}
    end)
    :collect()
  local ok = #pkey == R
  for i = 1, R do ok = ok and pkey[i] ~= false end
  M = M * 4
until ok

-- 3. range-partition and sort
sc:text_file(input)
  :map(function(line)
    local lo, hi = 1, #bounds + 1 -- bucket = number of bounds <= line
    while lo < hi do
      local mid = (lo + hi) // 2
      if bounds[mid] <= line then lo = mid + 1 else hi = mid end
    end
    return {pkey[lo], line}
  end)
  :group_by_key(R)
  :flat_map(function(kv)
    local lines = kv[2]
    table.sort(lines)
    return lines
  end)
  :save_as_text_file(outdir)
print("R done")
sc:stop()
