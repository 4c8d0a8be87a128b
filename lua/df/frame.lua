-- df/frame.lua -- module `ember.df.frame`: the DataFrame and GroupedData
-- classes, and the transformations that build logical plans.
--
-- A DataFrame is {sc = session, plan = logical plan} (df/logical.lua).
-- Every transformation analyses its input at once: a column that does not
-- exist is an error at the line that names it, as in Spark, and each
-- output column gets an attribute {id, name, type} (df/expr.lua).  Nothing
-- runs here; the actions (df/actions.lua), the readers (df/read.lua) and
-- df.write (df/write.lua) add their methods to these classes.
local sql = require("ember.sqlexpr")
local rdd = require("ember.rdd")
local expr = require("ember.df.expr")
local column = require("ember.df.column")
local logical = require("ember.df.logical")

local bind, expr_str, expr_name, refs = expr.bind, expr.expr_str, expr.expr_name, expr.refs
local new_attr, cast_to, widen, ref = expr.new_attr, expr.cast_to, expr.widen, expr.ref
local to_ast, arg_ast, is_col = column.to_ast, column.arg_ast, column.is_col
local F = column.functions
local project_node = logical.project
local fmt = string.format
local mtype = math.type

local M = {}

local DataFrame = {}
DataFrame.__index = DataFrame
DataFrame.__name = "ember.DataFrame"
M.DataFrame = DataFrame

local GroupedData = {}
GroupedData.__index = GroupedData
GroupedData.__name = "ember.GroupedData"
M.GroupedData = GroupedData

local function is_df(x) return getmetatable(x) == DataFrame end
M.is_df = is_df

local function df_of(sc, plan)
  return setmetatable({sc = sc, plan = plan}, DataFrame)
end

local function check_df(df)
  if getmetatable(df) ~= DataFrame then
    error("expected an ember.DataFrame (use df:method, not df.method)", 3)
  end
end

-- run f, turning its error into one at the user's line
-- (the user's frame is found by walking the stack: tail calls and helper
-- layers make a fixed error level unreliable)
local function user_where()
  for l = 3, 40 do
    local info = debug.getinfo(l, "Sl")
    if not info then break end
    if not rdd.ember_frame(info) then
      return info.short_src .. ":" .. (info.currentline or 0) .. ": "
    end
  end
  return ""
end
local function at(level, f, ...)
  local r = table.pack(pcall(f, ...))
  if not r[1] then
    local e = r[2]
    if type(e) == "string" and not e:match("^[^%s:]+:%d+: ") then
      e = user_where() .. e
    end
    error(e, 0)
  end
  return table.unpack(r, 2, r.n)
end
M.df_of, M.check_df, M.at = df_of, check_df, at

