-- df/logical.lua -- module `ember.df.logical`: the nodes of a DataFrame's
-- logical plan, what every kind has in common, and their explain text.
--
-- A DataFrame holds a logical plan (df/frame.lua builds it), a tree of
-- plain tables {kind = K, out = {attributes}, ...}; by kind:
--   scan      fmt, op, path, params, splits, all (every column of the
--             file), size, malformed (accumulator), pushed (filters)
--   local     slices (batches), nrows
--   cached    ds (the persisted Dataset), orig (the plan it replaced)
--   project   child, exprs (out[i] is exprs[i]'s attribute), alias
--   filter    child, cond
--   aggregate child, keys, kout (the keys' attributes), aggs ({fn, arg,
--             type, attr, expr})
--   sort      child, orders ({expr, asc, nulls_first})
--   limit     child, n, local_only (per partition: a union's side)
--   distinct  child
--   generate  child, keep (attributes passed on), src, pattern, attr
--   join      left, right, how, lkeys, rkeys
--   union     children, limited
-- Each phase keeps a table of functions by kind: TEXT here (explain),
-- MAP_EXPRS, PUSH and PRUNE in df/optimizer.lua, ESTIMATE and PLAN in
-- df/physical.lua.  A plan is never changed in place: every rewrite
-- copies the nodes it changes.
local expr = require("ember.df.expr")

local fmt, concat = string.format, table.concat
local expr_str, attrs_str, names_of = expr.expr_str, expr.attrs_str, expr.names_of

local M = {}

-- every kind of logical node, as listed above
M.KINDS = {"scan", "local", "cached", "project", "filter", "aggregate", "sort",
           "limit", "distinct", "generate", "join", "union"}

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end
M.copy = copy

-- a projection of child: out[i] is exprs[i]'s attribute (a new one for
-- anything but a plain reference; an alias records its id)
function M.project(child, exprs)
  local out = {}
  for i, e in ipairs(exprs) do
    if e.op == "attr" then
      out[i] = e.attr
    else
      local a = expr.new_attr(expr.expr_name(e), e.type)
      if e.op == "alias" then e.id = a.id end
      out[i] = a
      e.out = a
    end
  end
  return {kind = "project", exprs = exprs, out = out, child = child}
end

-------------------------------------------------------------- structure

-- the inputs of a node, in order
local function children(n)
  if n.children then return n.children end
  if n.left then return {n.left, n.right} end
  if n.child then return {n.child} end
  return {}
end
M.children = children

-- a copy of n with other inputs
function M.with_children(n, cs)
  local c = copy(n)
  if n.children then c.children = cs
  elseif n.left then c.left, c.right = cs[1], cs[2]
  elseif n.child then c.child = cs[1] end
  return c
end

-- A copy of a plan whose attributes are all new (same names and types):
-- the right side of a self-join, so both sides' columns stay distinct
function M.reinstance(plan)
  local map = {}
  local function na(a)
    local n = map[a.id]
    if not n then
      n = expr.new_attr(a.name, a.type, a.qual)
      map[a.id] = n
    end
    return n
  end
  local function rx(e)
    if e == nil then return nil end
    if e.op == "attr" then return {op = "attr", attr = na(e.attr), type = e.type} end
    local c = copy(e)
    if e.out then
      c.out = na(e.out)
      if e.id then c.id = c.out.id end
    end
    if e.args then
      c.args = {}
      for i, a in ipairs(e.args) do c.args[i] = rx(a) end
    end
    return c
  end
  local function list(t, f)
    if not t then return nil end
    local r = {}
    for i, v in ipairs(t) do r[i] = f(v) end
    return r
  end
  local function walk(n)
    local c = copy(n)
    if n.child then c.child = walk(n.child) end
    if n.left then c.left, c.right = walk(n.left), walk(n.right) end
    if n.children then c.children = list(n.children, walk) end
    c.exprs = list(n.exprs, rx)
    c.cond = rx(n.cond)
    c.keys = list(n.keys, rx)
    c.lkeys, c.rkeys = list(n.lkeys, rx), list(n.rkeys, rx)
    c.kout = list(n.kout, na)
    c.all = list(n.all, na)
    c.keep = list(n.keep, na)
    if n.src then c.src = na(n.src) end
    if n.kind == "generate" then c.attr = na(n.attr) end
    c.aggs = list(n.aggs, function(a)
      local b = copy(a)
      b.arg, b.expr, b.attr = rx(a.arg), rx(a.expr), na(a.attr)
      return b
    end)
    c.orders = list(n.orders, function(o)
      local b = copy(o)
      b.expr = rx(o.expr)
      return b
    end)
    c.out = list(n.out, function(a)
      local m = na(a)
      if a.qual ~= m.qual then -- df:alias() qualifies the same attributes
        return {id = m.id, name = m.name, type = m.type, qual = a.qual}
      end
      return m
    end)
    return c
  end
  return walk(plan)
