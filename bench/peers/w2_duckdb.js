#!/usr/bin/env node
// W2 on DuckDB (@duckdb/node-api, 2 threads): TPC-H Q1 shape, straight from
// the CSV with the column types given (no sniffing).
//   node w2_duckdb.js LINEITEM_CSV
const { LINEITEM, csv, runAndPrint, main } = require('./duck.js');

main(async () => {
  const li = csv(process.argv[2], LINEITEM);
  await runAndPrint(`
    SELECT printf('R %s %s %.2f %.2f %.2f %.2f %.4f %.4f %.4f %d',
                  l_returnflag, l_linestatus,
                  sum(l_quantity)::DOUBLE, sum(l_extendedprice),
                  sum(l_extendedprice * (1 - l_discount)),
                  sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)),
                  avg(l_quantity), avg(l_extendedprice), avg(l_discount), count(*))
    FROM ${li}
    WHERE l_shipdate <= DATE '1998-09-02'
    GROUP BY l_returnflag, l_linestatus
    ORDER BY l_returnflag, l_linestatus`);
});
