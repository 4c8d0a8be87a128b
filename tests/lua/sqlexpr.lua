-- The SQL expression parser (ember.sqlexpr): ASTs, literals, precedence,
-- to_sql round trips and error messages, against expectations written by hand.
package.path = os.getenv("top_srcdir") .. "/tests/tap/?.lua;" .. package.path
local t = require("tap")
local sql = require("ember.sqlexpr")

-- AST builders for the expectations
local function col(name, q) return {op = "col", name = name, qualifier = q} end
local function lit(ty, v) return {op = "lit", type = ty, value = v} end
local function int(v) return lit("int", v) end
local function str(v) return lit("string", v) end
local function f(op, ...) return {op = op, args = {...}} end
local a, b, c, d = col("a"), col("b"), col("c"), col("d")

-- one assertion per input; a parse error fails it instead of stopping the test
local function parses(s, want, desc)
  local ok, got = pcall(sql.parse, s)
  if not ok then
    t.ok(false, desc or s)
    return t.diag("error: " .. tostring(got))
  end
  return t.same(got, want, desc or s)
end

-- the message of the error raised by fn(s), or nil
local function err_of(fn, s)
  local ok, e = pcall(fn, s)
  if ok then return nil end
  return e
end

-- ----------------------------------------------------------------------
-- columns, names, aliases
parses("a", a, "column")
parses("MyCol", col("MyCol"), "identifiers keep their case")
parses("t.a", col("a", "t"), "qualified column")
parses("`weird name`", col("weird name"), "backquoted identifier")
parses("`a``b`", col("a`b"), "doubled backquote inside backquotes")
parses("`t 1`.`x y`", col("x y", "t 1"), "backquoted qualifier and name")
parses("date", col("date"), "a non-reserved keyword alone is a column")
parses("t.end", col("end", "t"), "any word after a dot is a column name")
parses("a + 1 as b", {op = "alias", name = "b", args = {f("add", a, int(1))}}, "alias with AS")
parses("a + 1 AS `my b`", {op = "alias", name = "my b", args = {f("add", a, int(1))}},
       "backquoted alias")
parses("upper(n) n2", {op = "alias", name = "n2", args = {f("upper", col("n"))}}, "bare alias")
parses("*", {op = "star"}, "star alone")
parses("t.*", {op = "star", qualifier = "t"}, "qualified star")

-- ----------------------------------------------------------------------
-- literals
parses("42", int(42), "int")
parses("2147483647", int(2147483647), "largest int")
parses("2147483648", lit("bigint", 2147483648), "past 32 bits: bigint")
parses("-2147483648", int(-2147483648), "negative literal folds, smallest int")
parses("9223372036854775807", lit("bigint", math.maxinteger), "largest bigint")
parses("-9223372036854775808", lit("bigint", math.mininteger), "smallest bigint")
parses("7L", lit("bigint", 7), "L suffix")
parses("-7l", lit("bigint", -7), "lower-case l suffix, negative")
t.is(math.type(sql.parse("42").value), "integer", "int literals are Lua integers")
parses("1.5", lit("double", 1.5), "decimal")
parses("1e3", lit("double", 1000.0), "exponent")
parses(".5", lit("double", 0.5), "leading dot")
parses("2.5E-1", lit("double", 0.25), "negative exponent")
parses("3D", lit("double", 3.0), "D suffix")
t.is(math.type(sql.parse("1e3").value), "float", "double literals are Lua floats")
parses("-1.5", lit("double", -1.5), "negative double folds")
parses("'abc'", str("abc"), "string")
parses("'it''s'", str("it's"), "doubled quote")
parses([['a\'b\\c\nd\te']], str("a'b\\c\nd\te"), "backslash escapes")
parses([['50\%']], str("50\\%"), "\\% stays escaped for LIKE")
parses([["dq"]], str("dq"), "double-quoted string")
parses([['\u00e9t\u00E9']], str("\u{e9}t\u{e9}"), "\\u escapes become UTF-8")
parses("'a' 'b'", str("ab"), "adjacent strings concatenate")
parses("''", str(""), "empty string")
parses("true", lit("boolean", true), "true")
parses("FALSE", lit("boolean", false), "FALSE")
parses("null", {op = "lit", type = "null"}, "null")
t.is(sql.parse("NULL").value, nil, "null has no value")
parses("date '1970-01-01'", lit("date", 0), "epoch date")
parses("DATE '1998-09-02'", lit("date", 10471), "TPC-H cutoff date")
parses("date '1969-12-31'", lit("date", -1), "day before the epoch")
parses("date '1900-03-01'", lit("date", -25508), "1900 (not a leap year)")
parses("date '2000-02-29'", lit("date", 11016), "leap day of 2000")
parses("date '2024-02-29'", lit("date", 19782), "leap day of 2024")
parses("date '0001-01-01'", lit("date", -719162), "year 1")
parses("date '2021-3-7'", lit("date", 18693), "single-digit month and day")
parses("timestamp '1970-01-01 00:00:00'", lit("timestamp", 0), "epoch timestamp")
parses("timestamp '1970-01-02 01:02:03.5'",
       lit("timestamp", ((24 + 1) * 3600 + 2 * 60 + 3) * 1000000 + 500000), "timestamp fraction")
