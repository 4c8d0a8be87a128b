-- DataFrame plans that reuse a DataFrame: self-joins (the right side gets
-- fresh attributes), joins with an aggregate of the same input, aliases,
-- union with itself, nested limits.
package.path = os.getenv("top_srcdir") .. "/tests/tap/?.lua;" .. package.path
local t = require("tap")
local ember = require("ember")

local sc = ember.session{app = "df-plans", master = "local-cluster[2,1,256]"}
local ok, err = pcall(function()
  t.plan(8)
  local df = sc:create_dataframe({{1, "a"}, {2, "b"}, {3, "a"}, {4, ember.null}},
                                 "id bigint, k string")
  local function pairs_of(rows, f)
    local out = {}
    for _, r in ipairs(rows) do out[#out + 1] = f(r) end
    table.sort(out)
    return table.concat(out, " ")
  end
  local j = df:join(df:with_column_renamed("id", "id2"), "k")
  t.is(pairs_of(j:collect(), function(r) return r.k .. r.id .. r.id2 end),
       "a11 a13 a31 a33 b22", "self-join on a key: every pair, NULL keys never match")
  local a, b = df:alias("a"), df:alias("b")
  local lt = a:join(b, ember.col("a.id"):lt(ember.col("b.id")):and_(ember.col("a.k"):eq(ember.col("b.k"))))
  local rows = lt:select(ember.col("a.id"):alias("x"), ember.col("b.id"):alias("y")):collect()
  t.is(pairs_of(rows, function(r) return r.x .. "<" .. r.y end), "1<3",
       "aliased self-join with an extra condition")
  local cnt = df:group_by("k"):count()
  local jc = df:join(cnt, "k", "left")
  t.is(pairs_of(jc:collect(), function(r) return r.id .. ":" .. tostring(r.count) end),
       "1:2 2:1 3:2 4:null", "a DataFrame joined with its own aggregate")
  t.is(df:union(df):count(), 8, "union with itself")
  t.is(#df:union(df):limit(5):collect(), 5, "limit over a union")
  t.is(#df:limit(3):limit(2):collect(), 2, "nested limits take the smaller")
  local plan = df:limit(3):limit(2):explain_string()
  t.ok(select(2, plan:gsub("GlobalLimit", "")) == 1, "... combined into one limit in the plan")
  local up = df:union(df):limit(3):explain_string("extended")
  local opt = up:match("== Optimized Logical Plan ==(.-)== Physical Plan ==")
  t.ok(opt and select(2, opt:gsub("LocalLimit 3", "")) == 2,
       "a limit over a union is pushed into both sides (LocalLimit)")
end)
sc:stop()
if not ok then error(err, 0) end
t.done()