end

-- do plans a and b have an attribute in common (a self-join)?
function M.shares_attrs(a, b)
  local ids = {}
  local function collect(n)
    for _, x in ipairs(n.out or {}) do ids[x.id] = true end
    for _, x in ipairs(n.all or {}) do ids[x.id] = true end
    if n.child then collect(n.child) end
    if n.left then collect(n.left); collect(n.right) end
    for _, ch in ipairs(n.children or {}) do collect(ch) end
  end
  collect(a)
  local hit = false
  local function probe(n)
    for _, x in ipairs(n.out or {}) do if ids[x.id] then hit = true end end
    for _, x in ipairs(n.all or {}) do if ids[x.id] then hit = true end end
    if n.child then probe(n.child) end
    if n.left then probe(n.left); probe(n.right) end
    for _, ch in ipairs(n.children or {}) do probe(ch) end
  end
  probe(b)
  return hit
end

-------------------------------------------------------------- explain

-- Spark's names of the join types
M.JOIN_TYPE = {inner = "Inner", left = "LeftOuter", right = "RightOuter",
               full = "FullOuter", semi = "LeftSemi", anti = "LeftAnti"}

-- the column list of a leaf: name#id or names
local function cols(out, ids)
  return ids and attrs_str(out) or concat(names_of(out), ",")
end

-- TEXT[kind](n, ids) -> the node's line in explain's logical plans
local TEXT = {}

function TEXT.scan(n, ids)
  return fmt("Relation [%s] %s", cols(n.out, ids), n.fmt)
end

TEXT["local"] = function(n, ids)
  return fmt("LocalRelation [%s]", cols(n.out, ids))
end

function TEXT.cached(n, ids)
  return fmt("InMemoryRelation [%s], %s", cols(n.out, ids), n.ds.node.level_name or "NONE")
end

function TEXT.project(n, ids)
  local t = {}
  for i, e in ipairs(n.exprs) do t[i] = expr_str(e, ids) end
  return "Project [" .. concat(t, ", ") .. "]"
end

function TEXT.filter(n, ids)
  return "Filter " .. expr_str(n.cond, ids)
end

function TEXT.aggregate(n, ids)
  local ks, as = {}, {}
  for i, e in ipairs(n.keys) do ks[i] = expr_str(e, ids) end
  for i, a in ipairs(n.aggs) do
    as[i] = expr_str(a.expr, ids) .. (ids and (" AS " .. a.attr.name .. "#" .. a.attr.id) or "")
  end
  local all = {}
  for _, s in ipairs(ks) do all[#all + 1] = s end
  for _, s in ipairs(as) do all[#all + 1] = s end
  return "Aggregate [" .. concat(ks, ", ") .. "], [" .. concat(all, ", ") .. "]"
end

function TEXT.sort(n, ids)
  local t = {}
  for i, o in ipairs(n.orders) do
    t[i] = expr_str(o.expr, ids) .. (o.asc and " ASC" or " DESC") ..
           (o.nulls_first and " NULLS FIRST" or " NULLS LAST")
  end
  return "Sort [" .. concat(t, ", ") .. "], true"
end

function TEXT.join(n, ids)
  local t = {}
  for i = 1, #n.lkeys do
    t[i] = "(" .. expr_str(n.lkeys[i], ids) .. " = " .. expr_str(n.rkeys[i], ids) .. ")"
  end
  return "Join " .. M.JOIN_TYPE[n.how] .. ", " .. concat(t, " AND ")
end

function TEXT.limit(n)
  return (n.local_only and "LocalLimit " or "GlobalLimit ") .. n.n
end

function TEXT.union() return "Union" end
function TEXT.distinct() return "Distinct" end

function TEXT.generate(n, ids)
  return fmt("Generate explode(split(%s, %s)), [%s]",
             ids and (n.src.name .. "#" .. n.src.id) or n.src.name, n.pattern,
             ids and (n.attr.name .. "#" .. n.attr.id) or n.attr.name)
end

M.TEXT = TEXT

-- the node's line in explain (ids: with attribute ids, as the analyzed and
-- optimized plans print them)
function M.text(n, ids)
  local f = TEXT[n.kind]
  if f then return f(n, ids) end
  return n.kind
end

-- a plan as Spark's indented tree ( ":- " before a child that has a
-- sibling after it, "+- " before the last)
function M.tree(n, line_of, kids_of)
  local lines = {}
  local function walk(x, prefix, child_prefix)
    lines[#lines + 1] = prefix .. line_of(x)
    local cs = kids_of(x)
    for i, c in ipairs(cs) do
      if i < #cs then walk(c, child_prefix .. ":- ", child_prefix .. ":  ")
      else walk(c, child_prefix .. "+- ", child_prefix .. "   ") end
    end
  end
  walk(n, "", "")
  return concat(lines, "\n")
end

return M