parses("timestamp '1969-12-31 23:59:59.999999'", lit("timestamp", -1), "before the epoch")
parses("timestamp '2000-02-29'", lit("timestamp", 11016 * 86400 * 1000000), "date-only timestamp")
parses("timestamp '2000-01-01T00:00:00Z'", lit("timestamp", 10957 * 86400 * 1000000),
       "T separator and Z")
parses("timestamp '2000-01-01 02:00:00+02:00'", lit("timestamp", 10957 * 86400 * 1000000),
       "UTC offset")

-- independent day counting for a range of dates against the literal
local function naive_days(y, m, dd)
  local days = 0
  local function leap(yy) return yy % 4 == 0 and (yy % 100 ~= 0 or yy % 400 == 0) end
  local ml = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
  if y >= 1970 then
    for yy = 1970, y - 1 do days = days + (leap(yy) and 366 or 365) end
  else
    for yy = y, 1969 do days = days - (leap(yy) and 366 or 365) end
  end
  for mm = 1, m - 1 do days = days + ml[mm] + ((mm == 2 and leap(y)) and 1 or 0) end
  return days + dd - 1
end
local bad_dates = {}
for _, ymd in ipairs{{1600, 2, 29}, {1899, 12, 31}, {1904, 2, 29}, {1969, 1, 1}, {1970, 12, 31},
                     {1999, 12, 31}, {2100, 3, 1}, {2400, 2, 29}, {9999, 12, 31}} do
  local s = string.format("date '%04d-%02d-%02d'", ymd[1], ymd[2], ymd[3])
  if sql.parse(s).value ~= naive_days(ymd[1], ymd[2], ymd[3]) then bad_dates[#bad_dates + 1] = s end
end
t.same(bad_dates, {}, "date literals agree with naive day counting")

-- ----------------------------------------------------------------------
-- operators
parses("a + b", f("add", a, b), "+")
parses("a - b", f("sub", a, b), "-")
parses("a * b", f("mul", a, b), "*")
parses("a / b", f("div", a, b), "/")
parses("a % b", f("mod", a, b), "%")
parses("-a", f("neg", a), "unary minus")
parses("- -5", f("neg", int(-5)), "unary minus of a negative literal")
parses("+a", a, "unary plus")
parses("a = b", f("eq", a, b), "=")
parses("a == b", f("eq", a, b), "==")
parses("a <> b", f("ne", a, b), "<>")
parses("a != b", f("ne", a, b), "!=")
parses("a < b", f("lt", a, b), "<")
parses("a <= b", f("le", a, b), "<=")
parses("a > b", f("gt", a, b), ">")
parses("a >= b", f("ge", a, b), ">=")
parses("a <=> b", f("eqns", a, b), "<=>")
parses("a and b", f("and", a, b), "and")
parses("a OR b", f("or", a, b), "OR")
parses("NOT a", f("not", a), "NOT")
parses("a || b", f("concat", a, b), "||")
parses("a is null", f("is_null", a), "IS NULL")
parses("a IS NOT NULL", f("is_not_null", a), "IS NOT NULL")
parses("a in (1, 2, 3)", f("in", a, int(1), int(2), int(3)), "IN")
parses("a not in ('x')", f("not", f("in", a, str("x"))), "NOT IN")
parses("a between 1 and 10", f("and", f("ge", a, int(1)), f("le", a, int(10))), "BETWEEN")
parses("a not between b and c", f("not", f("and", f("ge", a, b), f("le", a, c))), "NOT BETWEEN")
parses("a like 'x%'", f("like", a, str("x%")), "LIKE")
parses("a not like 'x%'", f("not", f("like", a, str("x%"))), "NOT LIKE")
local bt = sql.parse("a between 1 and 2")
t.ok(bt.args[1].args[1] ~= bt.args[2].args[1], "BETWEEN copies x: the AST is a tree")

-- precedence and associativity
parses("a + b * c", f("add", a, f("mul", b, c)), "* binds tighter than +")
parses("(a + b) * c", f("mul", f("add", a, b), c), "parentheses")
parses("a - b - c", f("sub", f("sub", a, b), c), "- is left-associative")
parses("a / b * c % d", f("mod", f("mul", f("div", a, b), c), d), "* / % left-associative")
parses("-a * b", f("mul", f("neg", a), b), "unary minus binds tighter than *")
parses("a - -1", f("sub", a, int(-1)), "binary minus before a negative literal")
parses("a || b + c", f("concat", a, f("add", b, c)), "+ binds tighter than ||")
parses("a || b = c", f("eq", f("concat", a, b), c), "|| binds tighter than =")
parses("a = b = c", f("eq", f("eq", a, b), c), "comparison is left-associative")
parses("a + 1 > b and c", f("and", f("gt", f("add", a, int(1)), b), c), "arithmetic < cmp < AND")
parses("a or b and c", f("or", a, f("and", b, c)), "AND binds tighter than OR")
parses("a and b or c and d", f("or", f("and", a, b), f("and", c, d)), "OR of ANDs")
parses("a or b or c", f("or", f("or", a, b), c), "OR is left-associative")
parses("not a = b", f("not", f("eq", a, b)), "NOT is looser than =")
parses("not a and b", f("and", f("not", a), b), "NOT is tighter than AND")
parses("not not a", f("not", f("not", a)), "NOT NOT")
parses("a between 1 and 2 and b", f("and", f("and", f("ge", a, int(1)), f("le", a, int(2))), b),
       "BETWEEN's AND is not the boolean AND")
parses("a + 1 is null", f("is_null", f("add", a, int(1))), "IS NULL applies to the sum")
parses("a = b is not null", f("is_not_null", f("eq", a, b)), "IS after = (left to right)")
parses("a in (b, c) = true", f("eq", f("in", a, b, c), lit("boolean", true)), "IN then =")

-- ----------------------------------------------------------------------
-- CASE, CAST, calls
parses("case when a > 1 then 'x' when b then 'y' else 'z' end",
       f("case", f("gt", a, int(1)), str("x"), b, str("y"), str("z")), "searched CASE")
parses("CASE WHEN a THEN 1 END", f("case", a, int(1)), "CASE without ELSE")
parses("case a when 1 then 'one' when 2 then 'two' else 'many' end",
       f("case", f("eq", a, int(1)), str("one"), f("eq", a, int(2)), str("two"), str("many")),
       "simple CASE")
local casts = {
  {"boolean", "boolean"}, {"bool", "boolean"}, {"int", "int"}, {"INTEGER", "int"},
  {"bigint", "bigint"}, {"long", "bigint"}, {"double", "double"}, {"float", "double"},
  {"real", "double"}, {"decimal(10, 2)", "double"}, {"numeric", "double"},
  {"string", "string"}, {"varchar(20)", "string"}, {"char(3)", "string"}, {"text", "string"},
  {"date", "date"}, {"timestamp", "timestamp"},
}
local bad_casts = {}
for _, ct in ipairs(casts) do
  local got = sql.parse("cast(a as " .. ct[1] .. ")")
  if not t.deep_equal(got, {op = "cast", to = ct[2], args = {a}}) then
    bad_casts[#bad_casts + 1] = ct[1]
  end
end
t.same(bad_casts, {}, "CAST type names normalize (" .. #casts .. " names)")
parses("CAST(a + 1 AS BIGINT)", {op = "cast", to = "bigint", args = {f("add", a, int(1))}}, "CAST")
parses("now()", f("now"), "call with no arguments")
parses("Coalesce(a, b, 1, 'x')", f("coalesce", a, b, int(1), str("x")), "call with many args")
parses("substr(upper(a), 1 + 1, 3)", f("substr", f("upper", a), f("add", int(1), int(1)), int(3)),
       "nested calls")
parses("count(*)", f("count", {op = "star"}), "count(*)")
parses("COUNT(DISTINCT a)", f("count_distinct", a), "count(distinct x)")
parses("count(distinct a, b)", f("count_distinct", a, b), "count(distinct x, y)")
parses("first(a)", f("first", a), "a non-reserved keyword as a function name")
parses("date(a)", f("date", a), "date(...) is a call")

-- ----------------------------------------------------------------------
-- parse_list and parse_order
t.same(sql.parse_list("a, b + 1 as c, count(*)"),
       {a, {op = "alias", name = "c", args = {f("add", b, int(1))}}, f("count", {op = "star"})},
       "parse_list")
t.same(sql.parse_list("*, t.*"), {{op = "star"}, {op = "star", qualifier = "t"}}, "stars in a list")
t.same(sql.parse_list("f(a, b)"), {f("f", a, b)}, "commas inside calls do not split the list")
t.same(sql.parse_order("a"), {{expr = a, asc = true, nulls_first = true}}, "order: default")
t.same(sql.parse_order("a desc, b asc nulls last, c + 1 DESC NULLS FIRST, d nulls last"),
       {{expr = a, asc = false, nulls_first = false},
        {expr = b, asc = true, nulls_first = false},
        {expr = f("add", c, int(1)), asc = false, nulls_first = true},
        {expr = d, asc = true, nulls_first = false}}, "order: directions and nulls")

-- ----------------------------------------------------------------------
-- to_sql
t.is(sql.to_sql(sql.parse("a+1")), "(a + 1)", "to_sql: arithmetic")
t.is(sql.to_sql(sql.parse("l_shipdate <= date '1998-09-02'")), "(l_shipdate <= DATE '1998-09-02')",
     "to_sql: date literal")
t.is(sql.to_sql(sql.parse("x is not null and `a b` in (1, 'q')")),
     "((x IS NOT NULL) AND (`a b` IN (1, 'q')))", "to_sql: predicates and quoting")
t.is(sql.to_sql(sql.parse("count(distinct a) as n")), "count(DISTINCT a) AS n", "to_sql: alias")

local round = {
  "a", "t.a", "`weird name`", "`a``b`", "`date`", "t.`x y`", "*", "t.*", "a + 1 as b",
  "upper(n) n2", "42", "-2147483648", "3000000000", "7L", "-9223372036854775808", "1.5", "-0.25",
  "1e300", "1e-300", "0.1", "1000.0", "123456789.125", "-0.0", "'it''s'", [['a\\b\nc\td\'']],
  "'50\\%'", "''", "true", "false", "null", "date '1998-09-02'", "date '1969-12-31'",
  "date '0001-01-01'", "timestamp '1969-12-31 23:59:59.999999'", "timestamp '2000-02-29 12:34:56'",
  "timestamp '2021-06-01 00:00:00.12'", "a + b * c - d / 2 % 3", "-a", "- -5", "a || b || c",
  "a = b", "a <> b", "a <=> b", "a < b and b <= c or not c > d", "a >= 1", "a is null",
  "a is not null", "a in (1, 2, 3)", "a not in (b)", "a between 1 and 2", "a not between b and c",
  "a like 'x%'", "a not like 'y'", "case when a then 1 when b then 2 else 3 end",
  "case a when 1 then 'x' end", "cast(a as varchar(10))", "cast(a + 1 as date)", "now()",
  "coalesce(a, b, 0)", "count(*)", "count(distinct a, b)", "first(a)", "date(a)",
  "(a = b) = (c = d)", "not (a and b)", "-(a + b)", "a - -1", "f(g(h(1)))",
}
local bad_round = {}
for _, s in ipairs(round) do
  local ast = sql.parse(s)
  local ok, back = pcall(sql.parse, sql.to_sql(ast))
  if not (ok and t.deep_equal(back, ast)) then
    bad_round[#bad_round + 1] = s .. " -> " .. sql.to_sql(ast)
  end
end
t.same(bad_round, {}, "parse(to_sql(ast)) == ast for " .. #round .. " inputs")
t.is(sql.to_sql({op = "add", args = {{op = "lit", type = "int", value = 1.5}, col("x y")}}),
     "(<int literal 1.5> + `x y`)", "to_sql renders hand-built odd ASTs without raising")
t.is(sql.to_sql({op = "My Fn", args = {int(1)}}), "`My Fn`(1)", "to_sql quotes odd function names")
t.is(math.type(sql.parse(sql.to_sql(sql.parse("-0.0"))).value), "float", "-0.0 stays a float")
t.is(1 / sql.parse(sql.to_sql(sql.parse("-0.0"))).value, -math.huge, "-0.0 keeps its sign")

-- random expressions from a small grammar: parse(to_sql(parse(s))) == parse(s)
local rnd_state = 12345
local function rnd(n) -- deterministic LCG, 1..n
  rnd_state = (rnd_state * 1103515245 + 12345) % 2147483648
  return rnd_state % n + 1
end
local atoms = {"a", "t.b", "`c d`", "1", "-2", "3.5", "9999999999", "'s''q'", "null", "true",
               "date '2001-02-03'", "timestamp '1999-12-31 23:59:59.25'", "8L"}
local bins = {"+", "-", "*", "/", "%", "=", "<>", "<", "<=", ">", ">=", "<=>", "and", "or", "||"}
local function gen(depth)
  local k = depth > 4 and 1 or rnd(9)
  if k <= 3 then return atoms[rnd(#atoms)] end
  if k <= 5 then return gen(depth + 1) .. " " .. bins[rnd(#bins)] .. " " .. gen(depth + 1) end
  if k == 6 then
    local r = rnd(3)
    if r == 3 then return "(" .. gen(depth + 1) .. ")" end
    return (r == 1 and "not " or "- ") .. gen(depth + 1)
  end
  if k == 7 then return "f(" .. gen(depth + 1) .. ", " .. gen(depth + 1) .. ")" end
  if k == 8 then return "case when " .. gen(depth + 1) .. " then " .. gen(depth + 1) .. " end" end
  return gen(depth + 1) .. ({" is null", " in (1, 2)", " between 1 and 2", " like 'x'"})[rnd(4)]
end
local fuzz_bad = {}
for _ = 1, 500 do
  local s = gen(0)
  local ok, ast = pcall(sql.parse, s)
  if ok then
    local ok2, back = pcall(sql.parse, sql.to_sql(ast))
    if not (ok2 and t.deep_equal(back, ast)) then fuzz_bad[#fuzz_bad + 1] = s end
  end
end
t.same(fuzz_bad, {}, "500 generated expressions round-trip through to_sql")

-- ----------------------------------------------------------------------
-- errors
t.is(err_of(sql.parse, "a +"),
     'syntax error in expression "a +": expected an expression at position 4 (end of input)',
     "error: full message at end of input")
t.is(err_of(sql.parse, "a + foo bar baz"),
     'syntax error in expression "a + foo bar baz": unexpected input after the expression ' ..
     "at position 13 near 'baz'", "error: full message near a token")
local errors = {
  {"", "expected an expression at position 1 (end of input)", "empty string"},
  {"   ", "expected an expression at position 4 (end of input)", "blank string"},
  {"(a + 1", "expected ')' (unclosed '(' at position 1) at position 7 (end of input)",
   "unclosed parenthesis"},
  {"a + 1)", "unexpected input after the expression at position 6 near ')'", "extra ')'"},
  {"f(a, b", "at position 7 (end of input)", "unclosed call"},
  {"f(a,)", "expected an expression at position 5 near ')'", "trailing comma in a call"},
  {"a b c", "at position 5 near 'c'", "trailing garbage"},
  {"=", "expected an expression at position 1 near '='", "lone operator"},
  {"a = = b", "expected an expression at position 5 near '='", "doubled operator"},
  {"and", "expected an expression at position 1 near 'and'", "lone keyword"},
  {"'abc", "unterminated string literal at position 1 near ''abc'", "unterminated string"},
  {"'abc\\'", "unterminated string literal at position 1", "string ending in an escaped quote"},
  {"`abc", "unterminated quoted identifier at position 1", "unterminated backquote"},
  {"a # b", "unexpected character at position 3 near '#'", "bad character"},
  {"date '2021-02-29'", "invalid DATE literal", "not a leap year"},
  {"date '2021-13-01'", "at position 6 near ''2021-13-01''", "month 13"},
  {"date 'yesterday'", "invalid DATE literal", "not a date"},
  {"timestamp '2021-01-01 24:00:00'", "invalid TIMESTAMP literal", "hour 24"},
  {"99999999999999999999", "integer literal out of range", "integer past 64 bits"},
  {"9223372036854775808", "out of range (more than 64 bits) at position 1", "2^63 without minus"},
  {"1e400", "numeric literal out of range", "double overflow"},
  {"12abc", "malformed number at position 1 near '12abc'", "malformed number"},
  {"sum(distinct a)", "DISTINCT is not supported in sum() at position 5 near 'distinct'",
   "sum(distinct)"},
  {"cast(a as widget)", "unknown type 'widget' in CAST", "unknown CAST type"},
  {"cast(a as int(3))", "type int takes no parameters", "CAST type parameters"},
  {"cast(a, int)", "expected AS in CAST at position 7 near ','", "CAST without AS"},
  {"case when a then 1", "expected END (unclosed CASE at position 1) at position 19 (end of input)",
   "CASE without END"},
  {"case end", "expected WHEN in CASE at position 6 near 'end'", "CASE without WHEN"},
  {"a in ()", "empty IN list at position 7 near ')'", "empty IN list"},
  {"a in 1", "expected '(' after IN at position 6 near '1'", "IN without parentheses"},
  {"a between 1", "expected AND in BETWEEN at position 12 (end of input)", "BETWEEN without AND"},
  {"a is 1", "expected NULL after IS at position 6 near '1'", "IS without NULL"},
  {"a + *", "'*' is only allowed alone in a select list or as count(*) at position 5", "star in +"},
  {"f(*)", "'*' is only allowed", "star in a call other than count"},
  {"t.* + 1", "'t.*' is only allowed alone", "qualified star in an expression"},
  {"a.b.c", "nested field access is not supported at position 4", "a.b.c"},
  {"a as", "expected a name after AS at position 5 (end of input)", "AS without a name"},
  {"a as and", "expected a name after AS at position 6 near 'and'", "reserved word as alias"},
  {"a not b", "unexpected input after the expression at position 3 near 'not'", "stray NOT"},
  {string.rep("(", 250) .. "a" .. string.rep(")", 250), "nested too deeply (more than 200 levels)",
   "deep parentheses"},
  {string.rep("-", 300) .. "a", "nested too deeply", "deep unary minus"},
  {"a" .. string.rep(" + a", 300), "nested too deeply", "long chain"},
}
for _, e in ipairs(errors) do
  local msg = err_of(sql.parse, e[1])
  local prefix = 'syntax error in expression "' .. e[1]:sub(1, 200)
  local ok = msg ~= nil and msg:sub(1, #prefix) == prefix and msg:find(e[2], 1, true) ~= nil
  t.ok(ok, "error: " .. e[3])
  if not ok then t.diag("got: " .. tostring(msg) .. "\nwanted: " .. e[2]) end
end
t.raises(function() sql.parse_list("a,") end, "expected an expression at position 3 (end of input)",
         "parse_list: trailing comma")
t.raises(function() sql.parse_list("a b c") end, "near 'c'", "parse_list: trailing garbage")
t.raises(function() sql.parse_order("a desc nulls") end, "expected FIRST or LAST after NULLS",
         "parse_order: NULLS without FIRST/LAST")
t.raises(function() sql.parse_order("a as b") end, "near 'as'", "parse_order: no aliases")
t.raises(function() sql.parse(nil) end, "expected a string, got nil", "parse(nil)")
t.is(#err_of(sql.parse, string.rep("x", 1000) .. " +") < 400, true, "long inputs are cut in messages")
t.ok(err_of(sql.parse, "a\1b"):find("near '\\x01'", 1, true), "control bytes are shown escaped")
t.raises(function() sql.parse("a + " .. string.rep("(", 100) .. "1" .. string.rep(")", 99)) end,
         "(end of input)", "almost balanced deep parentheses")

-- garbage never produces a Lua runtime error
local PREFIX = 'syntax error in expression "'
local pieces = {"a", "1", "'", "`", "(", ")", ",", ".", "*", "+", "-", "=", "<", ">", "!", "|",
                "and", "not", "in", "is", "null", "case", "when", "end", "cast", "as", "date",
                "distinct", "count", " ", "'x'", "1e", "\"", "\\", "\0", "\255", "between", "like",
                "%", "/", "e", "L", "9999999999999999999", "timestamp", "nulls", "desc", "then"}
local garbage_bad = {}
for _ = 1, 3000 do
  local parts = {}
  for j = 1, rnd(12) do parts[j] = pieces[rnd(#pieces)] end
  local s = table.concat(parts, rnd(2) == 1 and " " or "")
  for _, fn in ipairs{sql.parse, sql.parse_list, sql.parse_order} do
    local ok, e = pcall(fn, s)
    if not ok and (type(e) ~= "string" or e:sub(1, #PREFIX) ~= PREFIX) then
      garbage_bad[#garbage_bad + 1] = string.format("%q: %s", s, tostring(e))
    elseif ok and fn == sql.parse then
      local ok2, r = pcall(sql.to_sql, e)
      if not ok2 then garbage_bad[#garbage_bad + 1] = string.format("to_sql %q: %s", s, r) end
    end
  end
  if #garbage_bad > 5 then break end
end
t.same(garbage_bad, {}, "3000 random inputs: parse or a syntax error, never a Lua error")
local bytes_bad = {}
for _ = 1, 2000 do
  local chars = {}
  for j = 1, rnd(20) do chars[j] = string.char(rnd(256) - 1) end
  local s = table.concat(chars)
  local ok, e = pcall(sql.parse, s)
  if not ok and (type(e) ~= "string" or e:sub(1, #PREFIX) ~= PREFIX) then
    bytes_bad[#bytes_bad + 1] = string.format("%q: %s", s, tostring(e))
  end
end
t.same(bytes_bad, {}, "2000 random byte strings: never a Lua error")

t.done()
