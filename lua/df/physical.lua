-- df/physical.lua -- module `ember.df.physical`: physical planning of an
-- optimized logical plan.
--
-- plan(n, sc) turns each logical node into physical nodes {op = name,
-- line = its explain text, kids = {...}, out = attributes, and what
-- df/compile.lua needs}, through PLAN[kind]:
--   filter, project, generate, limit, sort  row-wise operators (a sort
--     over expressions computes them first; a global sort is a range
--     exchange then a sort per partition, a sort under a limit the top n);
--   aggregate, distinct  a partial hash aggregate, a hash exchange on the
--     keys and a final one (count_distinct: one complete aggregate);
--   join  a broadcast hash join when the right side is estimated
--     (ESTIMATE[kind]) under sql.autoBroadcastJoinThreshold, else both
--     sides hash-exchanged on the keys;
--   union  its children, their columns cast to the union's types;
--   scan, local, cached  leaves.
-- Exchanges have sql.shuffle.partitions partitions.  Operators and their
-- parameters: docs/dataframe-internals.md.
local expr = require("ember.df.expr")
local logical = require("ember.df.logical")

local expr_str, attrs_str, new_attr = expr.expr_str, expr.attrs_str, expr.new_attr
local cast_to, ref, positions = expr.cast_to, expr.ref, expr.positions
local fmt, concat = string.format, table.concat

local M = {}

-- the number of partitions of an exchange (settings are typed, defaulted
-- and checked by the key table, core/conf_keys.c)
local function shuffle_partitions(sc)
  return sc._s:conf_value("sql.shuffle.partitions")
end

---------------------------------------------------------------- estimates

local estimate

-- ESTIMATE[kind](n) -> estimated output size in bytes, for choosing
-- broadcast joins; kinds not here are too big to broadcast
local ESTIMATE = {}

function ESTIMATE.scan(n)
  local frac = #n.out / math.max(1, #n.all)
  return n.size * frac
end

ESTIMATE["local"] = function(n) return n.nrows * 8 * #n.out end

local function child_size(n) return estimate(n.child) end
ESTIMATE.filter, ESTIMATE.project, ESTIMATE.sort = child_size, child_size, child_size
ESTIMATE.generate, ESTIMATE.distinct, ESTIMATE.aggregate = child_size, child_size, child_size