-- the expressions a select()-like call receives, bound against out
local function bind_list(out, items, allow_star)
  local exprs = {}
  for _, it in ipairs(items) do
    local ast = to_ast(it, false)
    if type(it) == "string" and it == "*" then ast = {op = "star"} end
    if ast.op == "star" then
      if not allow_star then error("'*' is not allowed here", 0) end
      for _, a in ipairs(out) do
        if ast.qualifier == nil or (a.qual and a.qual:lower() == ast.qualifier:lower()) then
          exprs[#exprs + 1] = ref(a)
        end
      end
    else
      exprs[#exprs + 1] = bind(ast, out)
    end
  end
  return exprs
end

-- f(a, b) or f{a, b}: an array of items (a sort order or a Column is one
-- item, not an array)
local function items_of(...)
  local items = {...}
  if #items == 1 and type(items[1]) == "table" and not is_col(items[1]) and
     not items[1].sort then
    items = items[1]
  end
  return items
end

----------------------------------------------------------- transformations

function DataFrame:select(...)
  check_df(self)
  local items = items_of(...)
  local plan = self.plan
  return at(2, function()
    local exprs = bind_list(plan.out, items, true)
    -- explode: a Generate node, then the projection
    local gi
    for i, e in ipairs(exprs) do
      local inner = e.op == "alias" and e.args[1] or e
      if inner.op == "explode" then
        if gi then error("only one explode() per select", 0) end
        gi = i
      end
    end
    if not gi then return df_of(self.sc, project_node(plan, exprs)) end
    local e = exprs[gi]
    local inner = e.op == "alias" and e.args[1] or e
    local split = inner.args[1]
    local src = new_attr("__gen_src", "string")
    local pre = {}
    for i, a in ipairs(plan.out) do pre[i] = ref(a) end
    local srcexpr = split.args[1]
    pre[#pre + 1] = {op = "alias", name = "__gen_src", type = "string", args = {srcexpr}}
    local p1 = project_node(plan, pre)
    local genattr = new_attr(e.op == "alias" and e.name or "col", "string")
    local keep = {}
    for i = 1, #plan.out do keep[i] = p1.out[i] end
    local gen = {kind = "generate", child = p1, keep = keep, src = p1.out[#p1.out],
                 pattern = split.args[2].value, attr = genattr,
                 out = {table.unpack(keep)}}
    gen.out[#gen.out + 1] = genattr
    exprs[gi] = {op = "attr", attr = genattr, type = "string"}
    return df_of(self.sc, project_node(gen, exprs))
  end)
end

function DataFrame:select_expr(...)
  return self:select(...)
end
DataFrame.selectExpr = DataFrame.select_expr

function DataFrame:filter(cond)
  check_df(self)
  local plan = self.plan
  return at(2, function()
    local e = bind(to_ast(cond), plan.out)
    if e.type ~= "boolean" and e.type ~= "null" then
      error("filter condition must be boolean, got " .. e.type .. ": " .. expr_str(e), 0)
    end
    return df_of(self.sc, {kind = "filter", cond = cast_to(e, "boolean"),
                           out = plan.out, child = plan})
  end)
end
DataFrame.where = DataFrame.filter

function DataFrame:with_column(name, c)
  check_df(self)
  local plan = self.plan
  return at(2, function()
    local e = bind(to_ast(c), plan.out)
    local exprs, replaced = {}, false
    for i, a in ipairs(plan.out) do
      if a.name:lower() == name:lower() then
        exprs[i] = {op = "alias", name = name, type = e.type, args = {e}}
        replaced = true
      else
        exprs[i] = ref(a)
      end
    end
    if not replaced then
      exprs[#exprs + 1] = {op = "alias", name = name, type = e.type, args = {e}}
    end
    return df_of(self.sc, project_node(plan, exprs))
  end)
end
DataFrame.withColumn = DataFrame.with_column

function DataFrame:with_column_renamed(old, new)
  check_df(self)
  local exprs = {}
  for i, a in ipairs(self.plan.out) do
    local r = ref(a)
    exprs[i] = a.name == old and {op = "alias", name = new, type = a.type, args = {r}} or r
  end
  return df_of(self.sc, project_node(self.plan, exprs))
end
DataFrame.withColumnRenamed = DataFrame.with_column_renamed

function DataFrame:drop(...)
  check_df(self)
  local gone = {}
  for _, n in ipairs(items_of(...)) do
    gone[(is_col(n) and n.ast.name or n):lower()] = true
  end
  local exprs = {}
  for _, a in ipairs(self.plan.out) do
    if not gone[a.name:lower()] then
      exprs[#exprs + 1] = ref(a)
    end
  end
  return df_of(self.sc, project_node(self.plan, exprs))
end

function DataFrame:alias(name)
  check_df(self)
  local exprs = {}
  for i, a in ipairs(self.plan.out) do
    exprs[i] = ref(a)
  end
  local p = project_node(self.plan, exprs)
  local out = {}
  for i, a in ipairs(p.out) do
    out[i] = {id = a.id, name = a.name, type = a.type, qual = name}
  end
  p.out = out
  p.alias = name
  return df_of(self.sc, p)
end

function DataFrame:limit(n)
  check_df(self)
  if mtype(n) ~= "integer" or n < 0 then
    error("limit expects a non-negative integer", 2)
  end
  return df_of(self.sc, {kind = "limit", n = n, out = self.plan.out, child = self.plan})
end

local function sort_items(out, items)
  local orders = {}
  for _, it in ipairs(items) do
    if type(it) == "table" and it.sort then
      orders[#orders + 1] = {expr = bind(it.ast, out), asc = it.asc,
                             nulls_first = it.nulls_first}
    elseif type(it) == "string" then
      for _, o in ipairs(sql.parse_order(it)) do
        orders[#orders + 1] = {expr = bind(o.expr, out), asc = o.asc,
                               nulls_first = o.nulls_first}
      end
    else
      orders[#orders + 1] = {expr = bind(to_ast(it), out), asc = true, nulls_first = true}
    end
  end
  return orders
end

function DataFrame:order_by(...)
  check_df(self)
  local items = items_of(...)
  local plan = self.plan
  return at(2, function()
    return df_of(self.sc, {kind = "sort", orders = sort_items(plan.out, items),
                           out = plan.out, child = plan})
  end)
end
DataFrame.sort = DataFrame.order_by
DataFrame.orderBy = DataFrame.order_by

function DataFrame:union(other)
  check_df(self)
  if not is_df(other) then error("union expects a DataFrame", 2) end
  if #other.plan.out ~= #self.plan.out then
    error(fmt("union: the DataFrames have %d and %d columns", #self.plan.out,
              #other.plan.out), 2)
  end
  local out = {}
  for i, a in ipairs(self.plan.out) do
    local t = widen(a.type, other.plan.out[i].type)
    if not t then
      error(fmt("union: column %d has types %s and %s", i, a.type,
                other.plan.out[i].type), 2)
    end
    out[i] = new_attr(a.name, t)
  end
  return df_of(self.sc, {kind = "union", children = {self.plan, other.plan}, out = out})
end
DataFrame.union_all = DataFrame.union
DataFrame.unionAll = DataFrame.union

function DataFrame:distinct()
  check_df(self)
  return df_of(self.sc, {kind = "distinct", out = self.plan.out, child = self.plan})
end

function DataFrame:drop_duplicates(cols)
  check_df(self)
  if cols == nil then return self:distinct() end
  -- one row per key, as Spark: grouped by the keys, every other column
  -- first() of its group, and first() keeps the values of one row (the
  -- first its task saw; which one is not defined across partitions)
  local keys, rest = {}, {}
  local set = {}
  for _, c in ipairs(cols) do set[c:lower()] = true; keys[#keys + 1] = c end
  for _, a in ipairs(self.plan.out) do
    if not set[a.name:lower()] then
      rest[#rest + 1] = a.name
    end
  end
  local aggs = {}
  for _, n in ipairs(rest) do aggs[n] = F.first(n) end
  local g = self:group_by(table.unpack(keys)):agg(aggs)
  local sel = {}
  for _, a in ipairs(self.plan.out) do sel[#sel + 1] = a.name end
  return g:select(sel)
end
DataFrame.dropDuplicates = DataFrame.drop_duplicates

-- join(other, on, how): on = "name" | {"a", "b"} | expression
local HOW = {inner = "inner", left = "left", left_outer = "left", leftouter = "left",
             right = "right", right_outer = "right", rightouter = "right",
             full = "full", outer = "full", full_outer = "full", fullouter = "full",
             semi = "semi", left_semi = "semi", leftsemi = "semi",
             anti = "anti", left_anti = "anti", leftanti = "anti", cross = "inner"}

function DataFrame:join(other, on, how)
  check_df(self)
  if not is_df(other) then error("join expects a DataFrame", 2) end
  how = HOW[tostring(how or "inner"):lower()]
  if not how then error("join: how must be inner, left, right, full, semi or anti", 2) end
  local L, R = self.plan, other.plan
  if logical.shares_attrs(L, R) then R = logical.reinstance(R) end
  return at(2, function()
    local lk, rk, extra = {}, {}, {}
    local using
    if type(on) == "string" then on = {on} end
    if type(on) == "table" and not is_col(on) then
      using = {}
      for i, n in ipairs(on) do
        local la, ra = nil, nil
        for _, a in ipairs(L.out) do if a.name:lower() == n:lower() then la = a end end
        for _, a in ipairs(R.out) do if a.name:lower() == n:lower() then ra = a end end
        if not la or not ra then
          error(fmt("join: column '%s' is not on both sides", n), 0)
        end
        lk[i] = ref(la)
        rk[i] = ref(ra)
        using[i] = n
      end
    elseif on ~= nil then
      local both = {}
      for _, a in ipairs(L.out) do both[#both + 1] = a end
      for _, a in ipairs(R.out) do both[#both + 1] = a end
      local e = bind(to_ast(on), both)
      for _, c in ipairs(expr.conjuncts(e)) do
        local done = false
        if c.op == "eq" then
          local a, b = c.args[1], c.args[2]
          local ra_, rb_ = refs(a), refs(b)
          if next(ra_) and next(rb_) then
            if expr.subset(ra_, L.out) and expr.subset(rb_, R.out) then
              lk[#lk + 1], rk[#rk + 1], done = a, b, true
            elseif expr.subset(rb_, L.out) and expr.subset(ra_, R.out) then
              lk[#lk + 1], rk[#rk + 1], done = b, a, true
            end
          end
        end
        if not done then extra[#extra + 1] = c end
      end
    end
    if #lk == 0 and how ~= "inner" then
      error("join: an outer, semi or anti join needs an equality condition", 0)
    end
    if #extra > 0 and how ~= "inner" then
      error("join: conditions other than equalities are supported for inner joins only", 0)
    end
    local out = {}
    for _, a in ipairs(L.out) do out[#out + 1] = a end
    if how ~= "semi" and how ~= "anti" then
      for _, a in ipairs(R.out) do out[#out + 1] = a end
    end
    local j = {kind = "join", how = how, left = L, right = R, lkeys = lk,
               rkeys = rk, out = out}
    local plan = j
    if #extra > 0 then
      local c = extra[1]
      for i = 2, #extra do c = {op = "and", type = "boolean", args = {c, extra[i]}} end
      plan = {kind = "filter", cond = c, out = out, child = j}
    end
    if #lk == 0 then
      error("join: a join without an equality condition (cross join) is not supported", 0)
    end
    if using and how ~= "semi" and how ~= "anti" then
      -- USING: the key columns once, then the others of each side
      local exprs, isk = {}, {}
      for i = 1, #using do
        local l, r = lk[i], rk[i]
        isk[l.attr.id], isk[r.attr.id] = true, true
        local t = widen(l.type, r.type) or l.type
        local e
        if how == "right" then e = r
        elseif how == "full" then
          e = {op = "coalesce", type = t, args = {cast_to(l, t), cast_to(r, t)}}
        else e = l end
        exprs[#exprs + 1] = e.op == "attr" and e or
          {op = "alias", name = l.attr.name, type = e.type, args = {e}}
      end
      for _, a in ipairs(out) do
        if not isk[a.id] then exprs[#exprs + 1] = ref(a) end
      end
      plan = project_node(plan, exprs)
    end
    return df_of(self.sc, plan)
  end)
end

function DataFrame:group_by(...)
  check_df(self)
  local items = items_of(...)
  local plan = self.plan
  local keys = at(2, function()
    local k = {}
    for _, it in ipairs(items) do k[#k + 1] = bind(arg_ast(it), plan.out) end
    return k
  end)
  return setmetatable({df = self, keys = keys}, GroupedData)
end
DataFrame.groupBy = DataFrame.group_by
DataFrame.groupby = DataFrame.group_by

-- {name = expr, ...} (sorted by name for a stable order) or a list of
-- aggregate Columns
local function agg_items(t)
  local items = {}
  if is_col(t) or type(t) == "string" then return {{expr = t}} end
  local named = {}
  for k, v in pairs(t) do
    if type(k) == "string" then named[#named + 1] = k end
  end
  table.sort(named)
  for _, v in ipairs(t) do items[#items + 1] = {expr = v} end
  for _, k in ipairs(named) do items[#items + 1] = {expr = t[k], name = k} end
  return items
end

local function aggregate(df, keys, items, level)
  local plan = df.plan
  return at(level + 1, function()
    local ctx = {agg = true}
    local aggs, results = {}, {}
    local seen = {}
    -- each result expression: aggregates replaced by references to the
    -- aggregate node's output attributes
    local function extract(e)
      if e.op == "agg" then
        local key = expr_str(e, true)
        if not seen[key] then
          local a = new_attr(expr_str(e, false), e.type)
          aggs[#aggs + 1] = {fn = e.fn, arg = e.args[1], type = e.type, attr = a, expr = e}
          seen[key] = a
        end
        local a = seen[key]
        return ref(a)
      end
      if e.op == "attr" then
        for _, k in ipairs(keys) do
          if k.op == "attr" and k.attr.id == e.attr.id then return e end
        end
        error(fmt("column '%s' is neither grouped nor aggregated", e.attr.name), 0)
      end
      local c = {}
      for k, v in pairs(e) do c[k] = v end
      if e.args then
        c.args = {}
        for i, a in ipairs(e.args) do c.args[i] = extract(a) end
      end
      return c
    end
    for _, it in ipairs(items) do
      local e = bind(to_ast(it.expr), plan.out, ctx)
      if not expr.has_agg(e) then error("agg: " .. expr_str(e) .. " is not an aggregate", 0) end
      local r = extract(e)
      if it.name then r = {op = "alias", name = it.name, type = r.type, args = {r}}
      elseif r.op == "attr" then
      else r = {op = "alias", name = expr_name(e), type = r.type, args = {r}} end
      results[#results + 1] = r
    end
    -- keys become attributes of the aggregate's output
    local kout = {}
    for i, k in ipairs(keys) do
      kout[i] = k.op == "attr" and k.attr or new_attr(expr_name(k), k.type)
    end
    local out = {}
    for i, a in ipairs(kout) do out[i] = a end
    for _, a in ipairs(aggs) do out[#out + 1] = a.attr end
    local agg = {kind = "aggregate", keys = keys, kout = kout, aggs = aggs,
                 out = out, child = plan}
    local exprs = {}
    for _, a in ipairs(kout) do exprs[#exprs + 1] = ref(a) end
    for _, r in ipairs(results) do exprs[#exprs + 1] = r end
    return df_of(df.sc, project_node(agg, exprs))
  end)
end

function GroupedData:agg(t, ...)
  if select("#", ...) > 0 then t = {t, ...} end
  return aggregate(self.df, self.keys, agg_items(t), 2)
end
function GroupedData:count()
  return aggregate(self.df, self.keys, {{expr = F.count("*"), name = "count"}}, 2)
end
for _, f in ipairs({"sum", "avg", "min", "max"}) do
  GroupedData[f] = function(self, ...)
    local items = {}
    for _, c in ipairs({...}) do items[#items + 1] = {expr = F[f](c)} end
    return aggregate(self.df, self.keys, items, 2)
  end
end
GroupedData.mean = GroupedData.avg

function DataFrame:agg(t, ...)
  check_df(self)
  if select("#", ...) > 0 then t = {t, ...} end
  return aggregate(self, {}, agg_items(t), 2)
end

return M
