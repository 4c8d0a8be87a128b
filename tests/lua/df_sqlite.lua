-- DataFrame correctness against an independent oracle, the sqlite3 shell:
-- generated tables with NULLs everywhere, every operator, every join type
-- (broadcast and shuffled), aggregates, ordering, a word count, TPC-H Q1
-- shaped queries, malformed-input read modes, writers, and spilling.
package.path = os.getenv("top_srcdir") .. "/tests/tap/?.lua;" .. package.path
local t = require("tap")
local ember = require("ember")
local H = dofile(os.getenv("top_srcdir") .. "/tests/lua/df_helpers.lua")
local col, NULL = ember.col, H.NULL
local fmt = string.format

local tmp = H.mkdtemp()
local sessions = {}
local function session(conf, master)
  local sc = ember.session{app = "df_sqlite", master = master or "local-cluster[2,1,512]",
                           conf = conf}
  sessions[#sessions + 1] = sc
  return sc
end
local function stop_all()
  for _, sc in ipairs(sessions) do pcall(sc.stop, sc) end
end

-- printf('%.6f') of a SQL expression, keeping NULL
local function F(x) return "CASE WHEN (" .. x .. ") IS NULL THEN NULL ELSE printf('%.6f', " .. x .. ") END" end
-- full precision for comparisons with a numeric tolerance
local function G(x) return "CASE WHEN (" .. x .. ") IS NULL THEN NULL ELSE printf('%.17g', " .. x .. ") END" end

local function body()
  ---------------------------------------------------------------- data
  local r = H.rng(20240607)
  local tcols = {{"id", "bigint"}, {"k", "string"}, {"g", "int"}, {"v", "double"},
                 {"d", "date"}, {"flag", "boolean"}}
  local ucols = {{"k", "string"}, {"w", "bigint"}, {"name", "string"}}
  local tkeys = {}
  for i = 0, 99 do tkeys[#tkeys + 1] = fmt("key%03d", i) end
  for _, s in ipairs({"", "", " Pad ", "MiXeD", "a,b", "x y"}) do tkeys[#tkeys + 1] = s end
  local ukeys = {}
  for i = 50, 249 do ukeys[#ukeys + 1] = fmt("key%03d", i) end
  for _, s in ipairs({"", " Pad ", "a,b"}) do ukeys[#ukeys + 1] = s end
  local function maybe(v) if r.pct(5) then return NULL end return v end
  local trows = {}
  for i = 1, 3000 do
    trows[i] = {
      maybe(5000000000 + r.int(0, 2500)),   -- duplicates and > 2^31
      maybe(r.pick(tkeys)),
      maybe(r.int(-10, 20)),
      maybe(r.int(-50000, 100000) / 100),
      maybe(fmt("%04d-%02d-%02d", r.int(2019, 2024), r.int(1, 12), r.int(1, 28))),
      maybe(r.pct(50)),
    }
  end
  local urows = {}
  for i = 1, 500 do
    urows[i] = {maybe(r.pick(ukeys)), maybe(r.int(1, 1000)), maybe("n" .. r.int(1, 300))}
  end
  local tcsv, ucsv = tmp .. "/t.csv", tmp .. "/u.csv"
  H.write_csv(tcsv, tcols, trows)
  H.write_csv(ucsv, ucols, urows)

  -- lineitem / orders shaped tables
  local ocols = {{"o_orderkey", "bigint"}, {"o_custkey", "bigint"},
                 {"o_orderpriority", "string"}, {"o_orderdate", "date"}}
  local lcols = {{"l_orderkey", "bigint"}, {"l_quantity", "double"},
                 {"l_extendedprice", "double"}, {"l_discount", "double"}, {"l_tax", "double"},
                 {"l_returnflag", "string"}, {"l_linestatus", "string"}, {"l_shipdate", "date"}}
  local prios = {"1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"}
  local orows, lrows = {}, {}
  for i = 1, 1200 do
    orows[i] = {i, r.int(1, 150), r.pick(prios),
                fmt("%04d-%02d-%02d", r.int(1992, 1998), r.int(1, 12), r.int(1, 28))}
  end
  for i = 1, 5000 do
    local q = r.int(1, 50)
    lrows[i] = {r.int(1, 1300), q, q * r.int(90000, 110000) / 100, r.int(0, 10) / 100,
                r.int(0, 8) / 100, r.pick({"A", "N", "R"}), r.pick({"F", "O"}),
                fmt("%04d-%02d-%02d", r.int(1992, 1998), r.int(1, 12), r.int(1, 28))}
  end
  local ocsv, lcsv = tmp .. "/orders.csv", tmp .. "/lineitem.csv"
  H.write_csv(ocsv, ocols, orows)
  H.write_csv(lcsv, lcols, lrows)

  local sqlt = {"BEGIN;"}
  H.sql_table(sqlt, "t", tcols, trows)
  H.sql_table(sqlt, "u", ucols, urows)
  H.sql_table(sqlt, "orders", ocols, orows)
  H.sql_table(sqlt, "lineitem", lcols, lrows)
  sqlt[#sqlt + 1] = "COMMIT;"
  H.write_file(tmp .. "/data.sql", table.concat(sqlt, "\n") .. "\n")
  local db = tmp .. "/db.sqlite"
  assert(os.execute("sqlite3 " .. H.sh(db) .. " < " .. H.sh(tmp .. "/data.sql")), "sqlite3 load failed")
  local function oracle(q) return H.oracle(db, tmp, q) end

  -- ember rows vs sqlite rows; opts: ordered, tol (relative, for doubles
  -- printed with %.17g on both sides)
  local function check(desc, mk, query, opts)
    opts = opts or {}
    local ok, df = pcall(mk)
    local got
    if ok then
      ok, got = pcall(function() return H.norm(df, df:collect(), opts.tol ~= nil) end)
    else got = df end
    if not ok then
      t.ok(false, desc)
      t.diag("ember raised: " .. tostring(got))
      return nil
    end
    local want = H.lines(oracle(query), opts.ordered)
    local gl = H.lines(got, opts.ordered)
    local same, diff = H.diff(gl, want, opts.tol)
    t.ok(same, fmt("%s (%d rows)", desc, #want))
    if not same then t.diag(diff) end
    return gl
  end

  local sc = session()
  local tdf = sc.read:csv(tcsv, {header = true, schema = H.ddl(tcols)})
  local udf = sc.read:csv(ucsv, {header = true, schema = H.ddl(ucols)})
  local function T() return tdf end
  local TALL = "id, k, g, " .. F("v") .. ", d, flag"

  ---------------------------------------------------------------- reading
  check("read csv with a schema: every row and value", T, "SELECT " .. TALL .. " FROM t")
  check("read csv u", function() return udf end, "SELECT k, w, name FROM u")
  local inf = sc.read:csv(tcsv, {header = true, infer_schema = true})
  t.same(inf:dtypes(), {{"id", "bigint"}, {"k", "string"}, {"g", "int"}, {"v", "double"},
                        {"d", "date"}, {"flag", "boolean"}}, "infer_schema: column types")
  check("infer_schema: same values", function() return inf end, "SELECT " .. TALL .. " FROM t")
  t.is(tdf:count(), 3000, "count()")

  ---------------------------------------------------------------- select
  check("arithmetic + - * / % on int, bigint, double", function()
    return tdf:select("id", (col("g") + 1):alias("g1"), (col("id") - col("g")):alias("dif"),
                      (col("g") * 3):alias("m"), (col("v") / col("g")):alias("q"),
                      (col("g") % 7):alias("r"), (col("id") % col("g")):alias("r2"),
                      (-col("v")):alias("nv"), (col("v") * 2 + 1.5):alias("x"))
  end, "SELECT id, g + 1, id - g, g * 3, " .. F("v / g") .. ", g % 7, id % g, " ..
       F("-v") .. ", " .. F("v * 2 + 1.5") .. " FROM t")
  check("integer / integer is a double; / 0 is NULL", function()
    return tdf:select((col("g") / 4):alias("a"), (col("id") / col("g")):alias("b"))
  end, "SELECT " .. F("CAST(g AS REAL) / 4") .. ", " .. F("CAST(id AS REAL) / g") .. " FROM t")
  check("abs", function()
    return tdf:select(ember.abs("g"):alias("a"), ember.abs("v"):alias("b"))
  end, "SELECT abs(g), " .. F("abs(v)") .. " FROM t")
  check("string functions lower upper length substring trim ltrim rtrim", function()
    return tdf:select(ember.lower("k"), ember.upper("k"), ember.length("k"),
                      ember.substring("k", 2, 3), ember.trim("k"), ember.ltrim("k"),
                      ember.rtrim("k"))
  end, "SELECT lower(k), upper(k), length(k), substr(k, 2, 3), trim(k), ltrim(k), rtrim(k) FROM t")
  check("concat (NULL in, NULL out) and ..", function()
    return tdf:select(ember.concat("k", ember.lit("_"), col("g"):cast("string")):alias("c"),
                      (col("k") .. ember.lit("!")):alias("e"))
  end, "SELECT k || '_' || CAST(g AS TEXT), k || '!' FROM t")
  check("date functions year month day date_add date_sub, date + int", function()
    return tdf:select(ember.year("d"), ember.month("d"), ember.day("d"),
                      ember.date_add("d", 30), ember.date_sub("d", 45), (col("d") + 400):alias("p"))
  end, "SELECT CAST(strftime('%Y', d) AS INTEGER), CAST(strftime('%m', d) AS INTEGER), " ..
       "CAST(strftime('%d', d) AS INTEGER), date(d, '+30 days'), date(d, '-45 days'), " ..
       "date(d, '+400 days') FROM t")
  check("case when / otherwise with NULL conditions", function()
    return tdf:select("id", ember.when(col("g"):gt(10), ember.lit("big")):when(col("g"):gt(0), ember.lit("small"))
                      :otherwise(ember.lit("neg")):alias("c"),
                      ember.when(col("flag"), col("g")):alias("c2"))
  end, "SELECT id, CASE WHEN g > 10 THEN 'big' WHEN g > 0 THEN 'small' ELSE 'neg' END, " ..
       "CASE WHEN flag THEN g END FROM t")
  check("coalesce", function()
    return tdf:select(ember.coalesce("k", ember.lit("none")):alias("a"),
                      ember.coalesce("g", ember.lit(-99)):alias("b"),
                      ember.coalesce(col("v"), col("g")):alias("c"))
  end, "SELECT coalesce(k, 'none'), coalesce(g, -99), " .. F("coalesce(v, g)") .. " FROM t")
  check("cast double->bigint, int->double, int->string, boolean->int, bigint->double, date->string", function()
    return tdf:select(col("v"):cast("bigint"), col("g"):cast("double"), col("g"):cast("string"),
                      col("flag"):cast("int"), col("id"):cast("double"), col("d"):cast("string"))
  end, "SELECT CAST(v AS INTEGER), " .. F("CAST(g AS REAL)") .. ", CAST(g AS TEXT), flag, " ..
       F("CAST(id AS REAL)") .. ", d FROM t")
  check("SQL expression strings in select", function()
    return tdf:select("id", "upper(k) as uk", "g * 2 + 1 as x",
                      "case when g > 0 then 'pos' else 'nonpos' end as s",
                      "cast(v as bigint) as vb", "coalesce(g, 0) + length(k) as y")
  end, "SELECT id, upper(k), g * 2 + 1, CASE WHEN g > 0 THEN 'pos' ELSE 'nonpos' END, " ..
       "CAST(v AS INTEGER), coalesce(g, 0) + length(k) FROM t")
  check("three-valued AND / OR / NOT as values", function()
    return tdf:select("id", col("g"):gt(5):and_(col("flag")):alias("a"),
                      col("g"):gt(5):or_(col("flag")):alias("o"), col("flag"):not_():alias("n"),
                      col("g"):eqns(col("id") % 10):alias("ns"), col("k"):is_null():alias("kn"))
  end, "SELECT id, (g > 5) AND flag, (g > 5) OR flag, NOT flag, g IS (id % 10), k IS NULL FROM t")

  ---------------------------------------------------------------- filter
  local filters = {
    {"g > 5", col("g"):gt(5), "g > 5"},
    {"g >= 5", col("g"):ge(5), "g >= 5"},
    {"g < 0", col("g"):lt(0), "g < 0"},
    {"g <= 0", col("g"):le(0), "g <= 0"},
    {"g = 3", col("g"):eq(3), "g = 3"},
    {"g != 3", col("g"):ne(3), "g <> 3"},
    {"v > 100.5", col("v"):gt(100.5), "v > 100.5"},
    {"k = 'key010'", col("k"):eq(ember.lit("key010")), "k = 'key010'"},
    {"k < 'key050' (strings)", col("k"):lt(ember.lit("key050")), "k < 'key050'"},
    {"k = '' (empty string is not NULL)", col("k"):eq(ember.lit("")), "k = ''"},
    {"d > date '2022-06-30'", ember.expr("d > date '2022-06-30'"), "d > '2022-06-30'"},
    {"d compared with a string", col("d"):le(ember.lit("2020-02-15")), "d <= '2020-02-15'"},
    {"g > 5 AND flag", col("g"):gt(5):and_(col("flag")), "g > 5 AND flag"},
    {"g > 5 OR flag", col("g"):gt(5):or_(col("flag")), "g > 5 OR flag"},
    {"NOT (g > 5)", col("g"):gt(5):not_(), "NOT (g > 5)"},
    {"NOT (g > 5 OR flag)", col("g"):gt(5):or_(col("flag")):not_(), "NOT (g > 5 OR flag)"},
    {"NOT (g > 5 AND flag)", col("g"):gt(5):and_(col("flag")):not_(), "NOT (g > 5 AND flag)"},
    {"flag", col("flag"), "flag"},
    {"NOT flag", col("flag"):not_(), "NOT flag"},
    {"is_null(k)", col("k"):is_null(), "k IS NULL"},
    {"is_not_null(v)", col("v"):is_not_null(), "v IS NOT NULL"},
    {"g isin {1,2,3}", col("g"):isin{1, 2, 3}, "g IN (1, 2, 3)"},
    {"k isin with ''", col("k"):isin{ember.lit("key001"), ember.lit(""), ember.lit("key002")}, "k IN ('key001', '', 'key002')"},
    {"g between 2 and 8", col("g"):between(2, 8), "g BETWEEN 2 AND 8"},
    {"v between -10 and 10.5", col("v"):between(-10, 10.5), "v BETWEEN -10 AND 10.5"},
    {"k like 'key0%'", col("k"):like("key0%"), "k LIKE 'key0%'"},
    {"k like '%5'", col("k"):like("%5"), "k LIKE '%5'"},
    {"k like '_ey1_3'", col("k"):like("_ey1_3"), "k LIKE '_ey1_3'"},
    {"k like 'mixed' (case-sensitive)", col("k"):like("mixed"), "k LIKE 'mixed'"},
    {"SQL: g > 3 and v < 0", "g > 3 and v < 0", "g > 3 AND v < 0"},
    {"SQL: k like 'key1%' or g is null", "k like 'key1%' or g is null", "k LIKE 'key1%' OR g IS NULL"},
    {"SQL: d between dates", "d between date '2020-01-01' and date '2020-12-31'",
     "d BETWEEN '2020-01-01' AND '2020-12-31'"},
    {"SQL: g not in (1, 2) (NULL g drops)", "g not in (1, 2)", "g NOT IN (1, 2)"},
    {"SQL: upper(k) = 'MIXED'", "upper(k) = 'MIXED'", "upper(k) = 'MIXED'"},
    {"SQL: not flag or g = 0", "not flag or g = 0", "NOT flag OR g = 0"},
  }
  for _, f in ipairs(filters) do
    check("filter " .. f[1], function() return tdf:filter(f[2]) end,
          "SELECT " .. TALL .. " FROM t WHERE " .. f[3])
  end
  local nf = tdf:filter("g > 3 and v < 0"):count()
  t.is(nf, tonumber(oracle("SELECT count(*) FROM t WHERE g > 3 AND v < 0")[1][1]),
       "count() of a filter")
  check("where + select chain with a filter above a projection", function()
    return tdf:select("id", (col("g") * 2):alias("g2"), "k"):where(col("g2"):gt(10)):filter("k is not null")
  end, "SELECT id, g * 2, k FROM t WHERE g * 2 > 10 AND k IS NOT NULL")

  ---------------------------------------------------------------- aggregates
  -- agg{name = expr} gives the keys, then the aggregates sorted by name
  -- (avg of 2-decimal values can end in an exact 5 at the 7th decimal:
  -- this one compares %.17g with a relative tolerance of 1e-9)
  check("group_by k: sum count count(*) avg min max count_distinct (NULL key group)", function()
    return tdf:group_by("k"):agg{sg = ember.sum("g"), cg = ember.count("g"), n = ember.count("*"),
                                 av = ember.avg("v"), mn = ember.min("v"), mx = ember.max("v"),
                                 sv = ember.sum("v"), cd = ember.count_distinct("g"),
                                 md = ember.min("d"), xd = ember.max("d")}
  end, "SELECT k, " .. G("avg(v)") .. ", count(DISTINCT g), count(g), min(d), " .. G("min(v)") ..
       ", " .. G("max(v)") .. ", count(*), sum(g), " .. G("sum(v)") .. ", max(d) FROM t GROUP BY k",
       {tol = 1e-9})
  check("group_by g (NULL group): count(*), sum(v), min/max of strings", function()
    return tdf:group_by("g"):agg{n = ember.count("*"), s = ember.sum("v"),
                                 a = ember.min("k"), b = ember.max("k")}
  end, "SELECT g, min(k), max(k), count(*), " .. F("sum(v)") .. " FROM t GROUP BY g")
  check("group_by two keys k, flag", function()
    return tdf:group_by("k", "flag"):agg{n = ember.count("*"), s = ember.sum("id")}
  end, "SELECT k, flag, count(*), sum(id) FROM t GROUP BY k, flag")
  check("group_by an expression (year(d))", function()
    return tdf:group_by(ember.year("d"):alias("y")):agg{n = ember.count("*"), cd = ember.count_distinct("k")}
  end, "SELECT CAST(strftime('%Y', d) AS INTEGER), count(DISTINCT k), count(*) FROM t GROUP BY 1")
  check("aggregate of an expression, SQL string aggregates", function()
    return tdf:group_by("flag"):agg{a = ember.sum(col("g") * 2 + 1), b = ember.expr("count(distinct k)"),
                                    c = ember.expr("max(v) - min(v)")}
  end, "SELECT flag, sum(g * 2 + 1), count(DISTINCT k), " .. F("max(v) - min(v)") .. " FROM t GROUP BY flag")
  check("GroupedData:count()", function() return tdf:group_by("k"):count() end,
        "SELECT k, count(*) FROM t GROUP BY k")
  check("GroupedData:sum", function()
    return tdf:group_by("g"):sum("v")
  end, "SELECT g, " .. F("sum(v)") .. " FROM t GROUP BY g")
  check("GroupedData:avg", function() return tdf:group_by("flag"):avg("g") end,
        "SELECT flag, " .. F("avg(g)") .. " FROM t GROUP BY flag")
  check("GroupedData:min / max", function() return tdf:group_by("flag"):max("d") end,
        "SELECT flag, max(d) FROM t GROUP BY flag")
  check("global agg (no keys)", function()
    return tdf:agg{n = ember.count("*"), s = ember.sum("g"), a = ember.avg("v"),
                   mn = ember.min("d"), mx = ember.max("k"), cd = ember.count_distinct("k"),
                   ck = ember.count("k")}
  end, "SELECT " .. F("avg(v)") .. ", count(DISTINCT k), count(k), min(d), max(k), count(*), sum(g) FROM t")
  check("global agg over an empty filter: count 0, sum/avg/min NULL", function()
    return tdf:filter("g > 1000"):agg{n = ember.count("*"), s = ember.sum("g"), sv = ember.sum("v"),
                                      a = ember.avg("v"), mn = ember.min("k"), cd = ember.count_distinct("k")}
  end, "SELECT " .. F("avg(v)") .. ", count(DISTINCT k), min(k), count(*), sum(g), " .. F("sum(v)") ..
       " FROM t WHERE g > 1000")
  -- several map tasks, so partial results of one key meet in the shuffle:
  -- keys that come after the aggregated columns in the input (the shuffle
  -- must find them in the partial aggregate's output, not its input)
  local tdf6 = sc.read:option("max_partition_bytes", 32000):csv(tcsv, {header = true,
                                                                      schema = H.ddl(tcols)})
  t.ok(tdf6:rdd():num_partitions() >= 4, "t read in several partitions")
  check("several partitions: key after the aggregated column", function()
    return tdf6:group_by("flag"):agg{s = ember.sum("g"), n = ember.count("*")}
  end, "SELECT flag, count(*), sum(g) FROM t GROUP BY flag")
  check("several partitions: two keys, avg min max count", function()
    return tdf6:group_by("flag", "k"):agg{a = ember.avg("g"), mn = ember.min("id"),
                                          mx = ember.max("d"), n = ember.count("v")}
  end, "SELECT flag, k, " .. F("avg(g)") .. ", min(id), max(d), count(v) FROM t GROUP BY flag, k")
  check("several partitions: key computed by CASE from later columns", function()
    return tdf6:select("id", "g", ember.when((col("g") % 3):eq(0), 1):otherwise(2):alias("c"))
      :group_by("c"):agg{s = ember.sum("id"), n = ember.count("*")}
  end, "SELECT CASE WHEN g % 3 = 0 THEN 1 ELSE 2 END AS c, count(*), sum(id) FROM t " ..
       "GROUP BY CASE WHEN g % 3 = 0 THEN 1 ELSE 2 END")
  check("count(*) alone, no keys (no column needed at all)", function()
    return tdf:agg{n = ember.count("*")}
  end, "SELECT count(*) FROM t")
  check("count(*) alone over a filter", function()
    return tdf:filter("g > 10"):agg{n = ember.count("*")}
  end, "SELECT count(*) FROM t WHERE g > 10")
  check("group_by over an empty filter: no rows", function()
    return tdf:filter(col("g"):gt(1000)):group_by("k"):count()
  end, "SELECT k, count(*) FROM t WHERE g > 1000 GROUP BY k")
  check("filter on an aggregate result (HAVING)", function()
    return tdf:group_by("k"):agg{n = ember.count("*")}:filter("n > 30")
  end, "SELECT k, count(*) FROM t GROUP BY k HAVING count(*) > 30")

  ---------------------------------------------------------------- joins
  t.same(tdf:join(udf, "k", "inner"):columns(), {"k", "id", "g", "v", "d", "flag", "w", "name"},
         "join USING k: the key appears once, first")
  local UCOLS = "id, g, " .. F("v") .. ", d, flag, w, name"
  local using = {
    inner = "SELECT t.k, " .. UCOLS .. " FROM t JOIN u ON t.k = u.k",
    left = "SELECT t.k, " .. UCOLS .. " FROM t LEFT JOIN u ON t.k = u.k",
    right = "SELECT u.k, " .. UCOLS .. " FROM t RIGHT JOIN u ON t.k = u.k",
    full = "SELECT coalesce(t.k, u.k), " .. UCOLS .. " FROM t FULL JOIN u ON t.k = u.k",
    semi = "SELECT " .. TALL .. " FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.k = t.k)",
    anti = "SELECT " .. TALL .. " FROM t WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.k = t.k)",
  }
  local HOWS = {"inner", "left", "right", "full", "semi", "anti"}
  local bcast = {}
  for _, how in ipairs(HOWS) do
    bcast[how] = check("join on = \"k\" " .. how .. " (broadcast if possible)",
                       function() return tdf:join(udf, "k", how) end, using[how])
  end
  local ECOLS = "t.id, t.k, u.k, u.w"
  local exprj = {
    inner = "SELECT " .. ECOLS .. " FROM t JOIN u ON t.k = u.k",
    left = "SELECT " .. ECOLS .. " FROM t LEFT JOIN u ON t.k = u.k",
    right = "SELECT " .. ECOLS .. " FROM t RIGHT JOIN u ON t.k = u.k",
    full = "SELECT " .. ECOLS .. " FROM t FULL JOIN u ON t.k = u.k",
    semi = "SELECT t.id, t.k FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.k = t.k)",
    anti = "SELECT t.id, t.k FROM t WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.k = t.k)",
  }
  local function ejoin(how)
    local j = tdf:alias("a"):join(udf:alias("b"), col("a.k"):eq(col("b.k")), how)
    if how == "semi" or how == "anti" then return j:select("a.id", "a.k") end
    -- (collect() keys rows by name: the two k columns need distinct names)
    return j:select("a.id", col("a.k"):alias("ak"), col("b.k"):alias("bk"), "b.w")
  end
  for _, how in ipairs(HOWS) do
    check("join on a.k = b.k " .. how, function() return ejoin(how) end, exprj[how])
  end
  check("join on a list of names and a filter on the right side", function()
    return tdf:join(udf, {"k"}, "left"):filter(col("w"):gt(500)):select("k", "id", "w")
  end, "SELECT t.k, id, w FROM t LEFT JOIN u ON t.k = u.k WHERE w > 500")
  check("join with an extra condition in the expression", function()
    return tdf:alias("a"):join(udf:alias("b"), col("a.k"):eq(col("b.k")):and_(col("b.w"):lt(col("a.g") * 50)), "inner")
      :select("a.id", "b.w")
  end, "SELECT t.id, u.w FROM t JOIN u ON t.k = u.k AND u.w < t.g * 50")
  check("join + aggregate", function()
    return tdf:join(udf, "k", "inner"):group_by("k"):agg{n = ember.count("*"), s = ember.sum("w")}
  end, "SELECT t.k, count(*), sum(w) FROM t JOIN u ON t.k = u.k GROUP BY t.k")
  t.ok(tdf:join(udf, "k", "inner"):explain_string():find("BroadcastHashJoin", 1, true) ~= nil,
       "a small right side is broadcast by default")

  ---------------------------------------------------------------- ordering
  check("order_by g asc, id desc (NULLs first asc, last desc)", function()
    return tdf:order_by(col("g"):asc(), ember.desc("id")):select("g", "id")
  end, "SELECT g, id FROM t ORDER BY g ASC, id DESC", {ordered = true})
  check("order_by asc_nulls_last, desc_nulls_first", function()
    return tdf:order_by(col("g"):asc_nulls_last(), col("v"):desc_nulls_first()):select("g", "v")
  end, "SELECT g, " .. F("v") .. " FROM t ORDER BY g ASC NULLS LAST, v DESC NULLS FIRST", {ordered = true})
  check("order_by SQL strings 'k desc nulls last', 'd'", function()
    return tdf:order_by("k desc nulls last", "d"):select("k", "d")
  end, "SELECT k, d FROM t ORDER BY k DESC NULLS LAST, d", {ordered = true})
  check("order_by strings ascending (byte order)", function()
    return tdf:select("k"):order_by("k")
  end, "SELECT k FROM t ORDER BY k", {ordered = true})
  check("order_by d desc, id + limit 25", function()
    return tdf:order_by(ember.desc("d"), "id"):limit(25):select("d", "id")
  end, "SELECT d, id FROM t ORDER BY d DESC, id LIMIT 25", {ordered = true})
  check("order_by v desc + limit 10 after a filter", function()
    return tdf:filter("flag"):select("v", "g"):order_by(ember.desc("v"), "g"):limit(10)
  end, "SELECT " .. F("v") .. ", g FROM t WHERE flag ORDER BY v DESC, g LIMIT 10", {ordered = true})
  check("order_by an expression", function()
    return tdf:select("id", "g"):order_by((col("g") * -1):asc(), "id")
  end, "SELECT id, g FROM t ORDER BY g * -1, id", {ordered = true})
  local tk = tdf:select("id"):filter("id is not null"):order_by("id"):take(5)
  local wantk = oracle("SELECT id FROM t WHERE id IS NOT NULL ORDER BY id LIMIT 5")
  local gotk = {}
  for i, row in ipairs(tk) do gotk[i] = {fmt("%d", row.id)} end
  t.same(gotk, wantk, "take(5) of an ordered frame")
  local fr = tdf:order_by(ember.desc("id")):first()
  t.is(fr and fr.id, math.tointeger(oracle("SELECT max(id) FROM t")[1][1]), "first() of order_by desc")
  t.is(tdf:limit(100):count(), 100, "limit(100):count()")
  t.is(#tdf:take(7), 7, "take(7) gives 7 rows")

  ---------------------------------------------------------------- set ops, columns
  check("distinct", function() return tdf:select("k", "flag"):distinct() end,
        "SELECT DISTINCT k, flag FROM t")
  check("union (all, by position)", function() return tdf:select("k", "g"):union(udf:select("k", "w")) end,
        "SELECT k, g FROM t UNION ALL SELECT k, w FROM u")
  check("union then distinct", function() return tdf:select("k"):union(udf:select("k")):distinct() end,
        "SELECT k FROM t UNION SELECT k FROM u")
  check("drop_duplicates({k, flag})", function()
    return tdf:drop_duplicates({"k", "flag"}):select("k", "flag")
  end, "SELECT DISTINCT k, flag FROM t")
  t.is(tdf:drop_duplicates({"k"}):count(), tonumber(oracle("SELECT count(DISTINCT coalesce(k, '<null>')) FROM t")[1][1]),
       "drop_duplicates({k}) keeps one row per key (NULL is one key)")
  -- every row drop_duplicates keeps is a whole input row (one signature
  -- string per row, NULLs spelled out, so the semi join is NULL-safe)
  local sig_sql = "concat(coalesce(cast(id as string), '~'), '|', coalesce(k, '~'), '|', " ..
    "coalesce(cast(g as string), '~'), '|', coalesce(cast(v as string), '~'), '|', " ..
    "coalesce(cast(d as string), '~'), '|', coalesce(cast(flag as string), '~')) as s"
  local dd = tdf:drop_duplicates({"k"})
  t.is(dd:select(sig_sql):join(tdf:select(sig_sql):distinct(), "s", "semi"):count(), dd:count(),
       "drop_duplicates({k}) keeps whole input rows, not values from several")
  check("first() per group is some row's value (NULLs kept)", function()
    return tdf:group_by("k"):agg{n = ember.count("*"), f = ember.first("flag")}
      :filter("n = 1"):select("k", "f")
  end, "SELECT k, flag FROM t WHERE coalesce(k, '~') IN (SELECT coalesce(k, '~') FROM t " ..
       "GROUP BY k HAVING count(*) = 1)")
  check("drop_duplicates() = distinct over every column", function()
    return tdf:union(tdf):drop_duplicates()
  end, "SELECT DISTINCT " .. TALL .. " FROM t")
  local wc = tdf:with_column("x", col("g") * 2):with_column("g", col("g") + 1)
  t.same(wc:columns(), {"id", "k", "g", "v", "d", "flag", "x"}, "with_column adds at the end, replaces in place")
  check("with_column values", function() return wc end,
        "SELECT id, k, g + 1, " .. F("v") .. ", d, flag, g * 2 FROM t")
  local rn = tdf:with_column_renamed("k", "key"):drop("v", "d")
  t.same(rn:columns(), {"id", "key", "g", "flag"}, "with_column_renamed + drop")
  check("with_column_renamed + drop values, filter on the new name", function()
    return rn:filter(col("key"):like("key1%"))
  end, "SELECT id, k, g, flag FROM t WHERE k LIKE 'key1%'")

  ---------------------------------------------------------------- word count
  local words = {"spark", "ember", "lua", "data", "frame", "join", "shuffle", "x", "Ember"}
  local tl = {}
  local wcount = {}
  for i = 1, 800 do
    local ws = {}
    for j = 1, r.int(0, 12) do
      local w = r.pick(words) .. (r.pct(30) and tostring(r.int(1, 20)) or "")
      ws[#ws + 1] = w
      wcount[w] = (wcount[w] or 0) + 1
      if r.pct(10) then ws[#ws + 1] = "" end -- a double space
    end
    tl[i] = table.concat(ws, " ")
  end
  H.write_file(tmp .. "/words.txt", table.concat(tl, "\n") .. "\n")
  local ok_wc, res_wc = pcall(function()
    return sc.read:text(tmp .. "/words.txt")
      :select(ember.explode(ember.split("value", " ")):alias("word"))
      :filter("word != ''"):group_by("word"):count():collect()
  end)
  local gw = {}
  if ok_wc then for _, row in ipairs(res_wc) do gw[row.word] = row.count end end
  t.ok(ok_wc and t.deep_equal(gw, wcount), "word count with explode(split) = counts in plain Lua")
  if not ok_wc then t.diag(tostring(res_wc)) end

  ---------------------------------------------------------------- TPC-H shaped
  local li = sc.read:csv(lcsv, {header = true, schema = H.ddl(lcols)})
  local od = sc.read:csv(ocsv, {header = true, schema = H.ddl(ocols)})
  -- sums of products of 2-decimal doubles: both sides print %.17g and the
  -- values must agree within a relative tolerance of 1e-9 (the order of
  -- floating-point additions differs between the engines)
  local TOL = 1e-9
  check("TPC-H Q1 shape", function()
    local F_ = ember
    return li:filter("l_shipdate <= date '1998-09-02' - 90")
      :group_by("l_returnflag", "l_linestatus")
      :agg{sum_qty = F_.sum("l_quantity"), sum_base_price = F_.sum("l_extendedprice"),
           sum_disc_price = F_.sum(col("l_extendedprice") * (1 - col("l_discount"))),
           sum_charge = F_.sum(col("l_extendedprice") * (1 - col("l_discount")) * (1 + col("l_tax"))),
           avg_qty = F_.avg("l_quantity"), avg_price = F_.avg("l_extendedprice"),
           avg_disc = F_.avg("l_discount"), count_order = F_.count("*")}
      :order_by("l_returnflag", "l_linestatus")
  end, "SELECT l_returnflag, l_linestatus, " .. G("avg(l_discount)") .. ", " ..
       G("avg(l_extendedprice)") .. ", " .. G("avg(l_quantity)") .. ", count(*), " ..
       G("sum(l_extendedprice)") .. ", " ..
       G("sum(l_extendedprice * (1 - l_discount) * (1 + l_tax))") .. ", " ..
       G("sum(l_extendedprice * (1 - l_discount))") .. ", " .. G("sum(l_quantity)") ..
       " FROM lineitem WHERE l_shipdate <= date('1998-09-02', '-90 days')" ..
       " GROUP BY l_returnflag, l_linestatus ORDER BY l_returnflag, l_linestatus",
       {ordered = true, tol = TOL})
  check("join + aggregate (Q3/Q4 shape): revenue per order priority", function()
    return li:join(od, col("l_orderkey"):eq(col("o_orderkey")), "inner")
      :filter("o_orderdate >= date '1994-01-01' and l_discount > 0.02")
      :group_by("o_orderpriority")
      :agg{revenue = ember.sum(col("l_extendedprice") * (1 - col("l_discount"))),
           n = ember.count("*"), orders = ember.count_distinct("o_orderkey")}
      :order_by(ember.desc("revenue"))
  end, "SELECT o_orderpriority, count(*), count(DISTINCT o_orderkey), " ..
       G("sum(l_extendedprice * (1 - l_discount))") ..
       " FROM lineitem JOIN orders ON l_orderkey = o_orderkey" ..
       " WHERE o_orderdate >= '1994-01-01' AND l_discount > 0.02" ..
       " GROUP BY o_orderpriority ORDER BY 4 DESC", {ordered = true, tol = TOL})
  check("lineitem left join orders: unmatched order keys", function()
    return li:join(od, col("l_orderkey"):eq(col("o_orderkey")), "anti"):group_by("l_returnflag"):count()
  end, "SELECT l_returnflag, count(*) FROM lineitem WHERE l_orderkey NOT IN (SELECT o_orderkey FROM orders)" ..
       " GROUP BY l_returnflag")

  ---------------------------------------------------------------- read modes
  local bad = tmp .. "/bad.csv"
  H.write_file(bad, "a,b,c\n1,x,10\n2,y\n3,z,30\nabc,w,40\n5,v,50\n")
  local function badf(mode)
    return sc.read:csv(bad, {header = true, schema = "a int, b string, c int", mode = mode})
  end
  local function rows3(df)
    local out = {}
    for _, l in ipairs(H.lines(H.norm(df, df:collect()))) do out[#out + 1] = l:gsub("\x1f", ",") end
    return out
  end
  local pm = badf("PERMISSIVE")
  local okp, rp = pcall(rows3, pm)
  t.same(okp and rp, {",w,40", "1,x,10", "2,y,", "3,z,30", "5,v,50"},
         "PERMISSIVE keeps malformed rows with the bad fields NULL")
  t.is(pm:malformed_count(), 2, "PERMISSIVE: malformed_count() = 2")
  local dm = badf("DROPMALFORMED")
  local okd, rd = pcall(rows3, dm)
  t.same(okd and rd, {"1,x,10", "3,z,30", "5,v,50"}, "DROPMALFORMED drops them")
  t.is(dm:malformed_count(), 2, "DROPMALFORMED: malformed_count() = 2")
  local okf, ef = pcall(function() return badf("FAILFAST"):collect() end)
  ef = tostring(ef)
  t.ok(not okf and ef:find("bad.csv:3:", 1, true) and ef:find("malformed", 1, true),
       "FAILFAST fails naming file:line and 'malformed'")
  if okf or not ef:find("bad.csv:3:", 1, true) then t.diag("error: " .. ef) end

  ---------------------------------------------------------------- writing
  -- the same rows (sorted)? diagnoses the differences, asserts nothing
  local function same_rows(desc, got_df, want_df)
    local a = H.lines(H.norm(got_df, got_df:collect()))
    local b = H.lines(H.norm(want_df, want_df:collect()))
    local same, diff = H.diff(a, b)
    if not same then t.diag(desc .. ":\n" .. diff) end
    return same
  end
  -- an assertion that fails (instead of stopping the test) when f raises
  local function try(desc, f)
    local ok, v = pcall(f)
    t.ok(ok and v, desc)
    if not ok then t.diag("raised: " .. tostring(v)) end
  end
  local out = tmp .. "/out_csv"
  try("write csv (overwrite into a new dir)", function()
    tdf.write:mode("overwrite"):csv(out, {header = true}); return true
  end)
  t.ok(H.exists(out .. "/_SUCCESS"), "_SUCCESS after a successful write")
  try("csv round trip", function()
    return same_rows("csv round trip", sc.read:csv(out, {header = true, schema = H.ddl(tcols)}), tdf)
  end)
  try("write json", function() tdf.write:json(tmp .. "/out_json"); return true end)
  try("json round trip", function()
    local jdf = sc.read:json(tmp .. "/out_json"):select("id", "k", "g", "v", "d", "flag")
    t.diag("json read back as: " .. jdf:schema_string())
    return same_rows("json round trip", jdf, tdf)
  end)
  try("write ember columnar", function() tdf.write:ember(tmp .. "/out_ecol"); return true end)
  try("columnar keeps the types", function()
    return t.deep_equal(sc.read:ember(tmp .. "/out_ecol"):dtypes(), tdf:dtypes())
  end)
  try("columnar round trip", function()
    return same_rows("columnar round trip", sc.read:ember(tmp .. "/out_ecol"), tdf)
  end)
  check("columnar: filter with row-group statistics", function()
    return sc.read:ember(tmp .. "/out_ecol"):filter("id < 5000000100")
  end, "SELECT " .. TALL .. " FROM t WHERE id < 5000000100")
  -- the mode checks on a directory that surely exists with 3000 rows
  local out2 = tmp .. "/out_modes"
  os.execute("mkdir -p " .. H.sh(out2) .. " && cp " .. H.sh(tcsv) .. " " .. H.sh(out2 .. "/part-00000.csv"))
  t.raises(function() tdf.write:csv(out2) end, "already exists", "errorifexists on an existing dir raises")
  try("mode ignore leaves the dir as it was", function()
    tdf:limit(5).write:mode("ignore"):csv(out2, {header = true})
    return sc.read:csv(out2, {header = true}):count() == 3000
  end)
  try("mode append adds the rows (count doubles)", function()
    tdf.write:mode("append"):csv(out2, {header = true})
    return sc.read:csv(out2, {header = true}):count() == 6000
  end)
  try("mode overwrite replaces", function()
    tdf:limit(10).write:mode("overwrite"):csv(out2, {header = true})
    return sc.read:csv(out2, {header = true}):count() == 10 and H.exists(out2 .. "/_SUCCESS")
  end)

  ---------------------------------------------------------------- spill data
  -- 200k rows, 40k groups, computed first in this (normal) session
  local big = tmp .. "/big.csv"
  do
    local f = assert(io.open(big, "w"))
    f:write("a,b,c\n")
    local buf = {}
    for i = 1, 200000 do
      buf[#buf + 1] = fmt("%d,\"g%05d\",%d.%02d\n", i, r.int(0, 39999), r.int(-999, 999), r.int(0, 99))
      if #buf == 5000 then f:write(table.concat(buf)); buf = {} end
    end
    f:write(table.concat(buf))
    f:close()
  end
  local function spill_queries(s)
    local b = s.read:csv(big, {header = true, schema = "a bigint, b string, c double"})
    local q1 = b:group_by("b"):agg{n = ember.count("*"), s = ember.sum("a"), mx = ember.max("c"),
                                   cd = ember.count_distinct(col("a") % 7)}
    local q2 = b:order_by("b", ember.desc("c"), "a")
    local q3 = b:join(b:select((col("a") + 1):alias("a"), col("b"):alias("b2")), "a", "inner")
               :group_by("b2"):count()
    return table.concat(H.lines(H.norm(q1, q1:collect())), "\n"),
           table.concat(H.lines(H.norm(q2, q2:collect()), true), "\n"),
           table.concat(H.lines(H.norm(q3, q3:collect())), "\n")
  end
  local normal = table.pack(pcall(spill_queries, sc))
  if not normal[1] then t.diag("spill queries in the normal session: " .. tostring(normal[2])) end
  sc:stop()

  ---------------------------------------------------------------- shuffled joins
  local sc2 = session{["sql.autoBroadcastJoinThreshold"] = "-1"}
  tdf = sc2.read:csv(tcsv, {header = true, schema = H.ddl(tcols)})
  udf = sc2.read:csv(ucsv, {header = true, schema = H.ddl(ucols)})
  local pj = tdf:join(udf, "k", "inner"):explain_string()
  t.ok(pj:find("ShuffledHashJoin", 1, true) and not pj:find("BroadcastHashJoin", 1, true),
       "threshold -1 forces a shuffled hash join")
  for _, how in ipairs(HOWS) do
    local got = check("shuffled join on = \"k\" " .. how,
                      function() return tdf:join(udf, "k", how) end, using[how])
    t.ok(got and bcast[how] and table.concat(got, "\n") == table.concat(bcast[how], "\n"),
         "shuffled " .. how .. " join = broadcast " .. how .. " join")
  end
  for _, how in ipairs({"inner", "full", "anti"}) do
    check("shuffled join on a.k = b.k " .. how, function() return ejoin(how) end, exprj[how])
  end
  sc2:stop()

  ---------------------------------------------------------------- spilling
  local sc3 = session({["executor.memory"] = "32m"}, "local-cluster[2,1,32]")
  local small = table.pack(pcall(spill_queries, sc3))
  if not small[1] then t.diag("spill queries with 32m executors: " .. tostring(small[2])) end
  t.ok(normal[1] and small[1] and normal[2] == small[2] and #normal[2] > 0,
       "group_by of 200k rows, 40k groups: 32m executors = normal session")
  t.ok(normal[1] and small[1] and normal[3] == small[3] and #normal[3] > 0,
       "order_by of 200k rows: 32m executors = normal session")
  t.ok(normal[1] and small[1] and normal[4] == small[4] and #normal[4] > 0,
       "shuffled self-join + group_by of 200k rows: 32m executors = normal session")
  sc3:stop()
end

local t0 = os.time()
local ok, err = pcall(body)
stop_all()
if os.getenv("DF_KEEP") then t.diag("kept " .. tmp) else H.rmrf(tmp) end
if not ok then
  t.ok(false, "the test body ran to its end")
  t.diag(tostring(err))
end
t.diag(fmt("%d s", os.time() - t0))
t.done()
