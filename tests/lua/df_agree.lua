-- The driver's Lua and the op_relational plugin's C read and print values
-- the same way: doubles as Java's Double.toString (ember.numfmt and the
-- plugin's cast to string share core/util/numfmt.h), and dates from text
-- by one rule (ember.dates, which constant folding and create_dataframe
-- use, against the plugin's cast to date).
package.path = os.getenv("top_srcdir") .. "/tests/tap/?.lua;" .. package.path
local t = require("tap")
local ember = require("ember")
local numfmt = require("ember.numfmt")
local dates = require("ember.dates")
local col, null = ember.col, ember.null

-- value, Java's Double.toString of it
local DOUBLES = {
  {1e7, "1.0E7"}, {1e-3, "0.001"}, {0.1 + 0.2, "0.30000000000000004"},
  {-0.0, "-0.0"}, {0.0, "0.0"}, {0 / 0, "NaN"}, {math.huge, "Infinity"},
  {-math.huge, "-Infinity"}, {1e21, "1.0E21"},
  {123456789012345680.0, "1.2345678901234568E17"}, {9999999.999999998, "9999999.999999998"},
  {0.0009999999999999998, "9.999999999999998E-4"}, {1e-4, "1.0E-4"}, {100.0, "100.0"},
  {12345678.9, "1.23456789E7"}, {-0.25, "-0.25"}, {8.79e-4, "8.79E-4"},
  {0.001285435758547587, "0.001285435758547587"}, {7.68935767715864e12, "7.68935767715864E12"},
  {5e-324, "4.9E-324"}, {1.7976931348623157e308, "1.7976931348623157E308"},
  {2.2250738585072014e-308, "2.2250738585072014E-308"}, {1.5, "1.5"},
}

-- text -> the date it reads as ("yyyy-mm-dd"), or nil
local DATE_TEXTS = {
  "2020-01-05", "2020-1-5", "2020-02-29", "2021-02-29", "2020-02-30", "2020-13-01", "2020-00-10",
  "2020-01-05 12:34:56", "2020-01-05T10:00", "2020-01-05x", "2020-01-05 ",
  "  2020-01-05", "2020", "2020-07", "2020-07-", "+2020-01-05", "202012-01-01",
  "2020123-01-01", "20-01-01", "yesterday", "", "1970-01-01", "9999-12-31",
}

local sc = ember.session{app = "df-agree", master = "local-cluster[2,1,256]"}

-- a DataFrame (i, x) of the values vals[i][1] (x of type ty), and what
-- the plugin's cast of x to `to` gives for each i, computed on the executors
local function plugin_cast(vals, ty, to)
  local rows = {}
  for i, v in ipairs(vals) do rows[i] = {i, v[1]} end
  local df = sc:create_dataframe(rows, "i bigint, x " .. ty, 1)
  local out = {}
  for _, r in ipairs(df:select("i", col("x"):cast(to):alias("y")):collect()) do
    out[r.i] = r.y
  end
  return out, df
end

local ok, err = pcall(function()
  ---------------------------------------------------------------- doubles
  local c_side, df = plugin_cast(DOUBLES, "double", "string")
  local bad = {}
  for i, d in ipairs(DOUBLES) do
    local lua_side = numfmt.java_double(d[1])
    if lua_side ~= d[2] or c_side[i] ~= d[2] then
      bad[#bad + 1] = string.format("%s: Lua %s, C %s, want %s", d[2], lua_side,
                                    tostring(c_side[i]), d[2])
    end
  end
  t.same(bad, {}, "Java's Double.toString, the same on the Lua and the C side")
  -- show() prints what the plugin prints
  local shown = {}
  for line in df:show_string(#DOUBLES, 0):gmatch("[^\n]+") do
    local i, x = line:match("^|%s*(%d+)%s*|%s*(%S+)%s*|$")
    if i then shown[tonumber(i)] = x end
  end
  local missing = {}
  for i, d in ipairs(DOUBLES) do
    if shown[i] ~= c_side[i] then missing[#missing + 1] = tostring(shown[i]) .. " vs " .. d[2] end
  end
  t.same(missing, {}, "show() prints the doubles as the plugin's cast does")
  -- explain prints double literals the same way
  local ex = df:select((col("x") + 1e21):alias("y")):explain_string()
  t.ok(ex:find("1.0E21", 1, true) ~= nil, "explain prints a double literal as Java does")

  ------------------------------------------------------------------ dates
  local texts = {}
  for i, s in ipairs(DATE_TEXTS) do texts[i] = {s} end
  local cast = plugin_cast(texts, "string", "date")
  local disagree = {}
  for i, s in ipairs(DATE_TEXTS) do
    local days = dates.parse_date(s)
    local lua_side = days and dates.format_date(days) or null
    if lua_side ~= cast[i] then
      disagree[#disagree + 1] = string.format("'%s': Lua %s, C %s", s, tostring(lua_side),
                                              tostring(cast[i]))
    end
  end
  t.same(disagree, {}, "ember.dates reads a date as the plugin's cast does")
  -- a folded cast gives what the running one gives
  local one = sc:create_dataframe({{1}}, "i bigint", 1)
  local folded, unfolded = {}, {}
  for i, s in ipairs(DATE_TEXTS) do
    local q = one:select(ember.lit(s):cast("date"):alias("d"))
    local plan = q:explain_string()
    if not plan:find("cast(", 1, true) then folded[#folded + 1] = s end
    local got = q:collect()[1].d
    if got ~= cast[i] then unfolded[#unfolded + 1] = s .. " -> " .. tostring(got) end
  end
  t.same(unfolded, {}, "cast(literal as date) gives the plugin's result, folded or not")
  t.ok(#folded >= 8, "... and the valid dates were folded on the driver (" .. #folded .. ")")
  -- create_dataframe reads date strings by the same rule
  local d = sc:create_dataframe({{"2020-01-05 10:00"}, {"2020-2-9"}}, "d date", 1):collect()
  t.same({d[1].d, d[2].d}, {"2020-01-05", "2020-02-09"},
         "create_dataframe reads date strings as the cast does")
  t.raises(function() sc:create_dataframe({{"2021-02-29"}}, "d date") end, "bad date",
           "create_dataframe refuses a date that does not exist")
  -- DATE literals in SQL stay strict: a whole yyyy-m[m]-d[d]
  t.ok(pcall(ember.expr, "date '2020-1-5'"), "DATE literal 'yyyy-m-d'")
  t.raises(function() ember.expr("date '2020-01'") end, "invalid DATE literal",
           "DATE literal without a day is refused")
  t.raises(function() ember.expr("date '2020-01-05 10:00'") end, "invalid DATE literal",
           "DATE literal with a time is refused")
end)
sc:stop()
t.ok(ok, "the test body ran to its end")
if not ok then t.diag(tostring(err)) end
t.done()