function ESTIMATE.limit(n) return math.min(estimate(n.child), n.n * 8 * #n.out) end

function ESTIMATE.join(n) return estimate(n.left) + estimate(n.right) end

function ESTIMATE.union(n)
  local s = 0
  for _, c in ipairs(n.children) do s = s + estimate(c) end
  return s
end

function estimate(n)
  local f = ESTIMATE[n.kind]
  if f then return f(n) end
  return math.huge
end
M.estimate = estimate

------------------------------------------------------------------ helpers

local function orders_str(orders)
  local t = {}
  for i, o in ipairs(orders) do
    t[i] = expr_str(o.expr, true) .. (o.asc and " ASC" or " DESC") ..
           (o.nulls_first and " NULLS FIRST" or " NULLS LAST")
  end
  return concat(t, ", ")
end

local function keys_str(list)
  local t = {}
  for i, e in ipairs(list) do t[i] = expr_str(e, true) end
  return concat(t, ", ")
end

-- true when every expression is an attribute of input
local function plain_cols(exprs, input)
  local pos = positions(input)
  for _, e in ipairs(exprs) do
    if e.op ~= "attr" or not pos[e.attr.id] then return false end
  end
  return true
end

-- project list of attributes + extra expressions (for pre-projections)
local function pre_project(child, exprs)
  local out = {}
  for i, e in ipairs(exprs) do out[i] = e.op == "attr" and e.attr or e.out end
  local t = {}
  for i, e in ipairs(exprs) do t[i] = expr_str(e, true) end
  return {op = "project", exprs = exprs, out = out, kids = {child},
          line = "Project [" .. concat(t, ", ") .. "]"}
end

-- an exchange: mode "hash" (keys), "range" (orders) or "single"
local function exchange(child, mode, keys, n, orders)
  local line
  if mode == "hash" then line = fmt("Exchange hashpartitioning(%s, %d)", keys_str(keys), n)
  elseif mode == "range" then line = fmt("Exchange rangepartitioning(%s, %d)", orders_str(orders), n)
  else line = "Exchange SinglePartition" end
  return {op = "exchange", mode = mode, keys = keys, n = n, orders = orders,
          out = child.out, kids = {child}, line = line}
end

-- an expression computed into a new column by a pre-projection
local function computed(name, e, a)
  return {op = "alias", name = name, type = e.type, args = {e}, out = a, id = a.id}
end

------------------------------------------------------------------ planning

local plan

-- PLAN[kind](n, sc, parent_limit) -> physical node; parent_limit: the n of
-- a limit right above (a sort under it keeps only the top n)
local PLAN = {}

function PLAN.scan(n)
  local pf = {}
  for i, c in ipairs(n.pushed or {}) do pf[i] = expr_str(c, true) end
  local rs = {}
  for i, a in ipairs(n.out) do rs[i] = a.name .. ":" .. expr.SIMPLE_TYPE[a.type] end
  return {op = "scan", scan = n, out = n.out, kids = {},
          line = fmt("FileScan %s [%s] Batched: true, Format: %s, Location: %s, PushedFilters: [%s], ReadSchema: struct<%s>",
                     n.fmt, attrs_str(n.out), n.fmt:upper(), n.path, concat(pf, ", "), concat(rs, ","))}
end

PLAN["local"] = function(n)
  return {op = "local", src = n, out = n.out, kids = {},
          line = "LocalTableScan [" .. attrs_str(n.out) .. "]"}
end

function PLAN.cached(n)
  return {op = "cached", src = n, out = n.out, kids = {},
          line = fmt("InMemoryTableScan [%s], %s", attrs_str(n.out), n.ds.node.level_name or "NONE")}
end

function PLAN.filter(n, sc)
  local c = plan(n.child, sc)
  return {op = "filter", cond = n.cond, out = c.out, kids = {c},
          line = "Filter " .. expr_str(n.cond, true)}
end

function PLAN.project(n, sc)
  local c = plan(n.child, sc)
  local t = {}
  for i, e in ipairs(n.exprs) do t[i] = expr_str(e, true) end
  for i, e in ipairs(n.exprs) do
    if e.op ~= "attr" then e.out = e.out or n.out[i] end
  end
  return {op = "project", exprs = n.exprs, out = n.out, kids = {c},
          line = "Project [" .. concat(t, ", ") .. "]"}
end

function PLAN.generate(n, sc)
  local c = plan(n.child, sc)
  return {op = "generate", gen = n, out = n.out, kids = {c},
          line = fmt("Generate explode(split(%s#%d, %s)), [%s], false, [%s#%d]",
                     n.src.name, n.src.id, n.pattern, attrs_str(n.keep),
                     n.attr.name, n.attr.id)}
end

function PLAN.limit(n, sc)
  local c = plan(n.child, sc, n.n)
  if n.child.kind == "sort" then return c end -- TakeOrderedAndProject
  local local_ = {op = "limit", n = n.n, out = c.out, kids = {c}, line = "LocalLimit " .. n.n}
  if n.local_only then return local_ end -- per partition: a union's side
  local ex = exchange(local_, "single", nil, 1)
  return {op = "limit", n = n.n, out = c.out, kids = {ex}, line = "GlobalLimit " .. n.n}
end

function PLAN.sort(n, sc, parent_limit)
  local c = plan(n.child, sc)
  -- sort keys must be columns: compute expressions first
  local need_pre = false
  for _, o in ipairs(n.orders) do if o.expr.op ~= "attr" then need_pre = true end end
  local orders = n.orders
  if need_pre then
    local exprs = {}
    for _, a in ipairs(c.out) do exprs[#exprs + 1] = ref(a) end
    orders = {}
    for i, o in ipairs(n.orders) do
      if o.expr.op == "attr" then orders[i] = o else
        local a = new_attr("__sortkey" .. i, o.expr.type)
        exprs[#exprs + 1] = computed(a.name, o.expr, a)
        orders[i] = {expr = ref(a), asc = o.asc, nulls_first = o.nulls_first}
      end
    end
    c = pre_project(c, exprs)
  end
  local s
  if parent_limit then
    local ls = {op = "sort", orders = orders, limit = parent_limit, out = c.out, kids = {c},
                line = "Sort [" .. orders_str(orders) .. "], false, limit " .. parent_limit}
    local ex = exchange(ls, "single", nil, 1)
    s = {op = "sort", orders = orders, limit = parent_limit, out = c.out, kids = {ex},
         line = "TakeOrderedAndProject(limit=" .. parent_limit .. ", orderBy=[" .. orders_str(orders) .. "])"}
  else
    local ex = exchange(c, "range", nil, shuffle_partitions(sc), orders)
    s = {op = "sort", orders = orders, limit = -1, out = c.out, kids = {ex},
         line = "Sort [" .. orders_str(orders) .. "], true"}
  end
  if need_pre then
    local exprs = {}
    for _, a in ipairs(n.out) do exprs[#exprs + 1] = ref(a) end
    return pre_project(s, exprs)
  end
  return s
end

-- the state columns a partial aggregate outputs for aggregate i (avg: a
-- sum and a count), after the keys
local function partial_state(a, i, aattr)
  if a.fn == "avg" then
    return {new_attr("__sum" .. i, "double"), new_attr("__count" .. i, "bigint")}
  elseif a.fn == "count" or a.fn == "count_star" then
    return {new_attr("__count" .. i, "bigint")}
  elseif a.fn == "sum" then
    return {new_attr("__sum" .. i, a.type)}
  end
  return {new_attr("__state" .. i, aattr and aattr.type or a.type)}
end

-- group n's child by keys (output attributes kout) computing aggs
local function hash_aggregate(n, sc, keys, aggs, kout)
  local c = plan(n.child, sc)
  -- pre-projection: keys and aggregate arguments as columns
  local exprs, pos = {}, {}
  local function col_for(e, name)
    if e.op == "attr" then
      if not pos[e.attr.id] then
        exprs[#exprs + 1] = e
        pos[e.attr.id] = #exprs
      end
      return e.attr
    end
    local a = new_attr(name, e.type)
    exprs[#exprs + 1] = computed(name, e, a)
    pos[a.id] = #exprs
    return a
  end
  local kattrs, aattrs = {}, {}
  for i, e in ipairs(keys) do
    kattrs[i] = col_for(e, kout[i].name)
    if e.op ~= "attr" then kout[i].src = kattrs[i] end
  end
  local distinct = false
  for i, a in ipairs(aggs) do
    if a.arg then aattrs[i] = col_for(a.arg, "__aggarg" .. i) end
    if a.fn == "count_distinct" then distinct = true end
  end
  -- (no columns at all, e.g. a global count(*): the child's rows as they
  -- are; a projection must keep at least one column)
  local needs_pre = #exprs > 0 and (not plain_cols(exprs, c.out) or #exprs ~= #c.out)
  if needs_pre then c = pre_project(c, exprs) end
  local ks = {}
  for i, a in ipairs(kattrs) do ks[i] = ref(a) end
  local fnames = {}
  for i, a in ipairs(aggs) do fnames[i] = expr_str(a.expr, true) end
  local outattrs = {}
  for i = 1, #kattrs do outattrs[i] = kout[i] end
  for _, a in ipairs(aggs) do outattrs[#outattrs + 1] = a.attr end
  -- what a partial aggregate outputs: the keys, then each aggregate's
  -- state columns; the exchange above it finds the keys there
  local partial_out = {}
  for i = 1, #kattrs do partial_out[i] = kattrs[i] end
  for i, a in ipairs(aggs) do
    for _, s in ipairs(partial_state(a, i, aattrs[i])) do partial_out[#partial_out + 1] = s end
  end
  local function agg_node(mode, child)
    return {op = "hash_agg", mode = mode, keys = kattrs, aggs = aggs,
            aattrs = aattrs, out = mode == "partial" and partial_out or outattrs,
            kids = {child}, kout = kout,
            line = fmt("HashAggregate(keys=[%s], functions=[%s%s])", keys_str(ks),
                       mode == "partial" and "partial_" or "",
                       concat(fnames, mode == "partial" and ", partial_" or ", "))}
  end
  local parts = #kattrs == 0 and 1 or shuffle_partitions(sc)
  local mode = #kattrs == 0 and "single" or "hash"
  if distinct then
    return agg_node("complete", exchange(c, mode, ks, parts))
  end
  local partial = agg_node("partial", c)
  return agg_node("final", exchange(partial, mode, ks, parts))
end

function PLAN.aggregate(n, sc)
  return hash_aggregate(n, sc, n.keys, n.aggs, n.kout)
end

-- an aggregate grouping by every column, without functions
function PLAN.distinct(n, sc)
  local keys, kout = {}, {}
  for i, a in ipairs(n.out) do keys[i] = ref(a); kout[i] = a end
  return hash_aggregate(n, sc, keys, {}, kout)
end

-- the join keys of one side as columns of the same type as the other
-- side's: side, key attributes, whether a pre-projection computes them
local function key_columns(side, keys, other)
  local exprs, attrs, changed = {}, {}, false
  for _, a in ipairs(side.out) do exprs[#exprs + 1] = ref(a) end
  for i, e in ipairs(keys) do
    local t = expr.widen(e.type, other[i].type) or e.type
    local ce = cast_to(e, t)
    if ce.op == "attr" then attrs[i] = ce.attr else
      local a = new_attr("__joinkey" .. i, t)
      exprs[#exprs + 1] = {op = "alias", name = a.name, type = t, args = {ce}, out = a, id = a.id}
      attrs[i] = a
      changed = true
    end
  end
  if changed then side = pre_project(side, exprs) end
  return side, attrs, changed
end

function PLAN.join(n, sc)
  local l = plan(n.left, sc)
  local r = plan(n.right, sc)
  local lch, rch
  l, n.lk_attrs, lch = key_columns(l, n.lkeys, n.rkeys)
  r, n.rk_attrs, rch = key_columns(r, n.rkeys, n.lkeys)
  local lks, rks = {}, {}
  for i, a in ipairs(n.lk_attrs) do lks[i] = ref(a) end
  for i, a in ipairs(n.rk_attrs) do rks[i] = ref(a) end
  local how = logical.JOIN_TYPE[n.how]
  local out = {}
  for _, a in ipairs(l.out) do out[#out + 1] = a end
  if n.how ~= "semi" and n.how ~= "anti" then
    for _, a in ipairs(r.out) do out[#out + 1] = a end
  end
  local threshold = sc._s:conf_value("sql.autoBroadcastJoinThreshold")
  local j
  if threshold >= 0 and estimate(n.right) <= threshold and
     (n.how == "inner" or n.how == "left" or n.how == "semi" or n.how == "anti") then
    local bx = exchange(r, "single", nil, 1)
    bx.line = "BroadcastExchange HashedRelationBroadcastMode(" .. keys_str(rks) .. ")"
    j = {op = "join", how = n.how, broadcast = true, lk = n.lk_attrs, rk = n.rk_attrs,
         out = out, kids = {l, bx},
         line = fmt("BroadcastHashJoin [%s], [%s], %s, BuildRight", keys_str(lks), keys_str(rks), how)}
  else
    local nparts = shuffle_partitions(sc)
    j = {op = "join", how = n.how, lk = n.lk_attrs, rk = n.rk_attrs, out = out,
         kids = {exchange(l, "hash", lks, nparts), exchange(r, "hash", rks, nparts)},
         line = fmt("ShuffledHashJoin [%s], [%s], %s, BuildRight", keys_str(lks), keys_str(rks), how)}
  end
  if lch or rch then
    local exprs = {}
    for _, a in ipairs(n.out) do exprs[#exprs + 1] = ref(a) end
    return pre_project(j, exprs)
  end
  return j
end

function PLAN.union(n, sc)
  local kids = {}
  for i, ch in ipairs(n.children) do
    local c = plan(ch, sc)
    local exprs, changed = {}, false
    for j, a in ipairs(c.out) do
      local e = cast_to(ref(a), n.out[j].type)
      if e.op ~= "attr" then
        local na = new_attr(n.out[j].name, n.out[j].type)
        e = computed(na.name, e, na)
        changed = true
      end
      exprs[j] = e
    end
    kids[i] = changed and pre_project(c, exprs) or c
  end
  return {op = "union", out = n.out, kids = kids, line = "Union"}
end

M.PLAN, M.ESTIMATE = PLAN, ESTIMATE

-- plan(n, sc[, parent_limit]) -> the physical plan of logical plan n
function plan(n, sc, parent_limit)
  local f = PLAN[n.kind]
  if not f then error("internal: cannot plan " .. tostring(n.kind), 0) end
  return f(n, sc, parent_limit)
end
M.plan = plan

return M
