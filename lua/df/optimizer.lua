-- df/optimizer.lua -- module `ember.df.optimizer`: the rule-based
-- optimizer of DataFrame logical plans.
--
-- optimize(plan) runs five passes, each a rewrite that copies what it
-- changes (df/logical.lua):
--   1. constant folding (FOLD, by operator) and filters that are always
--      true removed;
--   2. predicate pushdown: a filter moves below each node kind that lets
--      it through (PUSH[kind]), and filters meeting are combined;
--   3. limits combined, pushed below projections and into both sides of a
--      union (Spark's LimitPushDown);
--   4. projection pruning: each node keeps the columns its parent needs
--      (PRUNE[kind]), down to the scans, which read only those;
--   5. the filters right above a scan are handed to it (columnar files
--      skip row groups with them).
-- Folding a cast from a string to a date uses ember.dates' rule, the one
-- op_relational applies when the cast runs, so folding never changes a
-- result.
local dates = require("ember.dates")
local expr = require("ember.df.expr")
local logical = require("ember.df.logical")

local refs, cast_to, has_agg = expr.refs, expr.cast_to, expr.has_agg
local conjuncts, subset, and_all = expr.conjuncts, expr.subset, expr.and_all
local copy, children, with_children = logical.copy, logical.children, logical.with_children
local mtype = math.type

local M = {}

-------------------------------------------------------- constant folding

-- binary operators folded when both sides are literals
local FOLD = {
  add = function(a, b) return a + b end, sub = function(a, b) return a - b end,
  mul = function(a, b) return a * b end,
  eq = function(a, b) return a == b end, ne = function(a, b) return a ~= b end,
  lt = function(a, b) return a < b end, le = function(a, b) return a <= b end,
  gt = function(a, b) return a > b end, ge = function(a, b) return a >= b end,
}

local function is_lit(e, v)
  return e.op == "lit" and (v == nil or e.value == v)
end

local function fold(e)
  if not e.args then return e end
  local c = copy(e)
  c.args = {}
  local all = true
  for i, a in ipairs(e.args) do
    c.args[i] = fold(a)
    if c.args[i].op ~= "lit" then all = false end
  end
  local op = c.op
  if op == "and" then
    local a, b = c.args[1], c.args[2]
    if is_lit(a, true) then return b end
    if is_lit(b, true) then return a end
    if is_lit(a, false) or is_lit(b, false) then return {op = "lit", type = "boolean", value = false} end
  elseif op == "or" then
    local a, b = c.args[1], c.args[2]
    if is_lit(a, false) then return b end
    if is_lit(b, false) then return a end
    if is_lit(a, true) or is_lit(b, true) then return {op = "lit", type = "boolean", value = true} end
  elseif op == "not" and all and c.args[1].value ~= nil then
    return {op = "lit", type = "boolean", value = not c.args[1].value}
  end
  if all and FOLD[op] then
    local a, b = c.args[1].value, c.args[2].value
    if a == nil or b == nil then return {op = "lit", type = c.type} end
    if type(a) == type(b) and (type(a) == "number" or (type(a) == "string" and op ~= "add")) then
      local ok, v = pcall(FOLD[op], a, b)
      if ok then
        if c.type == "int" and mtype(v) == "integer" then
          v = ((v + 2147483648) % 4294967296) - 2147483648
        end
        return {op = "lit", type = c.type, value = v}
      end
    end
  elseif all and op == "cast" then
    local v, t = c.args[1].value, c.type
    if v == nil then return {op = "lit", type = t} end
    local from = c.args[1].type
    if (t == "bigint" or t == "int") and mtype(v) == "integer" then
      return {op = "lit", type = t, value = v}
    elseif t == "double" and type(v) == "number" then
      return {op = "lit", type = t, value = v + 0.0}
    elseif t == "date" and from == "string" then
      local d = dates.parse_date(v)
      if d then return {op = "lit", type = "date", value = d} end
    elseif t == "string" and (from == "int" or from == "bigint") then
      return {op = "lit", type = "string", value = tostring(v)}
    end
  elseif all and op == "div" then
    local a, b = c.args[1].value, c.args[2].value
    if a == nil or b == nil or b == 0 then return {op = "lit", type = "double"} end
    return {op = "lit", type = "double", value = a / b}
  end
  return c
end

-- substitute attribute references by id
local function subst(e, map)
  if e.op == "attr" then return map[e.attr.id] or e end
  if not e.args then return e end
  local c = copy(e)
  c.args = {}
  for i, a in ipairs(e.args) do c.args[i] = subst(a, map) end
  return c
end

-- MAP_EXPRS[kind](copy, node, f): f applied to each expression of a node
-- (the copy gets the results)
local MAP_EXPRS = {}

function MAP_EXPRS.project(n, node, f)
  n.exprs = {}
  for i, e in ipairs(node.exprs) do n.exprs[i] = f(e) end
end

function MAP_EXPRS.filter(n, node, f)
  n.cond = f(node.cond)
end

function MAP_EXPRS.aggregate(n, node, f)
  n.keys = {}
  for i, k in ipairs(node.keys) do n.keys[i] = f(k) end
  n.aggs = {}
  for i, a in ipairs(node.aggs) do
    n.aggs[i] = copy(a)
    if a.arg then n.aggs[i].arg = f(a.arg) end
  end
end

function MAP_EXPRS.sort(n, node, f)
  n.orders = {}
  for i, o in ipairs(node.orders) do
    n.orders[i] = copy(o)
    n.orders[i].expr = f(o.expr)
  end
end

local function map_exprs(node, f)
  local n = copy(node)
  local m = MAP_EXPRS[n.kind]
  if m then m(n, node, f) end
  return n
end

-- rewrite bottom-up: f(node with rewritten children)
local function transform_up(n, f)
  local cs = children(n)
  if #cs > 0 then
    local nc = {}
    for i, ch in ipairs(cs) do nc[i] = transform_up(ch, f) end
    n = with_children(n, nc)
  end
  return f(n)
end

-------------------------------------------------------- filter pushdown

local push_filter

-- PUSH[kind](cond, child) -> the subtree with the filter moved into or
-- below child, or nil when it has to stay above child
local PUSH = {}

-- two filters become one
function PUSH.filter(cond, child)
  return push_filter({op = "and", type = "boolean", args = {child.cond, cond}}, child.child)
end

-- through a projection when every referenced output is a plain attribute
-- or a deterministic expression (substituted)
function PUSH.project(cond, child)
  local map, ok = {}, true
  for _, e in ipairs(child.exprs) do
    if e.op ~= "attr" and e.out then map[e.out.id] = e.op == "alias" and e.args[1] or e end
  end
  for id in pairs(refs(cond)) do
    local found = false
    for _, a in ipairs(child.child.out) do if a.id == id then found = true end end
    if not found and not map[id] then ok = false end
    if map[id] and has_agg(map[id]) then ok = false end
  end
  if ok then
    local c = copy(child)
    c.child = push_filter(subst(cond, map), child.child)
    return c
  end
end

function PUSH.sort(cond, child)
  local c = copy(child)
  c.child = push_filter(cond, child.child)
  return c
end

-- each conjunct to the side whose columns it reads, where the join type
-- allows it (the preserved side of an outer join keeps its rows)
function PUSH.join(cond, child)
  local l, r, stay = {}, {}, {}
  local how = child.how
  for _, c in ipairs(conjuncts(cond)) do
    local rs = refs(c)
    if subset(rs, child.left.out) and (how == "inner" or how == "left" or how == "semi" or how == "anti") then
      l[#l + 1] = c
    elseif subset(rs, child.right.out) and (how == "inner" or how == "right") then
      r[#r + 1] = c
    else
      stay[#stay + 1] = c
    end
  end
  if #l + #r > 0 then
    local j = copy(child)
    if #l > 0 then j.left = push_filter(and_all(l), child.left) end
    if #r > 0 then j.right = push_filter(and_all(r), child.right) end
    if #stay == 0 then return j end
    return {kind = "filter", cond = and_all(stay), out = j.out, child = j}
  end
end

-- conjuncts on grouping columns only go below the aggregate
function PUSH.aggregate(cond, child)
  local keyids = {}
  for i, kk in ipairs(child.keys) do
    if kk.op == "attr" then keyids[child.kout[i].id] = kk end
  end
  local below, stay = {}, {}
  for _, c in ipairs(conjuncts(cond)) do
    local only = true
    for id in pairs(refs(c)) do if not keyids[id] then only = false end end
    if only then below[#below + 1] = c else stay[#stay + 1] = c end
  end
  if #below > 0 then
    local a = copy(child)
    a.child = push_filter(and_all(below), child.child)
    if #stay == 0 then return a end
    return {kind = "filter", cond = and_all(stay), out = a.out, child = a}
  end
end

-- into every side of a union, on that side's columns
function PUSH.union(cond, child)
  local cs = {}
  for i, ch in ipairs(child.children) do
    local map = {}
    for j, a in ipairs(child.out) do
      map[a.id] = cast_to(expr.ref(ch.out[j]), a.type)
    end
    cs[i] = push_filter(subst(cond, map), ch)
  end
  local u = copy(child)
  u.children = cs
  return u
end

-- push filters down as far as they go; returns the new subtree
function push_filter(cond, child)
  local through = PUSH[child.kind]
  local r = through and through(cond, child)
  if r then return r end
  return {kind = "filter", cond = cond, out = child.out, child = child}
end

---------------------------------------------------- projection pruning

local prune

-- PRUNE[kind](n, need) -> n keeping the columns whose ids are in need
-- (and what it needs itself); kinds not here are kept as they are
local PRUNE = {}

function PRUNE.project(n, need)
  local exprs, out, cneed = {}, {}, {}
  for i, e in ipairs(n.exprs) do
    if need[n.out[i].id] then
      exprs[#exprs + 1] = e
      out[#out + 1] = n.out[i]
      refs(e, cneed)
    end
  end
  if #exprs == 0 then exprs, out = {n.exprs[1]}, {n.out[1]}; refs(n.exprs[1], cneed) end
  local c = copy(n)
  c.exprs, c.out = exprs, out
  c.child = prune(n.child, cneed)
  -- a projection that passes its child through unchanged disappears
  if #c.exprs == #c.child.out and not c.alias then
    local same = true
    for i, e in ipairs(c.exprs) do
      if e.op ~= "attr" or e.attr.id ~= c.child.out[i].id then same = false end
    end
    if same then return c.child end
  end
  return c
end

-- a node whose output is its child's: the child keeps what the parent
-- needs plus cneed's additions
local function pass_through(n, cneed)
  local c = copy(n)
  c.child = prune(n.child, cneed)
  c.out = c.child.out
  return c
end

function PRUNE.filter(n, need)
  local cneed = copy(need)
  refs(n.cond, cneed)
  return pass_through(n, cneed)
end

function PRUNE.sort(n, need)
  local cneed = copy(need)
  for _, o in ipairs(n.orders) do refs(o.expr, cneed) end
  return pass_through(n, cneed)
end

function PRUNE.limit(n, need)
  return pass_through(n, copy(need))
end

function PRUNE.aggregate(n)
  local cneed = {}
  for _, e in ipairs(n.keys) do refs(e, cneed) end
  for _, a in ipairs(n.aggs) do
    if a.arg then refs(a.arg, cneed) end
  end
  local c = copy(n)
  c.child = prune(n.child, cneed)
  return c
end

function PRUNE.join(n, need)
  local ln, rn = {}, {}
  for id in pairs(need) do ln[id] = true; rn[id] = true end
  for _, e in ipairs(n.lkeys) do refs(e, ln) end
  for _, e in ipairs(n.rkeys) do refs(e, rn) end
  local c = copy(n)
  c.left = prune(n.left, ln)
  c.right = prune(n.right, rn)
  c.out = {}
  for _, a in ipairs(c.left.out) do c.out[#c.out + 1] = a end
  if n.how ~= "semi" and n.how ~= "anti" then
    for _, a in ipairs(c.right.out) do c.out[#c.out + 1] = a end
  end
  return c
end

function PRUNE.generate(n, need)
  local cneed = copy(need)
  cneed[n.src.id] = true
  local c = copy(n)
  c.child = prune(n.child, cneed)
  c.keep = {}
  for _, a in ipairs(n.keep) do if need[a.id] then c.keep[#c.keep + 1] = a end end
  c.out = {table.unpack(c.keep)}
  c.out[#c.out + 1] = n.attr
  return c
end

function PRUNE.scan(n, need)
  local out = {}
  for _, a in ipairs(n.all) do if need[a.id] then out[#out + 1] = a end end
  if #out == 0 then out = {n.all[1]} end
  local c = copy(n)
  c.out = out
  return c
end

-- positional: everything below is needed
local function positional(n)
  local c = copy(n)
  local cs = children(n)
  if #cs > 0 then
    local nc = {}
    for i, ch in ipairs(cs) do
      local all = {}
      for _, a in ipairs(ch.out) do all[a.id] = true end
      nc[i] = prune(ch, all)
    end
    c = with_children(c, nc)
  end
  return c
end
PRUNE.union, PRUNE.distinct, PRUNE["local"] = positional, positional, positional

function prune(n, need)
  local f = PRUNE[n.kind]
  if f then return f(n, need) end
  return n
end

M.PUSH, M.PRUNE, M.MAP_EXPRS = PUSH, PRUNE, MAP_EXPRS

------------------------------------------------------------- the passes

function M.optimize(plan)
  -- 1. constant folding and filter simplification
  local p = transform_up(plan, function(n)
    n = map_exprs(n, fold)
    if n.kind == "filter" and is_lit(n.cond, true) then return n.child end
    return n
  end)
  -- 2. predicate pushdown (filters are combined on the way)
  p = transform_up(p, function(n)
    if n.kind == "filter" then return push_filter(n.cond, n.child) end
    return n
  end)
  -- 3. limits combined, and pushed down through projections
  p = transform_up(p, function(n)
    while n.kind == "limit" and n.child.kind == "limit" and not n.child.local_only do
      n = {kind = "limit", n = math.min(n.n, n.child.n), out = n.out,
           child = n.child.child}
    end
    if n.kind == "limit" and n.child.kind == "union" and not n.child.limited then
      -- each side of a union needs at most n rows (Spark's LimitPushDown)
      local u = copy(n.child)
      u.limited = true
      u.children = {}
      for i, ch in ipairs(n.child.children) do
        u.children[i] = {kind = "limit", n = n.n, out = ch.out, child = ch,
                         local_only = true}
      end
      local l = copy(n)
      l.child = u
      return l
    end
    if n.kind == "limit" and n.child.kind == "project" then
      local pr = copy(n.child)
      pr.child = {kind = "limit", n = n.n, out = n.child.child.out, child = n.child.child}
      return pr
    end
    return n
  end)
  -- 4. projection pruning down to the scans
  local need = {}
  for _, a in ipairs(plan.out) do need[a.id] = true end
  p = prune(p, need)
  -- 5. filters right above scans are pushed into them
  p = transform_up(p, function(n)
    if n.kind == "filter" and n.child.kind == "scan" then
      local s = copy(n.child)
      s.pushed = conjuncts(n.cond)
      local f = copy(n)
      f.child = s
      return f
    end
    return n
  end)
  return p
end

return M
