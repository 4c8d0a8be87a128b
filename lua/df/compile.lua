-- df/compile.lua -- module `ember.df.compile`: a physical plan compiled
-- into ember plan nodes (the ones the RDD API makes) whose payloads name
-- op_relational operators with their S-expression parameters.
--
-- compile(p, sc) walks the physical plan bottom-up; COMPILE[op] gets the
-- node and its compiled children and returns {node = plan node, ops =
-- operators still pending above it, nparts, out = attributes}.  Row-wise
-- operators (filter, project, explode, partial aggregate, local limit or
-- sort) only append to `ops`, so a chain of them runs fused in one narrow
-- node (materialize); a scan or local rows is a source node, an exchange
-- a shuffle node (its map side runs the pending operators then
-- rel.partition), a join a narrow node with two parents, a union union
-- nodes.  A range exchange first runs a job sampling the sort keys to cut
-- its bounds.  Expressions become S-expressions over column positions
-- (sx); docs/dataframe-internals.md has the operators and their syntax.
local null = require("ember.null")
local KIND = require("ember.plan_kind")
local rdd = require("ember.rdd")
local expr = require("ember.df.expr")

local SOURCE, NARROW, SHUFFLE, UNION = KIND.SOURCE, KIND.NARROW, KIND.SHUFFLE, KIND.UNION
local new_node, dataset, run = rdd.new_node, rdd.dataset, rdd.run
local positions = expr.positions
local fmt, concat = string.format, table.concat

local M = {}

----------------------------------------------------------- S-expressions

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

------------------------------------------------------------- plan nodes

local function mk_node(kind, nparts, parents, payload)
  return new_node(kind, nparts, parents, payload, 1)
end

-- the plan node of a compiled result: its pending operators, if any, as
-- a narrow node
local function materialize(r)
  if #r.ops == 0 then return r.node end
  return mk_node(NARROW, r.nparts, {r.node}, {op = "df_ops", ops = r.ops})
end
M.materialize = materialize

-- r with one more pending operator; out: the attributes after it
local function add(r, out, name, params)
  local ops = {table.unpack(r.ops)}
  ops[#ops + 1] = {name = name, params = params}
  return {node = r.node, ops = ops, nparts = r.nparts, out = out}
end

-- a job sampling the sort keys of r (its columns: input), for range
-- partitioning: the bounds as rel.partition's `bounds`, or nil (no rows)
local function sample_bounds(sc, r, p, input)
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

-------------------------------------------------------------- compiling

-- COMPILE[op](p, kids, sc) -> {node, ops, nparts, out}; kids: the
-- compiled children
local COMPILE = {}

-- simple comparisons of a column with a literal, which a columnar scan
-- checks against each row group's min/max
local CMP = {eq = 1, ne = 1, lt = 1, le = 1, gt = 1, ge = 1}
local FLIP = {lt = "gt", le = "ge", gt = "lt", ge = "le", eq = "eq", ne = "ne"}

function COMPILE.scan(p)
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
      local cmp = CMP[c.op]
      if cmp and a and b and a.op == "attr" and b.op == "lit" and pos[a.attr.id] then
        preds[#preds + 1] = fmt("(%s %d %s)", c.op, pos[a.attr.id] - 1, sx_lit(b.type, b.value))
      elseif cmp and a and b and b.op == "attr" and a.op == "lit" and pos[b.attr.id] then
        preds[#preds + 1] = fmt("(%s %d %s)", FLIP[c.op], pos[b.attr.id] - 1, sx_lit(a.type, a.value))
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
end

COMPILE["local"] = function(p)
  local node = mk_node(SOURCE, #p.src.slices, {}, {src = "df_local", slices = p.src.slices})
  return {node = node, ops = {}, nparts = #p.src.slices, out = p.out}
end

function COMPILE.cached(p)
  local node = p.src.ds.node
  return {node = node, ops = {}, nparts = node.nparts, out = p.out}
end

function COMPILE.filter(p, kids)
  local c = kids[1]
  return add(c, p.out, "rel.filter", {cond = sx(p.cond, positions(c.out))})
end

function COMPILE.project(p, kids)
  local c = kids[1]
  local pos = positions(c.out)
  local t = {}
  for i, e in ipairs(p.exprs) do
    t[i] = fmt("(as %s %s)", sx_str(p.out[i].name), sx(e, pos))
  end
  return add(c, p.out, "rel.project", {exprs = "(" .. concat(t, " ") .. ")"})
end

function COMPILE.generate(p, kids)
  local c = kids[1]
  local pos = positions(c.out)
  local keep = {}
  for i, a in ipairs(p.gen.keep) do keep[i] = pos[a.id] - 1 end
  return add(c, p.out, "rel.explode",
             {expr = fmt("(split (col %d) %s)", pos[p.gen.src.id] - 1, sx_str(p.gen.pattern)),
              keep = "(" .. concat(keep, " ") .. ")", name = p.gen.attr.name})
end

function COMPILE.limit(p, kids)
  return add(kids[1], p.out, "rel.limit", {n = p.n})
end

function COMPILE.sort(p, kids)
  local c = kids[1]
  local pos = positions(c.out)
  local t = {}
  for i, o in ipairs(p.orders) do
    t[i] = fmt("(%d %s %s)", pos[o.expr.attr.id] - 1, o.asc and "asc" or "desc",
               o.nulls_first and "nulls_first" or "nulls_last")
  end
  return add(c, p.out, "rel.sort", {keys = "(" .. concat(t, " ") .. ")", limit = p.limit or -1})
end

-- the types of what a final aggregate reads: the keys, then the partial
-- aggregate's state columns
local function final_input_types(p)
  local intypes = {}
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
  return intypes
end

function COMPILE.hash_agg(p, kids)
  local c = kids[1]
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
  local intypes
  if p.mode == "final" then
    intypes = final_input_types(p)
  else
    intypes = {}
    for i, a in ipairs(c.out) do intypes[i] = a.type end
  end
  for i, t in ipairs(intypes) do if t == "null" then intypes[i] = "string" end end
  return add(c, p.out, "rel.hash_agg",
             {keys = keys, aggs = "(" .. concat(aggs, " ") .. ")", mode = p.mode,
              input_types = "(" .. concat(intypes, " ") .. ")"})
end

function COMPILE.exchange(p, kids, sc)
  local c = kids[1]
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
end

function COMPILE.join(p, kids)
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
end

function COMPILE.union(p, kids)
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

M.COMPILE = COMPILE

-- compile(p, sc) -> {node, ops, nparts, out} of physical plan p
local function compile(p, sc)
  local kids = {}
  for i, k in ipairs(p.kids) do kids[i] = compile(k, sc) end
  local f = COMPILE[p.op]
  if not f then error("internal: cannot compile " .. tostring(p.op), 0) end
  return f(p, kids, sc)
end
M.compile = compile

return M
