-- W2 (DataFrame): TPC-H Q1 shape on lineitem.
--
--   ember submit w2_q1.lua LINEITEM_CSV [MAX_PARTITION_BYTES]
--
-- filter l_shipdate <= date '1998-09-02', group by l_returnflag,
-- l_linestatus, eight aggregates, ordered by the keys.  The schema is given
-- (no inference), as for every peer.  Prints one line per group:
--   R FLAG STATUS sum_qty sum_base_price sum_disc_price sum_charge
--     avg_qty avg_price avg_disc count_order
-- sums with %.2f, averages with %.4f (the harness allows a difference of one
-- unit in the last printed digit: double sums in another order differ in
-- their last bits).
local ember = require("ember")
local F = ember
local input = arg[1] or error("usage: w2_q1.lua LINEITEM_CSV [MAX_PARTITION_BYTES]")
local split_bytes = tonumber(arg[2] or 0)
local sc = ember.session{app = "bench-w2-q1"}

local opts = {header = true, schema = "l_orderkey BIGINT, l_partkey BIGINT, l_suppkey BIGINT, "
  .. "l_linenumber INT, l_quantity INT, l_extendedprice DOUBLE, l_discount DOUBLE, "
  .. "l_tax DOUBLE, l_returnflag STRING, l_linestatus STRING, l_shipdate DATE"}
if split_bytes > 0 then opts.max_partition_bytes = split_bytes end
local price = F.col("l_extendedprice")
local disc_price = price * (1 - F.col("l_discount"))
local rows = sc.read:csv(input, opts)
  :filter("l_shipdate <= date '1998-09-02'")
  :group_by("l_returnflag", "l_linestatus")
  :agg{sum_qty = F.sum("l_quantity"),
       sum_base_price = F.sum("l_extendedprice"),
       sum_disc_price = F.sum(disc_price),
       sum_charge = F.sum(disc_price * (1 + F.col("l_tax"))),
       avg_qty = F.avg("l_quantity"),
       avg_price = F.avg("l_extendedprice"),
       avg_disc = F.avg("l_discount"),
       count_order = F.count("*")}
  :order_by("l_returnflag", "l_linestatus")
  :collect()
for _, r in ipairs(rows) do
  print(string.format("R %s %s %.2f %.2f %.2f %.2f %.4f %.4f %.4f %d",
    r.l_returnflag, r.l_linestatus, r.sum_qty, r.sum_base_price, r.sum_disc_price,
    r.sum_charge, r.avg_qty, r.avg_price, r.avg_disc, r.count_order))
end
sc:stop()
