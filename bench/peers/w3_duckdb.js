#!/usr/bin/env node
// W3 on DuckDB (@duckdb/node-api, 2 threads): lineitem JOIN orders ON
// l_orderkey = o_orderkey, group by o_orderstatus: sum(l_extendedprice), count.
//   node w3_duckdb.js LINEITEM_CSV ORDERS_CSV
const { LINEITEM, ORDERS, csv, runAndPrint, main } = require('./duck.js');

main(async () => {
  const li = csv(process.argv[2], LINEITEM);
  const o = csv(process.argv[3], ORDERS);
  await runAndPrint(`
    SELECT printf('R %s %.2f %d', o_orderstatus, sum(l_extendedprice), count(*))
    FROM ${li} JOIN ${o} ON l_orderkey = o_orderkey
    GROUP BY o_orderstatus
    ORDER BY o_orderstatus`);
});
