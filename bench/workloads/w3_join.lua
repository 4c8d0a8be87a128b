-- W3 (DataFrame): join lineitem with orders, aggregate by order status.
--
--   ember submit w3_join.lua LINEITEM_CSV ORDERS_CSV [MAX_PARTITION_BYTES]
--
-- lineitem JOIN orders ON l_orderkey = o_orderkey, group by o_orderstatus:
-- sum(l_extendedprice) and count(*), ordered by status.  The planner picks
-- the join (broadcast below sql.autoBroadcastJoinThreshold, shuffled hash
-- join above).  Prints "R STATUS SUM COUNT", the sum with %.2f (the harness
-- allows one unit in the last digit).
local ember = require("ember")
local F = ember
local li_path = arg[1] or error("usage: w3_join.lua LINEITEM_CSV ORDERS_CSV [MAX_PARTITION_BYTES]")
local o_path = arg[2] or error("usage: w3_join.lua LINEITEM_CSV ORDERS_CSV [MAX_PARTITION_BYTES]")
local split_bytes = tonumber(arg[3] or 0)
local sc = ember.session{app = "bench-w3-join"}

local function opts(schema)
  local o = {header = true, schema = schema}
  if split_bytes > 0 then o.max_partition_bytes = split_bytes end
  return o
end
local li = sc.read:csv(li_path, opts("l_orderkey BIGINT, l_partkey BIGINT, l_suppkey BIGINT, "
  .. "l_linenumber INT, l_quantity INT, l_extendedprice DOUBLE, l_discount DOUBLE, "
  .. "l_tax DOUBLE, l_returnflag STRING, l_linestatus STRING, l_shipdate DATE"))
local o = sc.read:csv(o_path, opts("o_orderkey BIGINT, o_custkey BIGINT, o_orderstatus STRING, "
  .. "o_totalprice DOUBLE, o_orderdate DATE"))
local rows = li:join(o, F.col("l_orderkey"):eq(F.col("o_orderkey")), "inner")
  :group_by("o_orderstatus")
  :agg{revenue = F.sum("l_extendedprice"), n = F.count("*")}
  :order_by("o_orderstatus")
  :collect()
for _, r in ipairs(rows) do
  print(string.format("R %s %.2f %d", r.o_orderstatus, r.revenue, r.n))
end
sc:stop()
