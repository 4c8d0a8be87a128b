-- The exact text of show(), print_schema() and explain(), in Spark's
-- formats, and the errors of a missing column and a bad SQL expression.
package.path = os.getenv("top_srcdir") .. "/tests/tap/?.lua;" .. package.path
local t = require("tap")
local ember = require("ember")
local H = dofile(os.getenv("top_srcdir") .. "/tests/lua/df_helpers.lua")
local col, null = ember.col, ember.null

local tmp = H.mkdtemp()
local sessions = {}
local function session(conf)
  local sc = ember.session{app = "df_output", master = "local-cluster[2,1,512]", conf = conf}
  sessions[#sessions + 1] = sc
  return sc
end

-- text equal? shows both texts on a mismatch
local function text_is(got, want, desc)
  local ok = t.ok(got == want, desc)
  if not ok then
    t.diag("got:\n" .. tostring(got) .. "\nwanted:\n" .. want)
  end
end
local function lines(...) return table.concat({...}, "\n") .. "\n" end

-- the index of the first line of text containing s (plain), or nil
local function line_of(text, s)
  local i = 0
  for l in text:gmatch("[^\n]*") do
    i = i + 1
    if l:find(s, 1, true) then return i end
  end
end

local function body()
  local sc = session()
  local rows = {
    {1, "alice", 1.5, true, "2020-01-02"},
    {2, "a very long name that exceeds twenty", null, false, "1999-12-31"},
    {3, null, 100.0, null, null},
    {4, "bob", 12345678.9, true, "2024-02-29"},
    {-5, "", -0.25, false, "2000-01-01"},
  }
  -- one slice: the rows keep their order
  local df = sc:create_dataframe(rows, "id bigint, name string, score double, ok boolean, d date", 1)

  ------------------------------------------------------------------ show
  text_is(df:show_string(20, 20), lines(
    "+---+--------------------+------------+-----+----------+",
    "| id|                name|       score|   ok|         d|",
    "+---+--------------------+------------+-----+----------+",
    "|  1|               alice|         1.5| true|2020-01-02|",
    "|  2|a very long name ...|        null|false|1999-12-31|",
    "|  3|                null|       100.0| null|      null|",
    "|  4|                 bob|1.23456789E7| true|2024-02-29|",
    "| -5|                    |       -0.25|false|2000-01-01|",
    "+---+--------------------+------------+-----+----------+"),
    "show: right-aligned, truncated at 20 with ..., null, Java doubles")
  text_is(df:show_string(2), lines(
    "+---+--------------------+-----+-----+----------+",
    "| id|                name|score|   ok|         d|",
    "+---+--------------------+-----+-----+----------+",
    "|  1|               alice|  1.5| true|2020-01-02|",
    "|  2|a very long name ...| null|false|1999-12-31|",
    "+---+--------------------+-----+-----+----------+",
    "only showing top 2 rows"),
    "show(2): widths of the shown rows, footer")
  text_is(df:show_string(1), lines(
    "+---+-----+-----+----+----------+",
    "| id| name|score|  ok|         d|",
    "+---+-----+-----+----+----------+",
    "|  1|alice|  1.5|true|2020-01-02|",
    "+---+-----+-----+----+----------+",
    "only showing top 1 row"),
    "show(1): 'row' in the footer")
  text_is(df:show_string(2, false), lines(
    "+---+------------------------------------+-----+-----+----------+",
    "|id |name                                |score|ok   |d         |",
    "+---+------------------------------------+-----+-----+----------+",
    "|1  |alice                               |1.5  |true |2020-01-02|",
    "|2  |a very long name that exceeds twenty|null |false|1999-12-31|",
    "+---+------------------------------------+-----+-----+----------+",
    "only showing top 2 rows"),
    "show(2, truncate = false): left-aligned, whole values")
  text_is(df:show_string(5, 6), lines(
    "+---+------+------+-----+------+",
    "| id|  name| score|   ok|     d|",
    "+---+------+------+-----+------+",
    "|  1| alice|   1.5| true|202...|",
    "|  2|a v...|  null|false|199...|",
    "|  3|  null| 100.0| null|  null|",
    "|  4|   bob|1.2...| true|202...|",
    "| -5|      | -0.25|false|200...|",
    "+---+------+------+-----+------+"),
    "show(5, truncate = 6)")
  text_is(df:filter("id > 100"):show_string(), lines(
    "+---+----+-----+---+---+",
    "| id|name|score| ok|  d|",
    "+---+----+-----+---+---+",
    "+---+----+-----+---+---+"),
    "show of no rows: header only")
  -- Spark: " name | value " lines, a leading and a trailing space, the
  -- record header padded with '-' to name width + value width + 5
  text_is(df:show_string(2, 20, true), lines(
    "-RECORD 0---------------------",
    " id    | 1                    ",
    " name  | alice                ",
    " score | 1.5                  ",
    " ok    | true                 ",
    " d     | 2020-01-02           ",
    "-RECORD 1---------------------",
    " id    | 2                    ",
    " name  | a very long name ... ",
    " score | null                 ",
    " ok    | false                ",
    " d     | 1999-12-31           ",
    "only showing top 2 rows"),
    "show vertical, as Spark prints it")
  text_is(df:filter("id > 100"):show_string(20, 20, true), "(0 rows)\n", "show vertical of no rows")

  ------------------------------------------------------------------ print_schema
  local captured = {}
  local real_write = io.write
  io.write = function(...)
    for i = 1, select("#", ...) do captured[#captured + 1] = tostring((select(i, ...))) end
  end
  local okp, ep = pcall(df.print_schema, df)
  io.write = real_write
  if not okp then t.diag("print_schema raised: " .. tostring(ep)) end
  text_is(table.concat(captured):gsub("\n+$", "\n"), lines(
    "root",
    " |-- id: long (nullable = true)",
    " |-- name: string (nullable = true)",
    " |-- score: double (nullable = true)",
    " |-- ok: boolean (nullable = true)",
    " |-- d: date (nullable = true)"),
    "print_schema: Spark's tree")
  t.same(df:dtypes(), {{"id", "bigint"}, {"name", "string"}, {"score", "double"},
                       {"ok", "boolean"}, {"d", "date"}}, "dtypes")
  t.same(df:select((col("id") + 1):alias("x"), ember.upper("name"), col("score") / 2)
         :columns(), {"x", "upper(name)", "(score / 2)"}, "names Spark gives unaliased expressions")

  ------------------------------------------------------------------ explain
  local f = assert(io.open(tmp .. "/big.csv", "w"))
  f:write("id,k,g,v\n")
  for i = 1, 3000 do f:write(i, ",k", i % 50, ",", i % 7, ",", i / 4, "\n") end
  f:close()
  H.write_file(tmp .. "/tiny.csv", "k,name\nk1,one\nk2,two\n")
  local function tables(s)
    return s.read:csv(tmp .. "/big.csv", {header = true, schema = "id bigint, k string, g int, v double"}),
           s.read:csv(tmp .. "/tiny.csv", {header = true, schema = "k string, name string"})
  end
  local big, tiny = tables(sc)

  local ext = big:filter(col("g"):gt(3)):select("id"):explain_string("extended")
  local a = ext:find("== Parsed Logical Plan ==", 1, true)
  local b = ext:find("== Analyzed Logical Plan ==", 1, true)
  local c = ext:find("== Optimized Logical Plan ==", 1, true)
  local d = ext:find("== Physical Plan ==", 1, true)
  t.ok(a and b and c and d and a < b and b < c and c < d, "explain extended: the four sections in order")
  t.ok(ext:find("== Analyzed Logical Plan ==\nid: bigint\n", 1, true) ~= nil,
       "the analyzed plan starts with the output schema")
  local phys = ext:sub(d or 1)
  t.ok(phys:match("PushedFilters: %[[^%]]*g#%d+ > 3") ~= nil, "the csv scan shows the pushed filter on g")
  t.ok(phys:find("ReadSchema: struct<id:bigint,g:int>", 1, true) ~= nil,
       "projection pruning: ReadSchema lists only id and g")
  if not phys:find("ReadSchema: struct<id:bigint,g:int>", 1, true) then t.diag(phys) end
  local simple = big:filter(col("g"):gt(3)):select("id"):explain_string()
  t.is(simple, phys, "explain() = the physical plan section of extended")

  local bj = big:join(tiny, "k"):explain_string()
  t.ok(bj:find("BroadcastHashJoin", 1, true) and bj:find("BroadcastExchange", 1, true)
       and not bj:find("ShuffledHashJoin", 1, true), "big join tiny: BroadcastHashJoin")
  if not bj:find("BroadcastHashJoin", 1, true) then t.diag(bj) end

  local ag = big:group_by("k"):agg{s = ember.sum("v")}:explain_string()
  local lf, le, lp = line_of(ag, "HashAggregate(keys=[k#"), line_of(ag, "Exchange hashpartitioning(k#"),
                     line_of(ag, "functions=[partial_sum(v#")
  t.ok(lf and le and lp and lf < le and le < lp and line_of(ag, "functions=[sum(v#") == lf,
       "aggregate: final HashAggregate, Exchange hashpartitioning, partial HashAggregate")
  if not (lf and le and lp) then t.diag(ag) end
  local srt = big:order_by(ember.desc("v")):explain_string()
  t.ok(srt:find("Sort [", 1, true) and srt:find("Exchange rangepartitioning", 1, true),
       "order_by: Sort over an Exchange rangepartitioning")
  if not srt:find("Exchange rangepartitioning", 1, true) then t.diag(srt) end

  ------------------------------------------------------------------ errors
  t.raises(function() big:select("nope") end, "cannot resolve column 'nope' given input columns: [id, k, g, v]",
           "a missing column raises, listing the columns")
  local ok1, e1 = pcall(function() big:select("nope") end)
  t.ok(not ok1 and tostring(e1):find("df_output.lua:%d+:") ~= nil, "... at the line that names it")
  t.diag(tostring(e1))
  local ok2, e2 = pcall(function() big:filter("g > > 3") end)
  t.ok(not ok2 and tostring(e2):find("syntax error", 1, true) and tostring(e2):find("position 5", 1, true),
       "a bad SQL expression raises a syntax error naming the position")
  t.diag(tostring(e2))
  t.raises(function() big:select("g + (3") end, "position", "an unclosed parenthesis names a position")
  sc:stop()

  -- one session at a time: two sessions in a process share an app id
  local sc2 = session{["sql.autoBroadcastJoinThreshold"] = "-1"}
  big, tiny = tables(sc2)
  local sj = big:join(tiny, "k"):explain_string()
  local nex = select(2, sj:gsub("Exchange hashpartitioning%(k#", ""))
  t.ok(sj:find("ShuffledHashJoin", 1, true) and not sj:find("Broadcast", 1, true) and nex == 2,
       "threshold -1: ShuffledHashJoin over two Exchange hashpartitioning")
  if nex ~= 2 then t.diag(sj) end
  sc2:stop()
end

local ok, err = pcall(body)
for _, s in ipairs(sessions) do pcall(s.stop, s) end
H.rmrf(tmp)
if not ok then
  t.ok(false, "the test body ran to its end")
  t.diag(tostring(err))
end
t.done()
