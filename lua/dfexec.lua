-- dfexec.lua -- DataFrame plans from logical to running: the optimizer,
-- physical planning, compilation into ember plan nodes of op_relational
-- operators, explain, and the actions.  X: dataframe.lua, P: dfplan.lua.
local core, ember, I, sql, X, P = ...

local SOURCE, NARROW, SHUFFLE, UNION = I.SOURCE, I.NARROW, I.SHUFFLE, I.UNION
local new_node, dataset, run = I.new_node, I.dataset, I.run
local DataFrame = X.DataFrame
local expr_str, refs, new_attr, cast_to = X.expr_str, X.refs, X.new_attr, X.cast_to
local df_of, check_df, at = P.df_of, P.check_df, P.at
local fmt, concat = string.format, table.concat
local mtype = math.type

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

---------------------------------------------------------------- optimizer

-- constant folding over expressions
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
      local d = X.parse_date(v)
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

local function and_all(list)
  local c = list[1]
  for i = 2, #list do c = {op = "and", type = "boolean", args = {c, list[i]}} end
  return c
end

local function map_exprs(node, f)
  local n = copy(node)
  if n.kind == "project" then
    n.exprs = {}
    for i, e in ipairs(node.exprs) do n.exprs[i] = f(e) end
  elseif n.kind == "filter" then
    n.cond = f(node.cond)
  elseif n.kind == "aggregate" then
    n.keys = {}
    for i, k in ipairs(node.keys) do n.keys[i] = f(k) end
    n.aggs = {}
    for i, a in ipairs(node.aggs) do
      n.aggs[i] = copy(a)
      if a.arg then n.aggs[i].arg = f(a.arg) end
    end
  elseif n.kind == "sort" then
    n.orders = {}
    for i, o in ipairs(node.orders) do
      n.orders[i] = copy(o)
      n.orders[i].expr = f(o.expr)
    end
  end
  return n
end

local function children(n)
  if n.children then return n.children end
  if n.left then return {n.left, n.right} end
  if n.child then return {n.child} end
  return {}
end
local function with_children(n, cs)
  local c = copy(n)
  if n.children then c.children = cs
  elseif n.left then c.left, c.right = cs[1], cs[2]
  elseif n.child then c.child = cs[1] end
  return c
end

local function transform_up(n, f)
  local cs = children(n)
  if #cs > 0 then
    local nc = {}
    for i, ch in ipairs(cs) do nc[i] = transform_up(ch, f) end
    n = with_children(n, nc)
  end
  return f(n)
end

