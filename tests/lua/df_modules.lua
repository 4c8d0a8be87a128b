-- The Lua side as modules: every module loads through require, the
-- plan-node kinds are the C ones, each node kind has its entry in every
-- phase's table, and attribute ids have one owner.
package.path = os.getenv("top_srcdir") .. "/tests/tap/?.lua;" .. package.path
local t = require("tap")
local ember = require("ember")

local MODULES = {"ember", "ember.core", "ember.rdd", "ember.keyorder", "ember.dates",
                 "ember.sqlexpr", "ember.plan_kind", "ember.numfmt",
                 "ember.df.expr", "ember.df.column", "ember.df.logical",
                 "ember.df.frame", "ember.df.read", "ember.df.optimizer",
                 "ember.df.physical", "ember.df.compile", "ember.df.actions",
                 "ember.df.write"}
local bad = {}
for _, name in ipairs(MODULES) do
  local ok, m = pcall(require, name)
  if not ok or type(m) ~= "table" then bad[#bad + 1] = name .. ": " .. tostring(m) end
end
t.same(bad, {}, "every module loads with require and is a table")
t.ok(require("ember") == ember, "require('ember') is the module the script has")
t.ok(require("ember.null") == ember.null, "ember.null is require('ember.null')")

-- the kinds, as core/sched/plan_kind.h numbers them (they travel in stage
-- binaries)
local K = require("ember.plan_kind")
t.same(K, {SOURCE = 1, NARROW = 2, SHUFFLE = 3, UNION = 4},
       "ember.plan_kind is the C list")

local logical = require("ember.df.logical")
local optimizer = require("ember.df.optimizer")
local physical = require("ember.df.physical")
local compile = require("ember.df.compile")
local expr = require("ember.df.expr")
local missing = {}
local kinds = {}
for _, k in ipairs(logical.KINDS) do
  kinds[k] = true
  if not logical.TEXT[k] then missing[#missing + 1] = "explain text of " .. k end
  if not physical.PLAN[k] then missing[#missing + 1] = "physical plan of " .. k end
end
for _, tbl in ipairs({{"TEXT", logical.TEXT}, {"PLAN", physical.PLAN},
                      {"ESTIMATE", physical.ESTIMATE}, {"PUSH", optimizer.PUSH},
                      {"PRUNE", optimizer.PRUNE}, {"MAP_EXPRS", optimizer.MAP_EXPRS}}) do
  for k in pairs(tbl[2]) do
    if not kinds[k] then missing[#missing + 1] = tbl[1] .. " has an unknown kind " .. k end
  end
end
for _, op in ipairs({"scan", "local", "cached", "filter", "project", "generate", "limit",
                     "sort", "hash_agg", "exchange", "join", "union"}) do
  if not compile.COMPILE[op] then missing[#missing + 1] = "compile of " .. op end
end
t.same(missing, {}, "every logical kind is printed and planned, every physical op compiled")

local sc = ember.session{app = "df-modules", master = "local[1]"}
local ok, err = pcall(function()
  local src = sc:parallelize({{"a", 1}, {"b", 2}, {"a", 3}}, 2)
  local m = src:map(function(x) return x end)
  local r = m:reduce_by_key(function(a, b) return a + b end)
  local u = r:union(src)
  t.same({src.node.kind, m.node.kind, r.node.kind, u.node.kind},
         {K.SOURCE, K.NARROW, K.SHUFFLE, K.UNION}, "RDD plan nodes carry the C kinds")
  t.same(t.sorted(r:collect()), {{"a", 4}, {"b", 2}}, "... and the scheduler runs them")

  -- attribute ids: one counter (ember.df.expr) for every module that makes
  -- columns (readers, projections, aggregates, self-join copies)
  local df = sc:create_dataframe({{1, "x"}}, "a bigint, b string")
  local df2 = df:select("a", (ember.col("a") + 1):alias("c"))
  local g = df2:group_by("c"):agg{n = ember.count("*")}
  local j = df:join(df, "a")
  local seen, dup, max = {}, false, 0
  local function note(out)
    for _, a in ipairs(out) do
      if seen[a.id] and seen[a.id] ~= a then dup = true end
      seen[a.id] = a
      if a.id > max then max = a.id end
    end
  end
  note(df.plan.out); note(df2.plan.out); note(g.plan.out); note(j.plan.out)
  t.ok(not dup, "distinct columns have distinct attribute ids")
  t.ok(expr.new_attr("z", "int").id > max, "the next id comes after all of them")
end)
sc:stop()
if not ok then
  t.ok(false, "the test body ran to its end")
  t.diag(tostring(err))
end
t.done()
