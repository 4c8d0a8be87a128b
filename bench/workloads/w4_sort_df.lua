-- W4 (DataFrame): sort 100-byte records (lines) and write them out.
--
--   ember submit w4_sort_df.lua INPUT OUTDIR [PARTITIONS]
--
-- read:text gives one string column "value" per line; order_by("value")
-- samples the keys (a sampling job), range-partitions the rows into
-- PARTITIONS (sql.shuffle.partitions), and sorts each partition in C (radix
-- on key prefixes, then merge); write:csv without a header writes each line
-- as it was (the records hold no comma, quote or newline), part-0000i
-- holding range i: the files in name order are the sorted output.  Lines
-- compare whole, as bytes, as in w4_sort.lua.
local ember = require("ember")
local usage = "usage: w4_sort_df.lua INPUT OUTDIR [PARTITIONS]"
local input = arg[1] or error(usage)
local outdir = arg[2] or error(usage)
local R = tonumber(arg[3] or 8)
local sc = ember.session{app = "bench-w4-df", conf = {["sql.shuffle.partitions"] = R}}

local sorted = sc.read:text(input):order_by("value")
sorted.write:csv(outdir, {header = false})
sc:stop()