-- push filters down as far as they go; returns the new subtree
local function push_filter(cond, child)
  local k = child.kind
  if k == "filter" then
    return push_filter({op = "and", type = "boolean", args = {child.cond, cond}}, child.child)
  elseif k == "project" then
    -- through a projection when every referenced output is a plain
    -- attribute or a deterministic expression (substituted)
    local map, ok = {}, true
    for _, e in ipairs(child.exprs) do
      if e.op == "attr" then
      elseif e.out then map[e.out.id] = e.op == "alias" and e.args[1] or e end
    end
    for id in pairs(refs(cond)) do
      local found = false
      for _, a in ipairs(child.child.out) do if a.id == id then found = true end end
      if not found and not map[id] then ok = false end
      if map[id] and X.has_agg(map[id]) then ok = false end
    end
    if ok then
      local c = copy(child)
      c.child = push_filter(subst(cond, map), child.child)
      return c
    end
  elseif k == "sort" then
    local c = copy(child)
    c.child = push_filter(cond, child.child)
    return c
  elseif k == "join" then
    local l, r, stay = {}, {}, {}
    for _, c in ipairs(P.conjuncts(cond)) do
      local rs = refs(c)
      local how = child.how
      if P.subset(rs, child.left.out) and (how == "inner" or how == "left" or how == "semi" or how == "anti") then
        l[#l + 1] = c
      elseif P.subset(rs, child.right.out) and (how == "inner" or how == "right") then
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
  elseif k == "aggregate" then
    -- conjuncts on grouping columns only go below the aggregate
    local keyids = {}
    for i, kk in ipairs(child.keys) do
      if kk.op == "attr" then keyids[child.kout[i].id] = kk end
    end
    local below, stay = {}, {}
    for _, c in ipairs(P.conjuncts(cond)) do
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
  elseif k == "union" then
    local cs = {}
    for i, ch in ipairs(child.children) do
      local map = {}
      for j, a in ipairs(child.out) do
        map[a.id] = cast_to({op = "attr", attr = ch.out[j], type = ch.out[j].type}, a.type)
      end
      cs[i] = push_filter(subst(cond, map), ch)
    end
    local u = copy(child)
    u.children = cs
    return u
  end
  return {kind = "filter", cond = cond, out = child.out, child = child}
end

-- projection pruning: keep what `need` (attribute ids) asks for
local function prune(n, need)
  local k = n.kind
  local function needs_of(list, set)
    set = set or {}
    for _, e in ipairs(list) do refs(e, set) end
    return set
  end
  if k == "project" then
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
  elseif k == "filter" or k == "sort" or k == "limit" then
    local cneed = copy(need)
    if k == "filter" then refs(n.cond, cneed) end
    if k == "sort" then for _, o in ipairs(n.orders) do refs(o.expr, cneed) end end
    local c = copy(n)
    c.child = prune(n.child, cneed)
    c.out = c.child.out
    return c
  elseif k == "aggregate" then
    local cneed = needs_of(n.keys)
    local aggs = {}
    for _, a in ipairs(n.aggs) do
      if a.arg then refs(a.arg, cneed) end
      aggs[#aggs + 1] = a
    end
    local c = copy(n)
    c.child = prune(n.child, cneed)
    return c
  elseif k == "join" then
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
  elseif k == "generate" then
    local cneed = copy(need)
    cneed[n.src.id] = true
    local c = copy(n)
    c.child = prune(n.child, cneed)
    c.keep = {}
    for _, a in ipairs(n.keep) do if need[a.id] then c.keep[#c.keep + 1] = a end end
    c.out = {table.unpack(c.keep)}
    c.out[#c.out + 1] = n.attr
    return c
  elseif k == "scan" then
    local out = {}
    for _, a in ipairs(n.all) do if need[a.id] then out[#out + 1] = a end end
    if #out == 0 then out = {n.all[1]} end
    local c = copy(n)
    c.out = out
    return c
  elseif k == "union" or k == "distinct" or k == "local" then
    -- positional: everything below is needed
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
  return n
end

local function optimize(plan)
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
      s.pushed = P.conjuncts(n.cond)
      local f = copy(n)
      f.child = s
      return f
    end
    return n
  end)
  return p
end

------------------------------------------------------------ explain text

local function attrs_str(out)
  local t = {}
  for i, a in ipairs(out) do t[i] = a.name .. "#" .. a.id end
  return concat(t, ",")
end

local function logical_line(n, ids)
  local k = n.kind
  local E = function(e) return expr_str(e, ids) end
  if k == "scan" then
    return fmt("Relation [%s] %s", ids and attrs_str(n.out) or concat(X.names_of(n.out), ","), n.fmt)
  elseif k == "local" then
    return fmt("LocalRelation [%s]", ids and attrs_str(n.out) or concat(X.names_of(n.out), ","))
  elseif k == "project" then
    local t = {}
    for i, e in ipairs(n.exprs) do t[i] = E(e) end
    return "Project [" .. concat(t, ", ") .. "]"
  elseif k == "filter" then
    return "Filter " .. E(n.cond)
  elseif k == "aggregate" then
    local ks, as = {}, {}
    for i, e in ipairs(n.keys) do ks[i] = E(e) end
    for i, a in ipairs(n.aggs) do as[i] = E(a.expr) .. (ids and (" AS " .. a.attr.name .. "#" .. a.attr.id) or "") end
    local all = {}
    for _, s in ipairs(ks) do all[#all + 1] = s end
    for _, s in ipairs(as) do all[#all + 1] = s end
    return "Aggregate [" .. concat(ks, ", ") .. "], [" .. concat(all, ", ") .. "]"
  elseif k == "sort" then
    local t = {}
    for i, o in ipairs(n.orders) do
      t[i] = E(o.expr) .. (o.asc and " ASC" or " DESC") .. (o.nulls_first and " NULLS FIRST" or " NULLS LAST")
    end
    return "Sort [" .. concat(t, ", ") .. "], true"
  elseif k == "join" then
    local t = {}
    for i = 1, #n.lkeys do t[i] = "(" .. E(n.lkeys[i]) .. " = " .. E(n.rkeys[i]) .. ")" end
    local how = ({inner = "Inner", left = "LeftOuter", right = "RightOuter",
                  full = "FullOuter", semi = "LeftSemi", anti = "LeftAnti"})[n.how]
    return "Join " .. how .. ", " .. concat(t, " AND ")
  elseif k == "limit" then
    return (n.local_only and "LocalLimit " or "GlobalLimit ") .. n.n
  elseif k == "union" then
    return "Union"
  elseif k == "distinct" then
    return "Distinct"
  elseif k == "cached" then
    return fmt("InMemoryRelation [%s], %s", ids and attrs_str(n.out) or concat(X.names_of(n.out), ","),
               n.ds.node.level_name or "NONE")
  elseif k == "generate" then
    return fmt("Generate explode(split(%s, %s)), [%s]", ids and (n.src.name .. "#" .. n.src.id) or n.src.name,
               n.pattern, ids and (n.attr.name .. "#" .. n.attr.id) or n.attr.name)
  end
  return k
end

local function tree(n, line_of, kids_of)
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

---------------------------------------------------------- physical plan
-- Physical nodes: {op = name, line = explain text, kids = {...}, and what
-- compile() needs}.

local function sx_str(s)
  return '"' .. s:gsub('[\\"]', "\\%0"):gsub("\n", "\\n"):gsub("\t", "\\t") .. '"'
end

local function sx_lit(t, v)
  if v == nil then return "(lit " .. t .. " null)" end
  if t == "string" then return "(lit string " .. sx_str(v) .. ")" end
  if t == "boolean" then return "(lit boolean " .. tostring(v) .. ")" end
  if t == "double" then
    if v ~= v then return "(lit double nan)" end
    if v == math.huge then return "(lit double inf)" end
    if v == -math.huge then return "(lit double -inf)" end
    return "(lit double " .. fmt("%.17g", v) .. ")"
  end
  return "(lit " .. t .. " " .. fmt("%d", v) .. ")"
end

-- expression -> S-expression over the positions of `input` (attributes)
local function sx(e, pos)
  local op = e.op
  if op == "attr" then
    local i = pos[e.attr.id]
    if not i then error("internal: attribute " .. e.attr.name .. "#" .. e.attr.id .. " not in the input", 0) end
    return "(col " .. (i - 1) .. ")"
  elseif op == "lit" then
    return sx_lit(e.type == "null" and "string" or e.type, e.value)
  elseif op == "alias" then
    return sx(e.args[1], pos)
  end
  local t = {"(", op, " ", e.type}
  for _, a in ipairs(e.args) do t[#t + 1] = " " .. sx(a, pos) end
  t[#t + 1] = ")"
  return concat(t)
end

local function positions(out)
  local pos = {}
  for i, a in ipairs(out) do pos[a.id] = i end
  return pos
end

local function plain_cols(exprs, input)
  -- true when every expression is an attribute of input
  local pos = positions(input)
  for _, e in ipairs(exprs) do
    if e.op ~= "attr" or not pos[e.attr.id] then return false end
  end
  return true
end

local estimate

-- estimated output size in bytes, for choosing broadcast joins
function estimate(n)
  local k = n.kind
  if k == "scan" then
    local frac = #n.out / math.max(1, #n.all)
    return n.size * frac
  elseif k == "local" then
    return n.nrows * 8 * #n.out
  elseif k == "filter" then return estimate(n.child)
  elseif k == "project" or k == "sort" or k == "generate" or k == "distinct" then
    return estimate(n.child)
  elseif k == "limit" then return math.min(estimate(n.child), n.n * 8 * #n.out)
  elseif k == "aggregate" then return estimate(n.child)
  elseif k == "join" then return estimate(n.left) + estimate(n.right)
  elseif k == "union" then
    local s = 0
    for _, c in ipairs(n.children) do s = s + estimate(c) end
    return s
  end
  return math.huge
end

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

local plan_physical

-- project list of attributes + extra expressions (for pre-projections)
local function pre_project(child, exprs)
  local out = {}
  for i, e in ipairs(exprs) do out[i] = e.op == "attr" and e.attr or e.out end
  local t = {}
  for i, e in ipairs(exprs) do t[i] = expr_str(e, true) end
  return {op = "project", exprs = exprs, out = out, kids = {child},
          line = "Project [" .. concat(t, ", ") .. "]"}
end

local function exchange(child, mode, keys, n, orders)
  local line
  if mode == "hash" then line = fmt("Exchange hashpartitioning(%s, %d)", keys_str(keys), n)
  elseif mode == "range" then line = fmt("Exchange rangepartitioning(%s, %d)", orders_str(orders), n)
  else line = "Exchange SinglePartition" end
  return {op = "exchange", mode = mode, keys = keys, n = n, orders = orders,
          out = child.out, kids = {child}, line = line}
end

function plan_physical(n, sc, parent_limit)
  local k = n.kind
  local nparts = P.conf_number(sc, "sql.shuffle.partitions", 8)
  if k == "scan" then
    local pf = {}
    for i, c in ipairs(n.pushed or {}) do pf[i] = expr_str(c, true) end
    local rs = {}
    for i, a in ipairs(n.out) do rs[i] = a.name .. ":" .. X.SIMPLE_TYPE[a.type] end
    return {op = "scan", scan = n, out = n.out, kids = {},
            line = fmt("FileScan %s [%s] Batched: true, Format: %s, Location: %s, PushedFilters: [%s], ReadSchema: struct<%s>",
                       n.fmt, attrs_str(n.out), n.fmt:upper(), n.path, concat(pf, ", "), concat(rs, ","))}
  elseif k == "local" then
    return {op = "local", src = n, out = n.out, kids = {},
            line = "LocalTableScan [" .. attrs_str(n.out) .. "]"}
  elseif k == "cached" then
    return {op = "cached", src = n, out = n.out, kids = {},
            line = fmt("InMemoryTableScan [%s], %s", attrs_str(n.out), n.ds.node.level_name or "NONE")}
  elseif k == "filter" then
    local c = plan_physical(n.child, sc)
    return {op = "filter", cond = n.cond, out = c.out, kids = {c},
            line = "Filter " .. expr_str(n.cond, true)}
  elseif k == "project" then
    local c = plan_physical(n.child, sc)
    local t = {}
    for i, e in ipairs(n.exprs) do t[i] = expr_str(e, true) end
    for i, e in ipairs(n.exprs) do
      if e.op ~= "attr" then e.out = e.out or n.out[i] end
    end
    return {op = "project", exprs = n.exprs, out = n.out, kids = {c},
            line = "Project [" .. concat(t, ", ") .. "]"}
  elseif k == "generate" then
    local c = plan_physical(n.child, sc)
    return {op = "generate", gen = n, out = n.out, kids = {c},
            line = fmt("Generate explode(split(%s#%d, %s)), [%s], false, [%s#%d]",
                       n.src.name, n.src.id, n.pattern, attrs_str(n.keep),
                       n.attr.name, n.attr.id)}
  elseif k == "limit" then
    local c = plan_physical(n.child, sc, n.n)
    if n.child.kind == "sort" then return c end -- TakeOrderedAndProject
    local local_ = {op = "limit", n = n.n, out = c.out, kids = {c}, line = "LocalLimit " .. n.n}
    if n.local_only then return local_ end -- per partition: a union's side
    local ex = exchange(local_, "single", nil, 1)
    return {op = "limit", n = n.n, out = c.out, kids = {ex}, line = "GlobalLimit " .. n.n}
  elseif k == "sort" then
    local c = plan_physical(n.child, sc)
    -- sort keys must be columns: compute expressions first
    local need_pre = false
    for _, o in ipairs(n.orders) do if o.expr.op ~= "attr" then need_pre = true end end
    local orders = n.orders
    if need_pre then
      local exprs = {}
      for _, a in ipairs(c.out) do exprs[#exprs + 1] = {op = "attr", attr = a, type = a.type} end
      orders = {}
      for i, o in ipairs(n.orders) do
        if o.expr.op == "attr" then orders[i] = o else
          local a = new_attr("__sortkey" .. i, o.expr.type)
          exprs[#exprs + 1] = {op = "alias", name = a.name, type = a.type, args = {o.expr}, out = a, id = a.id}
          orders[i] = {expr = {op = "attr", attr = a, type = a.type}, asc = o.asc, nulls_first = o.nulls_first}
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
      local ex = exchange(c, "range", nil, nparts, orders)
      s = {op = "sort", orders = orders, limit = -1, out = c.out, kids = {ex},
           line = "Sort [" .. orders_str(orders) .. "], true"}
    end
    if need_pre then
      local exprs = {}
      for _, a in ipairs(n.out) do exprs[#exprs + 1] = {op = "attr", attr = a, type = a.type} end
      return pre_project(s, exprs)
    end
    return s
  elseif k == "aggregate" or k == "distinct" then
    local c = plan_physical(n.child, sc)
    local keys, aggs, kout = n.keys, n.aggs, n.kout
    if k == "distinct" then
      keys, aggs, kout = {}, {}, {}
      for i, a in ipairs(n.out) do keys[i] = {op = "attr", attr = a, type = a.type}; kout[i] = a end
    end
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
      exprs[#exprs + 1] = {op = "alias", name = name, type = e.type, args = {e}, out = a, id = a.id}
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
    for i, a in ipairs(kattrs) do ks[i] = {op = "attr", attr = a, type = a.type} end
    local fnames = {}
    for i, a in ipairs(aggs) do fnames[i] = expr_str(a.expr, true) end
    local outattrs = {}
    for i = 1, #kattrs do outattrs[i] = kout[i] end
    for _, a in ipairs(aggs) do outattrs[#outattrs + 1] = a.attr end
    -- what a partial aggregate outputs: the keys, then each aggregate's
    -- state columns (avg: a sum and a count); the exchange above it finds
    -- the keys there
    local partial_out = {}
    for i = 1, #kattrs do partial_out[i] = kattrs[i] end
    for i, a in ipairs(aggs) do
      if a.fn == "avg" then
        partial_out[#partial_out + 1] = new_attr("__sum" .. i, "double")
        partial_out[#partial_out + 1] = new_attr("__count" .. i, "bigint")
      elseif a.fn == "count" or a.fn == "count_star" then
        partial_out[#partial_out + 1] = new_attr("__count" .. i, "bigint")
      elseif a.fn == "sum" then
        partial_out[#partial_out + 1] = new_attr("__sum" .. i, a.type)
      else
        partial_out[#partial_out + 1] = new_attr("__state" .. i, aattrs[i] and aattrs[i].type or a.type)
      end
    end
    local function agg_node(mode, child)
      return {op = "hash_agg", mode = mode, keys = kattrs, aggs = aggs,
              aattrs = aattrs, out = mode == "partial" and partial_out or outattrs,
              kids = {child}, kout = kout,
              line = fmt("HashAggregate(keys=[%s], functions=[%s%s])", keys_str(ks),
                         mode == "partial" and "partial_" or "",
                         concat(fnames, mode == "partial" and ", partial_" or ", "))}
    end
    local parts = #kattrs == 0 and 1 or nparts
    local mode = #kattrs == 0 and "single" or "hash"
    if distinct then
      return agg_node("complete", exchange(c, mode, ks, parts))
    end
    local partial = agg_node("partial", c)
    return agg_node("final", exchange(partial, mode, ks, parts))
  elseif k == "join" then
    local l = plan_physical(n.left, sc)
    local r = plan_physical(n.right, sc)
    -- keys as columns of the same type on both sides
    local function keycols(side, keys, other)
      local exprs, attrs, changed = {}, {}, false
      for _, a in ipairs(side.out) do exprs[#exprs + 1] = {op = "attr", attr = a, type = a.type} end
      for i, e in ipairs(keys) do
        local t = X.widen(e.type, other[i].type) or e.type
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
    local lch, rch
    l, n.lk_attrs, lch = keycols(l, n.lkeys, n.rkeys)
    r, n.rk_attrs, rch = keycols(r, n.rkeys, n.lkeys)
    local lks, rks = {}, {}
    for i, a in ipairs(n.lk_attrs) do lks[i] = {op = "attr", attr = a, type = a.type} end
    for i, a in ipairs(n.rk_attrs) do rks[i] = {op = "attr", attr = a, type = a.type} end
    local how = ({inner = "Inner", left = "LeftOuter", right = "RightOuter",
                  full = "FullOuter", semi = "LeftSemi", anti = "LeftAnti"})[n.how]
    local out = {}
    for _, a in ipairs(l.out) do out[#out + 1] = a end
    if n.how ~= "semi" and n.how ~= "anti" then
      for _, a in ipairs(r.out) do out[#out + 1] = a end
    end
    local threshold = P.conf_number(sc, "sql.autoBroadcastJoinThreshold", 10 * 1024 * 1024)
    local j
    if threshold >= 0 and estimate(n.right) <= threshold and
       (n.how == "inner" or n.how == "left" or n.how == "semi" or n.how == "anti") then
      local bx = exchange(r, "single", nil, 1)
      bx.line = "BroadcastExchange HashedRelationBroadcastMode(" .. keys_str(rks) .. ")"
      j = {op = "join", how = n.how, broadcast = true, lk = n.lk_attrs, rk = n.rk_attrs,
           out = out, kids = {l, bx},
           line = fmt("BroadcastHashJoin [%s], [%s], %s, BuildRight", keys_str(lks), keys_str(rks), how)}
    else
      j = {op = "join", how = n.how, lk = n.lk_attrs, rk = n.rk_attrs, out = out,
           kids = {exchange(l, "hash", lks, nparts), exchange(r, "hash", rks, nparts)},
           line = fmt("ShuffledHashJoin [%s], [%s], %s, BuildRight", keys_str(lks), keys_str(rks), how)}
    end
    if lch or rch then
      local exprs = {}
      for _, a in ipairs(n.out) do exprs[#exprs + 1] = {op = "attr", attr = a, type = a.type} end
      return pre_project(j, exprs)
    end
    return j
  elseif k == "union" then
    local kids = {}
    for i, ch in ipairs(n.children) do
      local c = plan_physical(ch, sc)
      local exprs, changed = {}, false
      for j, a in ipairs(c.out) do
        local e = cast_to({op = "attr", attr = a, type = a.type}, n.out[j].type)
        if e.op ~= "attr" then
          local na = new_attr(n.out[j].name, n.out[j].type)
          e = {op = "alias", name = na.name, type = na.type, args = {e}, out = na, id = na.id}
          changed = true
        end
        exprs[j] = e
      end
      kids[i] = changed and pre_project(c, exprs) or c
    end
    return {op = "union", out = n.out, kids = kids, line = "Union"}
  end
  error("internal: cannot plan " .. tostring(k), 0)
end

-------------------------------------------------------------- compiling
-- compile(p) -> {node = plan node or nil, ops = {pending operators},
-- nparts = n, out = attributes}

local function mk_node(kind, nparts, parents, payload)
  return new_node(kind, nparts, parents, payload, 1)
end

local function materialize(r)
  if #r.ops == 0 then return r.node end
  return mk_node(NARROW, r.nparts, {r.node}, {op = "df_ops", ops = r.ops})
end

local function typelist(out)
  local t = {}
  for i, a in ipairs(out) do t[i] = "(" .. sx_str(a.name) .. " " .. a.type .. ")" end
  return "(" .. concat(t, " ") .. ")"
end

local function idxlist(attrs, input)
  local pos = positions(input)
  local t = {}
  for i, a in ipairs(attrs) do
    t[i] = pos[a.id] and (pos[a.id] - 1) or error("internal: key " .. a.name .. " missing", 0)
  end
  return "(" .. concat(t, " ") .. ")"
end

local compile

local function sample_bounds(sc, r, p, input)
  -- a job sampling the sort keys of the input, for range partitioning
  local pos = positions(input)
  local exprs = {}
  for i, o in ipairs(p.orders) do
    exprs[i] = fmt("(as %s %s)", sx_str("k" .. i), sx(o.expr, pos))
  end
  local ops = {table.unpack(r.ops)}
  ops[#ops + 1] = {name = "rel.project", params = {exprs = "(" .. concat(exprs, " ") .. ")"}}
  local node = mk_node(NARROW, r.nparts, {r.node}, {op = "df_ops", ops = ops})
  local per = math.max(20, math.ceil(60 * p.n / math.max(1, r.nparts)))
  local res = run(dataset(sc, node), {op = "df_sample", k = per}, nil, "sort sample", 3)
  local rows = {}
  for _, part in ipairs(res) do
    for _, b in ipairs(part) do b:cells(rows, true) end
  end
  local null = ember.null
  local function less(a, b)
    for i, o in ipairs(p.orders) do
      local x, y = a[i], b[i]
      if x ~= y then
        if x == null then return o.nulls_first end
        if y == null then return not o.nulls_first end
        local lt
        if type(x) == "boolean" then lt = (not x) and y
        elseif x ~= x then lt = false
        elseif y ~= y then lt = true
        else lt = x < y end
        if o.asc then return lt else return not lt end
      end
    end
    return false
  end
  table.sort(rows, less)
  local bounds = {}
  if #rows == 0 then return nil end
  for i = 1, p.n - 1 do
    local row = rows[math.max(1, math.min(#rows, (i * #rows) // p.n))]
    local t = {}
    for j, o in ipairs(p.orders) do
      local v = row[j]
      t[j] = sx_lit(o.expr.type, v ~= null and v or nil)
    end
    bounds[#bounds + 1] = "(" .. concat(t, " ") .. ")"
  end
  return "(" .. concat(bounds, " ") .. ")"
end

function compile(p, sc)
  local op = p.op
  if op == "scan" then
    local s = p.scan
    local pos = positions(s.all)
    local cols = {}
    for i, a in ipairs(s.out) do cols[i] = pos[a.id] - 1 end
    local params = {}
    for k, v in pairs(s.params) do params[k] = v end
    if s.fmt ~= "text" then params.columns = "(" .. concat(cols, " ") .. ")" end
    if s.fmt == "ember" and s.pushed then
      local preds = {}
      for _, c in ipairs(s.pushed) do
        local a, b = c.args and c.args[1], c.args and c.args[2]
        local cmp = ({eq = 1, ne = 1, lt = 1, le = 1, gt = 1, ge = 1})[c.op]
        if cmp and a and b and a.op == "attr" and b.op == "lit" and pos[a.attr.id] then
          preds[#preds + 1] = fmt("(%s %d %s)", c.op, pos[a.attr.id] - 1, sx_lit(b.type, b.value))
        elseif cmp and a and b and b.op == "attr" and a.op == "lit" and pos[b.attr.id] then
          local flip = ({lt = "gt", le = "ge", gt = "lt", ge = "le", eq = "eq", ne = "ne"})[c.op]
          preds[#preds + 1] = fmt("(%s %d %s)", flip, pos[b.attr.id] - 1, sx_lit(a.type, a.value))
        end
      end
      params.filter = "(" .. concat(preds, " ") .. ")"
    end
    local payload = {src = "df_scan", op = s.op, params = params, splits = s.splits}
    if s.malformed then
      payload.counter = "malformed_rows"
      payload.counter_acc = s.malformed.id
    end
    local node = mk_node(SOURCE, #s.splits, {}, payload)
    node.prefs = {}
    for i = 1, #s.splits do node.prefs[i] = "localhost" end
    return {node = node, ops = {}, nparts = #s.splits, out = s.out}
  elseif op == "local" then
    local node = mk_node(SOURCE, #p.src.slices, {}, {src = "df_local", slices = p.src.slices})
    return {node = node, ops = {}, nparts = #p.src.slices, out = p.out}
  elseif op == "cached" then
    local node = p.src.ds.node
    return {node = node, ops = {}, nparts = node.nparts, out = p.out}
  end
  local kids = {}
  for i, k in ipairs(p.kids) do kids[i] = compile(k, sc) end
  local c = kids[1]
  local function add(name, params)
    local ops = {table.unpack(c.ops)}
    ops[#ops + 1] = {name = name, params = params}
    return {node = c.node, ops = ops, nparts = c.nparts, out = p.out}
  end
  if op == "filter" then
    return add("rel.filter", {cond = sx(p.cond, positions(c.out))})
  elseif op == "project" then
    local pos = positions(c.out)
    local t = {}
    for i, e in ipairs(p.exprs) do
      t[i] = fmt("(as %s %s)", sx_str(p.out[i].name), sx(e, pos))
    end
    return add("rel.project", {exprs = "(" .. concat(t, " ") .. ")"})
  elseif op == "generate" then
    local pos = positions(c.out)
    local keep = {}
    for i, a in ipairs(p.gen.keep) do keep[i] = pos[a.id] - 1 end
    return add("rel.explode", {expr = fmt("(split (col %d) %s)", pos[p.gen.src.id] - 1, sx_str(p.gen.pattern)),
                               keep = "(" .. concat(keep, " ") .. ")", name = p.gen.attr.name})
  elseif op == "limit" then
    return add("rel.limit", {n = p.n})
  elseif op == "sort" then
    local pos = positions(c.out)
    local t = {}
    for i, o in ipairs(p.orders) do
      t[i] = fmt("(%d %s %s)", pos[o.expr.attr.id] - 1, o.asc and "asc" or "desc",
                 o.nulls_first and "nulls_first" or "nulls_last")
    end
    return add("rel.sort", {keys = "(" .. concat(t, " ") .. ")", limit = p.limit or -1})
  elseif op == "hash_agg" then
    local pos = positions(c.out)
    local aggs = {}
    local statepos = #p.keys
    for i, a in ipairs(p.aggs) do
      local arg
      if p.mode == "final" then
        arg = statepos
        statepos = statepos + (a.fn == "avg" and 2 or 1)
      else
        arg = a.arg and (pos[p.aattrs[i].id] - 1) or nil
      end
      aggs[i] = fmt("(as %s (%s%s))", sx_str(a.attr.name), a.fn, arg and (" " .. arg) or "")
    end
    local keys
    if p.mode == "final" then
      local t = {}
      for i = 1, #p.keys do t[i] = i - 1 end
      keys = "(" .. concat(t, " ") .. ")"
    else
      keys = idxlist(p.keys, c.out)
    end
    -- the input's types, for a global aggregate that receives no batch
    local intypes = {}
    for i, a in ipairs(c.out) do intypes[i] = a.type end
    if p.mode == "final" then
      intypes = {}
      for i, a in ipairs(p.keys) do intypes[i] = a.type end
      for i, a in ipairs(p.aggs) do
        if a.fn == "avg" then
          intypes[#intypes + 1] = "double"; intypes[#intypes + 1] = "bigint"
        elseif a.fn == "count" or a.fn == "count_star" then
          intypes[#intypes + 1] = "bigint"
        elseif a.fn == "sum" then
          intypes[#intypes + 1] = a.type
        else
          intypes[#intypes + 1] = p.aattrs[i].type
        end
      end
    end
    for i, t in ipairs(intypes) do if t == "null" then intypes[i] = "string" end end
    local r = add("rel.hash_agg", {keys = keys, aggs = "(" .. concat(aggs, " ") .. ")",
                                   mode = p.mode,
                                   input_types = "(" .. concat(intypes, " ") .. ")"})
    if p.mode ~= "partial" then
      -- name the key columns like the aggregate's output
      r.out = p.out
    end
    return r
  elseif op == "exchange" then
    local params = {mode = p.mode, n = p.n}
    if p.mode == "hash" then
      local attrs = {}
      for i, e in ipairs(p.keys) do attrs[i] = e.attr end
      params.keys = idxlist(attrs, c.out)
    elseif p.mode == "range" then
      local attrs, ords = {}, {}
      for i, o in ipairs(p.orders) do
        attrs[i] = o.expr.attr
        ords[i] = "(" .. (o.asc and "asc" or "desc") .. " " .. (o.nulls_first and "nulls_first" or "nulls_last") .. ")"
      end
      params.keys = idxlist(attrs, c.out)
      params.orders = "(" .. concat(ords, " ") .. ")"
      local b = p.n > 1 and sample_bounds(sc, c, p, c.out)
      if b then params.bounds = b else params.mode = "single"; params.n = 1; params.orders = nil end
    end
    local n = params.n
    local ops = {table.unpack(c.ops)}
    ops[#ops + 1] = {name = "rel.partition", params = params}
    local node = mk_node(SHUFFLE, n, {c.node}, {op = "df_shuffle", map_ops = ops})
    return {node = node, ops = {}, nparts = n, out = c.out}
  elseif op == "join" then
    local l, r = kids[1], kids[2]
    local ln = materialize(l)
    local rn = materialize(r)
    local params = {how = p.how, left_keys = idxlist(p.lk, l.out),
                    right_keys = idxlist(p.rk, r.out), right_types = typelist(r.out),
                    left_types = typelist(l.out)}
    local node = mk_node(NARROW, l.nparts, {ln, rn},
                         {op = "df_join", name = "rel.hash_join", params = params,
                          broadcast = p.broadcast or nil})
    return {node = node, ops = {}, nparts = l.nparts, out = p.out}
  elseif op == "union" then
    local nodes, parts, total = {}, {}, 0
    for i, k in ipairs(kids) do
      nodes[i] = materialize(k)
      parts[i] = k.nparts
      total = total + k.nparts
    end
    local node = nodes[1]
    local np = parts[1]
    for i = 2, #nodes do
      node = mk_node(UNION, np + parts[i], {node, nodes[i]},
                     {op = "union", parts = {np, parts[i]}})
      np = np + parts[i]
    end
    return {node = node, ops = {}, nparts = total, out = p.out}
  end
  error("internal: cannot compile " .. tostring(op), 0)
end

--------------------------------------------------------------- actions

local function physical_of(df)
  local opt = optimize(df.plan)
  return plan_physical(opt, df.sc), opt
end

-- the plan as a Dataset whose elements are batches, with its output
local function prepared(df, level)
  return at(level + 1, function()
    local ph = physical_of(df)
    local r = compile(ph, df.sc)
    local node = materialize(r)
    -- the final projection gives the user's column names
    return dataset(df.sc, node), r.out
  end)
end

-- after a job: malformed-record counters of the scans
local function report_malformed(df)
  local seen = {}
  local function walk(n)
    if n.kind == "scan" and n.malformed and not seen[n] then
      seen[n] = true
      local v = n.malformed.value
      if v and v > 0 and v ~= n.reported then
        io.stderr:write(fmt("WARN: %d malformed record%s in %s (%s mode)\n", v - (n.reported or 0),
                            v - (n.reported or 0) == 1 and "" or "s", n.path,
                            n.params.mode or "PERMISSIVE"))
        n.reported = v
      end
    end
    for _, c in ipairs(children(n)) do walk(c) end
  end
  walk(df.plan)
end

function DataFrame:malformed_count()
  check_df(self)
  local total = 0
  local function walk(n)
    if n.kind == "scan" and n.malformed then total = total + (n.malformed.value or 0) end
    for _, c in ipairs(children(n)) do walk(c) end
  end
  walk(self.plan)
  return total
end

-- rows keyed by the DataFrame's column names (batches carry the names
-- their operators gave them, which need not be the user's: a union's right
-- side, for one), or arrays by position
local function rows_from(res, names, as_cells)
  local out = {}
  for _, part in ipairs(res) do
    for _, b in ipairs(part) do b:cells(out) end
  end
  if as_cells then return out end
  for i, row in ipairs(out) do
    local r = {}
    for j, n in ipairs(names) do r[n] = row[j] end
    out[i] = r
  end
  return out
end

function DataFrame:collect()
  check_df(self)
  local ds = prepared(self, 2)
  local res = run(ds, {op = "df_collect"}, nil, "collect", 2)
  report_malformed(self)
  return rows_from(res, X.names_of(self.plan.out))
end

function DataFrame:count()
  check_df(self)
  local ds = prepared(self, 2)
  local total = 0
  for _, c in ipairs(run(ds, {op = "df_count"}, nil, "count", 2)) do total = total + c end
  report_malformed(self)
  return total
end

-- the first n rows, as cells (arrays) or row tables
local function take_rows(df, n, cells, level)
  local ds = prepared(df:limit(n), level + 1)
  local out = {}
  local res = run(ds, {op = "df_collect"}, nil, "take", level + 1)
  report_malformed(df)
  out = rows_from(res, X.names_of(df.plan.out), cells)
  while #out > n do out[#out] = nil end
  return out
end

function DataFrame:take(n)
  check_df(self)
  if mtype(n) ~= "integer" or n < 0 then error("take expects a non-negative integer", 2) end
  return take_rows(self, n, false, 2)
end
DataFrame.head = DataFrame.take

function DataFrame:first()
  check_df(self)
  local r = take_rows(self, 1, false, 2)
  return r[1]
end

function DataFrame:columns()
  check_df(self)
  return X.names_of(self.plan.out)
end

function DataFrame:dtypes()
  check_df(self)
  local t = {}
  for i, a in ipairs(self.plan.out) do t[i] = {a.name, X.SIMPLE_TYPE[a.type]} end
  return t
end

function DataFrame:schema_string()
  check_df(self)
  local t = {}
  for i, a in ipairs(self.plan.out) do t[i] = a.name .. ": " .. X.SIMPLE_TYPE[a.type] end
  return concat(t, ", ")
end

DataFrame.__tostring = function(df)
  return "DataFrame[" .. df:schema_string() .. "]"
end

function DataFrame:print_schema()
  check_df(self)
  local t = {"root"}
  for _, a in ipairs(self.plan.out) do
    t[#t + 1] = " |-- " .. a.name .. ": " .. X.SPARK_TYPE[a.type] .. " (nullable = true)"
  end
  io.write(concat(t, "\n"), "\n")
end
DataFrame.printSchema = DataFrame.print_schema

-- show(): Spark's df.show() text
local function cell_text(v, t)
  if v == ember.null or v == nil then return "null" end
  if t == "double" then return X.java_double(v) end
  return tostring(v)
end

local function utf8len(s)
  local ok, n = pcall(utf8.len, s)
  return (ok and n) or #s
end

local function utf8sub(s, n)
  local ok, off = pcall(utf8.offset, s, n + 1)
  if ok and off then return s:sub(1, off - 1) end
  return s:sub(1, n)
end

function DataFrame:show_string(n, truncate, vertical)
  check_df(self)
  n = n or 20
  if truncate == nil or truncate == true then truncate = 20 end
  if truncate == false then truncate = 0 end
  local rows = take_rows(self, n + 1, true, 3)
  local more = #rows > n
  if more then rows[#rows] = nil end
  local names = X.names_of(self.plan.out)
  local types = {}
  for i, a in ipairs(self.plan.out) do types[i] = a.type end
  local cells = {}
  for r, row in ipairs(rows) do
    cells[r] = {}
    for c = 1, #names do
      local s = cell_text(row[c], types[c])
      if truncate > 0 and utf8len(s) > truncate then
        s = truncate < 4 and utf8sub(s, truncate) or (utf8sub(s, truncate - 3) .. "...")
      end
      cells[r][c] = s
    end
  end
  local out = {}
  if vertical then
    -- Spark: " name | value " lines, widths at least 3, a "-RECORD i"
    -- header padded with '-' to both widths + 5
    local w, vw = 3, 3
    for _, nm in ipairs(names) do w = math.max(w, utf8len(nm)) end
    for _, row in ipairs(cells) do for _, s in ipairs(row) do vw = math.max(vw, utf8len(s)) end end
    for r, row in ipairs(cells) do
      local head = "-RECORD " .. (r - 1)
      out[#out + 1] = head .. string.rep("-", math.max(0, w + vw + 5 - utf8len(head)))
      for c, s in ipairs(row) do
        out[#out + 1] = " " .. names[c] .. string.rep(" ", w - utf8len(names[c])) .. " | " ..
                        s .. string.rep(" ", vw - utf8len(s)) .. " "
      end
    end
    if #cells == 0 then out[#out + 1] = "(0 rows)" end
  else
    local widths = {}
    for c, nm in ipairs(names) do
      local s = nm
      if truncate > 0 and utf8len(s) > truncate then
        s = truncate < 4 and utf8sub(s, truncate) or (utf8sub(s, truncate - 3) .. "...")
        names[c] = s
      end
      widths[c] = math.max(3, utf8len(s))
      for _, row in ipairs(cells) do widths[c] = math.max(widths[c], utf8len(row[c])) end
    end
    local sep = {"+"}
    for c = 1, #names do sep[#sep + 1] = string.rep("-", widths[c]) .. "+" end
    sep = concat(sep)
    local function line(vals)
      local t = {"|"}
      for c, s in ipairs(vals) do
        local pad = string.rep(" ", widths[c] - utf8len(s))
        t[#t + 1] = (truncate > 0 and pad .. s or s .. pad) .. "|"
      end
      return concat(t)
    end
    out[#out + 1] = sep
    out[#out + 1] = line(names)
    out[#out + 1] = sep
    for _, row in ipairs(cells) do out[#out + 1] = line(row) end
    out[#out + 1] = sep
  end
  local s = concat(out, "\n") .. "\n"
  if more then
    s = s .. "only showing top " .. n .. " row" .. (n == 1 and "" or "s") .. "\n"
  end
  return s
end

-- df:show(n, {truncate = , vertical = }) or df:show{n = , truncate = , vertical = }
function DataFrame:show(n, opts)
  check_df(self)
  if type(n) == "table" then opts, n = n, n.n end
  opts = opts or {}
  if type(opts) == "boolean" or type(opts) == "number" then opts = {truncate = opts} end
  local s = self:show_string(n or 20, opts.truncate, opts.vertical)
  io.write(s, "\n")
end

function DataFrame:explain_string(mode)
  check_df(self)
  if mode == true then mode = "extended" end
  mode = mode or "simple"
  if mode ~= "simple" and mode ~= "extended" then
    error("explain: mode must be simple or extended, got " .. tostring(mode), 2)
  end
  local ph, opt = at(2, physical_of, self)
  local kids_l = function(n) return children(n) end
  local parts = {}
  if mode == "extended" then
    parts[#parts + 1] = "== Parsed Logical Plan ==\n" ..
      tree(self.plan, function(n) return "'" .. logical_line(n, false) end, kids_l)
    local schema = {}
    for i, a in ipairs(self.plan.out) do schema[i] = a.name .. ": " .. X.SIMPLE_TYPE[a.type] end
    parts[#parts + 1] = "== Analyzed Logical Plan ==\n" .. concat(schema, ", ") .. "\n" ..
      tree(self.plan, function(n) return logical_line(n, true) end, kids_l)
    parts[#parts + 1] = "== Optimized Logical Plan ==\n" ..
      tree(opt, function(n) return logical_line(n, true) end, kids_l)
  end
  parts[#parts + 1] = "== Physical Plan ==\n" ..
    tree(ph, function(n) return n.line end, function(n) return n.kids end)
  return concat(parts, "\n\n") .. "\n"
end

function DataFrame:explain(mode)
  io.write(self:explain_string(mode), "\n")
end

-- df:persist(level) / df:cache(): the partitions of this DataFrame are kept
-- (as batches) by the first action that computes them, as with RDDs; later
-- DataFrames built on it read them.  Its plan is compiled here, once.
local LEVEL_NAMES = {MEMORY_ONLY = 1, MEMORY_AND_DISK = 1, MEMORY_ONLY_SER = 1,
                     MEMORY_AND_DISK_SER = 1, DISK_ONLY = 1}
function DataFrame:persist(level)
  check_df(self)
  level = level or "MEMORY_AND_DISK" -- Spark's default for DataFrames
  if not LEVEL_NAMES[level] then
    error("unknown storage level '" .. tostring(level) .. "'", 2)
  end
  if self.plan.kind == "cached" then
    at(2, self.plan.ds.persist, self.plan.ds, level)
    return self
  end
  local ds = prepared(self, 2)
  at(2, ds.persist, ds, level)
  self.plan = {kind = "cached", ds = ds, out = self.plan.out, orig = self.plan}
  return self
end
function DataFrame:cache() return self:persist() end
function DataFrame:unpersist()
  check_df(self)
  if self.plan.kind == "cached" then
    self.plan.ds:unpersist()
    self.plan = self.plan.orig
  end
  return self
end
function DataFrame:storage_level()
  check_df(self)
  return self.plan.kind == "cached" and self.plan.ds.node.level_name or "NONE"
end

-- df:rdd(): the rows as a Dataset of tables keyed by column name
function DataFrame:rdd()
  check_df(self)
  local ds = prepared(self, 2)
  local n = ds.node
  return dataset(self.sc, new_node(NARROW, n.nparts, {n}, {op = "df_rows"}, 2))
end

-- sc:sql-less temp views are out of scope; writing:
local DataFrameWriter = {}
DataFrameWriter.__index = DataFrameWriter
DataFrameWriter.__name = "ember.DataFrameWriter"

local df_index = DataFrame.__index
DataFrame.__index = function(t, k)
  if k == "write" then
    return setmetatable({df = t, _mode = "errorifexists", _opts = {}}, DataFrameWriter)
  end
  return df_index[k]
end

function DataFrameWriter:mode(m)
  local valid = {errorifexists = true, error = true, overwrite = true,
                 append = true, ignore = true}
  m = tostring(m):lower()
  if not valid[m] then
    error("write: mode must be errorifexists, overwrite, append or ignore, got " .. m, 2)
  end
  self._mode = m == "error" and "errorifexists" or m
  return self
end
function DataFrameWriter:option(k, v)
  self._opts[k] = v
  return self
end

local function exists(path)
  local f = io.open(path, "r")
  if f then f:close(); return true end
  return os.rename(path, path) and true or false
end

local function list_dir(dir)
  local p = io.popen("ls -1A '" .. dir:gsub("'", "'\\''") .. "' 2>/dev/null")
  local t = {}
  if p then
    for l in p:lines() do t[#t + 1] = l end
    p:close()
  end
  return t
end

local function save(self, sink, ext, path, opts, level)
  if type(path) ~= "string" then error("write: expects a directory path", level + 1) end
  local df = self.df
  local params = {}
  for k, v in pairs(self._opts) do params[k] = v end
  for k, v in pairs(opts or {}) do params[k] = v end
  local valid = {header = true, sep = true, quote = true, null_value = true,
                 row_group_rows = true}
  for k in pairs(params) do
    if not valid[k] then error("write: unknown option '" .. tostring(k) .. "'", level + 1) end
  end
  local mode = self._mode
  local target = path
  if exists(path) then
    if mode == "ignore" then return end
    if mode == "errorifexists" then
      error("write: path " .. path .. " already exists (use :mode('overwrite') or 'append')", level + 1)
    end
    if mode == "overwrite" then core.remove_dir(path) end
  end
  -- every job writes into a fresh staging directory, renamed (or, when
  -- appending, its files moved) into place once it succeeded
  local trimmed = path:gsub("/+$", "")
  local parent, base = trimmed:match("^(.*)/([^/]+)$")
  if not parent then parent, base = ".", trimmed end
  if parent == "" then parent = "/" end
  local staging = parent .. "/." .. base .. ".staging-" .. tostring(os.time()) ..
                  "-" .. tostring(math.random(1e9))
  at(level + 1, core.prepare_output_dir, staging)
  params.path = staging
  local ds = prepared(df, level + 1)
  local ok, e = pcall(run, ds, {op = "df_write", name = sink, params = params}, nil,
                      "write", level + 2)
  if not ok then
    core.remove_dir(staging)
    error(e, level + 1)
  end
  report_malformed(df)
  if mode == "append" and exists(path) then
    local stamp = tostring(os.time()) .. tostring(math.random(1e6))
    for _, f in ipairs(list_dir(staging)) do
      local nf = f:gsub("^part%-(%d+)", "part-%1-" .. stamp)
      os.rename(staging .. "/" .. f, path .. "/" .. nf)
    end
    core.remove_dir(staging)
  else
    if exists(path) then core.remove_dir(path) end
    local okr, er = os.rename(staging, target)
    if not okr then
      core.remove_dir(staging)
      error("write: cannot move the output into place: " .. tostring(er), level + 1)
    end
  end
  core.write_success(target)
end

function DataFrameWriter:csv(path, opts) return save(self, "rel.csv_write", "csv", path, opts, 2) end
function DataFrameWriter:json(path, opts) return save(self, "rel.json_write", "json", path, opts, 2) end
function DataFrameWriter:ember(path, opts) return save(self, "rel.col_write", "ecol", path, opts, 2) end
DataFrameWriter.columnar = DataFrameWriter.ember

return {optimize = optimize}
