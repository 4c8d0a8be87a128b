-- W4: sort 100-byte records (lines) and write them out.
--
--   ember submit w4_sort.lua INPUT OUTDIR [PARTITIONS]
--
-- sort_by (Spark's sortBy): a sampling job picks PARTITIONS-1 range
-- bounds, the shuffle sends each line to its range, each reduce task sorts
-- its range (in C: the keys are strings) and save_as_text_file writes
-- part-0000i = range i, so the files in name order are the sorted output.
-- Lines compare whole, as bytes (key, then payload).
local ember = require("ember")
local input = arg[1] or error("usage: w4_sort.lua INPUT OUTDIR [PARTITIONS]")
local outdir = arg[2] or error("usage: w4_sort.lua INPUT OUTDIR [PARTITIONS]")
local R = tonumber(arg[3] or 8)
local sc = ember.session{app = "bench-w4"}

sc:text_file(input)
  :sort_by(function(line) return line end, true, R)
  :save_as_text_file(outdir)
print("R done")
sc:stop()
