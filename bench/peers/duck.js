// Shared by the DuckDB peers: run one SQL query on a fresh in-memory
// database with 2 threads and print its rows (each row one string column,
// already formatted by the query) one per line.
const { DuckDBInstance } = require('@duckdb/node-api');

const LINEITEM = "{'l_orderkey': 'BIGINT', 'l_partkey': 'BIGINT', 'l_suppkey': 'BIGINT', " +
  "'l_linenumber': 'INTEGER', 'l_quantity': 'INTEGER', 'l_extendedprice': 'DOUBLE', " +
  "'l_discount': 'DOUBLE', 'l_tax': 'DOUBLE', 'l_returnflag': 'VARCHAR', " +
  "'l_linestatus': 'VARCHAR', 'l_shipdate': 'DATE'}";
const ORDERS = "{'o_orderkey': 'BIGINT', 'o_custkey': 'BIGINT', 'o_orderstatus': 'VARCHAR', " +
  "'o_totalprice': 'DOUBLE', 'o_orderdate': 'DATE'}";

function csv(path, columns) {
  const p = path.replace(/'/g, "''");
  return `read_csv('${p}', header = true, delim = ',', auto_detect = false, columns = ${columns})`;
}

async function runAndPrint(sql) {
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  try {
    await con.run('SET threads = 2');
    const reader = await con.runAndReadAll(sql);
    const out = reader.getRows().map((r) => String(r[0]));
    process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
  } finally {
    con.closeSync();
    db.closeSync();
  }
}

function main(fn) {
  fn().catch((e) => {
    console.error(e && e.stack ? e.stack : String(e));
    process.exit(1);
  });
}

module.exports = { LINEITEM, ORDERS, csv, runAndPrint, main };
