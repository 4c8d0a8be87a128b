-- dfplan.lua -- DataFrame plans: the logical plan built by transformations,
-- the optimizer, physical planning, compilation into ember plan nodes, and
-- the actions (collect, count, show, explain, write).  Expressions and
-- their analysis live in dataframe.lua (X here).
local core, ember, I, sql, X = ...

local SOURCE, NARROW, SHUFFLE, UNION = I.SOURCE, I.NARROW, I.SHUFFLE, I.UNION
local new_node, dataset, run, Session = I.new_node, I.dataset, I.run, I.Session
local DataFrame, GroupedData = X.DataFrame, X.GroupedData
local bind, expr_str, expr_name, refs = X.bind, X.expr_str, X.expr_name, X.refs
local new_attr, to_ast, arg_ast = X.new_attr, X.to_ast, X.arg_ast
local is_df, is_col, cast_to = X.is_df, X.is_col, X.cast_to
local fmt, concat = string.format, table.concat
local mtype = math.type

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
    if info.what ~= "C" and not info.short_src:match("^%[ember") then
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

local function conf_number(sc, key, default)
  local v = sc._s:conf(key)
  if v == nil or v == "" then return default end
  if tostring(v):match("^%s*%-%d+%s*$") then return tonumber(v) end
  local n, unit = tostring(v):lower():match("^%s*(%d+)%s*([kmgt]?)b?%s*$")
  if not n then return default end
  local mult = ({[""] = 1, k = 1024, m = 1024 ^ 2, g = 1024 ^ 3, t = 1024 ^ 4})[unit]
  return math.tointeger(tonumber(n) * mult) or tonumber(n) * mult
end

------------------------------------------------------------ logical plan
-- A node: {kind, out = {attributes}, child | left/right | children, ...}

local function project_node(child, exprs)
  local out = {}
  for i, e in ipairs(exprs) do
    if e.op == "attr" then
      out[i] = e.attr
    else
      local a = new_attr(expr_name(e), e.type)
      if e.op == "alias" then e.id = a.id end
      out[i] = a
      e.out = a
    end
  end
  return {kind = "project", exprs = exprs, out = out, child = child}
end

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
          exprs[#exprs + 1] = {op = "attr", attr = a, type = a.type}
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

------------------------------------------------------------- reading

local DataFrameReader = {}
DataFrameReader.__index = DataFrameReader
DataFrameReader.__name = "ember.DataFrameReader"

local READ_OPTS = {
  csv = {header = "header", sep = "sep", delimiter = "sep", quote = "quote",
         escape = "escape", null_value = "null_value", nullValue = "null_value",
         mode = "mode", schema = true, infer_schema = true, inferSchema = true,
         max_partition_bytes = "max_partition_bytes", sampling_rows = true},
  json = {mode = "mode", schema = true, max_partition_bytes = "max_partition_bytes",
          sampling_rows = true},
  text = {max_partition_bytes = "max_partition_bytes"},
  ember = {max_partition_bytes = "max_partition_bytes"},
}
local SCAN_OP = {csv = "rel.csv_scan", json = "rel.json_scan",
                 text = "rel.text_scan", ember = "rel.col_scan"}

function DataFrameReader:option(k, v)
  self._opts[k] = v
  return self
end
function DataFrameReader:options(t)
  for k, v in pairs(t) do self._opts[k] = v end
  return self
end
function DataFrameReader:schema(s)
  self._opts.schema = s
  return self
end

-- "a BIGINT, b STRING" -> {{name, type}}
local function parse_ddl(s)
  local cols = {}
  for item in (s .. ","):gmatch("%s*(.-)%s*,") do
    if item ~= "" then
      local name, t = item:match("^`(.-)`%s+(%S+)$")
      if not name then name, t = item:match("^(%S+)%s+(%S+)$") end
      if not name then error("bad schema item '" .. item .. "' (want 'name type')", 0) end
      local norm = X.type_of_name(t)
      if not norm then error("unknown type '" .. t .. "' in schema", 0) end
      cols[#cols + 1] = {name = name, type = norm}
    end
  end
  if #cols == 0 then error("empty schema", 0) end
  return cols
end

local function ddl_of(cols)
  local t = {}
  for i, c in ipairs(cols) do t[i] = "`" .. c.name .. "` " .. c.type end
  return concat(t, ", ")
end

local function file_size(path)
  local f = io.open(path, "rb")
  if not f then return 0 end
  local n = f:seek("end") or 0
  f:close()
  return n
end

local function read(self, fmtname, path, opts)
  local sc = self.sc
  if type(path) ~= "string" then
    error(fmtname .. " expects a path, got " .. type(path), 3)
  end
  local o = {}
  for k, v in pairs(self._opts) do o[k] = v end
  for k, v in pairs(opts or {}) do o[k] = v end
  local valid = READ_OPTS[fmtname]
  local params = {path = path}
  for k, v in pairs(o) do
    if not valid[k] then
      local names = {}
      for n in pairs(valid) do names[#names + 1] = n end
      table.sort(names)
      error(fmt("read:%s: unknown option '%s' (valid: %s)", fmtname, tostring(k),
                concat(names, ", ")), 3)
    end
    if type(valid[k]) == "string" then
      params[valid[k]] = v
    end
  end
  if params.mode then
    local m = tostring(params.mode):upper()
    if m ~= "PERMISSIVE" and m ~= "DROPMALFORMED" and m ~= "FAILFAST" then
      error("read: mode must be PERMISSIVE, DROPMALFORMED or FAILFAST, got " ..
            tostring(params.mode), 3)
    end
    params.mode = m
  end
  local op = SCAN_OP[fmtname]
  local splits = at(3, sc._s.plan_source, sc._s, op, params,
                    math.min(sc:default_parallelism(), 2))
  local cols
  if fmtname == "text" then
    cols = {{name = "value", type = "string"}}
  elseif o.schema then
    cols = at(3, parse_ddl, o.schema)
  else
    -- discover the schema: csv/json sample the first split(s), columnar
    -- files read their footer
    local infer = fmtname == "ember" or fmtname == "json" or
                  o.infer_schema or o.inferSchema
    local p = {}
    for k, v in pairs(params) do p[k] = v end
    p.infer = true
    if fmtname ~= "ember" then p.infer_rows = o.sampling_rows or 1000 end
    local types, order = {}, {}
    for i = 1, math.min(#splits, fmtname == "ember" and 1 or 4) do
      local bs = at(3, sc._s.run_source_local, sc._s, op, p, splits[i])
      for _, b in ipairs(bs) do
        for _, r in ipairs(b:rows()) do
          if not types[r.name] then order[#order + 1] = r.name end
          local prev = types[r.name]
          types[r.name] = prev and (X.widen(prev, r.type) or "string") or r.type
        end
      end
    end
    if fmtname == "json" then table.sort(order) end
    cols = {}
    for i, n in ipairs(order) do
      cols[i] = {name = n, type = infer and types[n] or "string"}
    end
    if #cols == 0 and fmtname ~= "json" then
      error("cannot determine the schema of " .. path .. " (no data)", 3)
    end
  end
  if fmtname == "csv" or fmtname == "json" then params.schema = ddl_of(cols) end
  local out = {}
  for i, c in ipairs(cols) do out[i] = new_attr(c.name, c.type) end
  local size = 0
  local seen = {}
  for _, s in ipairs(splits) do
    if not seen[s.path] then seen[s.path] = true; size = size + file_size(s.path) end
  end
  local counter_acc
  if fmtname == "csv" or fmtname == "json" then
    counter_acc = sc:accumulator(0)
  end
  return df_of(sc, {kind = "scan", fmt = fmtname, op = op, path = path,
                    params = params, splits = splits, out = out, all = out,
                    size = size, malformed = counter_acc})
end

function DataFrameReader:csv(path, opts) return read(self, "csv", path, opts) end
function DataFrameReader:json(path, opts) return read(self, "json", path, opts) end
function DataFrameReader:text(path, opts) return read(self, "text", path, opts) end
function DataFrameReader:ember(path, opts) return read(self, "ember", path, opts) end
DataFrameReader.columnar = DataFrameReader.ember
function DataFrameReader:format(f)
  self._format = f
  return self
end
function DataFrameReader:load(path)
  local f = self._format or "ember"
  if not SCAN_OP[f] then error("unknown format '" .. tostring(f) .. "'", 2) end
  return read(self, f, path, nil)
end

-- sc.read (a property, as in Spark: sc.read:csv(...))
local session_index = Session.__index
Session.__index = function(t, k)
  if k == "read" then
    return setmetatable({sc = t, _opts = {}}, DataFrameReader)
  end
  return session_index[k]
end

-- sc:create_dataframe(rows, schema): rows are arrays (by position) or
-- tables keyed by column name; schema "a bigint, b string" or {"a", "b"}
-- (types inferred from the values)
function Session:create_dataframe(rows, schema, num_slices)
  if type(rows) ~= "table" then error("create_dataframe expects an array of rows", 2) end
  local cols
  if type(schema) == "string" then
    cols = at(2, parse_ddl, schema)
  elseif type(schema) == "table" then
    cols = {}
    for i, n in ipairs(schema) do
      local t
      for _, r in ipairs(rows) do
        local v = r[i]
        if v == nil then v = r[n] end
        if v ~= nil and v ~= ember.null then
          local vt = type(v) == "boolean" and "boolean" or
                     mtype(v) == "integer" and "bigint" or
                     mtype(v) == "float" and "double" or "string"
          t = t and (X.widen(t, vt) or "string") or vt
        end
      end
      cols[i] = {name = n, type = t or "string"}
    end
  else
    error("create_dataframe expects a schema ('a bigint, b string' or a list of names)", 2)
  end
  local arr = {}
  for r, row in ipairs(rows) do
    local a = {}
    for i, c in ipairs(cols) do
      local v = row[i]
      if v == nil then v = row[c.name] end
      if v ~= nil and v ~= ember.null then
        if c.type == "date" and type(v) == "string" then
          v = X.parse_date(v) or error(fmt("row %d: bad date '%s'", r, v), 2)
        elseif c.type == "int" or c.type == "bigint" then
          v = math.tointeger(v) or error(fmt("row %d, column %s: not an integer", r, c.name), 2)
        end
      end
      a[i] = v
    end
    arr[r] = a
  end
  local names, types = {}, {}
  for i, c in ipairs(cols) do names[i] = c.name; types[i] = c.type end
  num_slices = num_slices or math.max(1, math.min(self:default_parallelism(), #arr))
  local slices = {}
  for s = 0, num_slices - 1 do
    local lo, hi = (s * #arr) // num_slices, ((s + 1) * #arr) // num_slices
    local part = {}
    for j = lo + 1, hi do part[#part + 1] = arr[j] end
    slices[s + 1] = #part > 0 and {at(2, core.batch_from_rows, names, types, part)} or {}
  end
  local out = {}
  for i, c in ipairs(cols) do out[i] = new_attr(c.name, c.type) end
  return df_of(self, {kind = "local", slices = slices, out = out, nrows = #arr})
end
Session.createDataFrame = Session.create_dataframe

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
    for i, a in ipairs(plan.out) do pre[i] = {op = "attr", attr = a, type = a.type} end
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
        exprs[i] = {op = "attr", attr = a, type = a.type}
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
    local ref = {op = "attr", attr = a, type = a.type}
    exprs[i] = a.name == old and {op = "alias", name = new, type = a.type, args = {ref}} or ref
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
      exprs[#exprs + 1] = {op = "attr", attr = a, type = a.type}
    end
  end
  return df_of(self.sc, project_node(self.plan, exprs))
end

function DataFrame:alias(name)
  check_df(self)
  local exprs = {}
  for i, a in ipairs(self.plan.out) do
    exprs[i] = {op = "attr", attr = a, type = a.type}
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
    local t = X.widen(a.type, other.plan.out[i].type)
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
  for _, n in ipairs(rest) do aggs[n] = ember.first(n) end
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

local function conjuncts(e, out)
  out = out or {}
  if e.op == "and" then
    conjuncts(e.args[1], out)
    conjuncts(e.args[2], out)
  else
    out[#out + 1] = e
  end
  return out
end

local function subset(set, out)
  local ids = {}
  for _, a in ipairs(out) do ids[a.id] = true end
  for id in pairs(set) do if not ids[id] then return false end end
  return true
end

-- A copy of a plan whose attributes are all new (same names and types):
-- the right side of a self-join, so both sides' columns stay distinct
local function reinstance(plan)
  local map = {}
  local function na(a)
    local n = map[a.id]
    if not n then
      n = new_attr(a.name, a.type, a.qual)
      map[a.id] = n
    end
    return n
  end
  local function copy(t)
    local c = {}
    for k, v in pairs(t) do c[k] = v end
    return c
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

local function shares_attrs(a, b)
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

function DataFrame:join(other, on, how)
  check_df(self)
  if not is_df(other) then error("join expects a DataFrame", 2) end
  how = HOW[tostring(how or "inner"):lower()]
  if not how then error("join: how must be inner, left, right, full, semi or anti", 2) end
  local L, R = self.plan, other.plan
  if shares_attrs(L, R) then R = reinstance(R) end
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
        lk[i] = {op = "attr", attr = la, type = la.type}
        rk[i] = {op = "attr", attr = ra, type = ra.type}
        using[i] = n
      end
    elseif on ~= nil then
      local both = {}
      for _, a in ipairs(L.out) do both[#both + 1] = a end
      for _, a in ipairs(R.out) do both[#both + 1] = a end
      local e = bind(to_ast(on), both)
      for _, c in ipairs(conjuncts(e)) do
        local done = false
        if c.op == "eq" then
          local a, b = c.args[1], c.args[2]
          local ra_, rb_ = refs(a), refs(b)
          if next(ra_) and next(rb_) then
            if subset(ra_, L.out) and subset(rb_, R.out) then
              lk[#lk + 1], rk[#rk + 1], done = a, b, true
            elseif subset(rb_, L.out) and subset(ra_, R.out) then
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
        local t = X.widen(l.type, r.type) or l.type
        local e
        if how == "right" then e = r
        elseif how == "full" then
          e = {op = "coalesce", type = t, args = {cast_to(l, t), cast_to(r, t)}}
        else e = l end
        exprs[#exprs + 1] = e.op == "attr" and e or
          {op = "alias", name = l.attr.name, type = e.type, args = {e}}
      end
      for _, a in ipairs(out) do
        if not isk[a.id] then exprs[#exprs + 1] = {op = "attr", attr = a, type = a.type} end
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
        return {op = "attr", attr = a, type = a.type}
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
      if not X.has_agg(e) then error("agg: " .. expr_str(e) .. " is not an aggregate", 0) end
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
    for _, a in ipairs(kout) do exprs[#exprs + 1] = {op = "attr", attr = a, type = a.type} end
    for _, r in ipairs(results) do exprs[#exprs + 1] = r end
    return df_of(df.sc, project_node(agg, exprs))
  end)
end

function GroupedData:agg(t, ...)
  if select("#", ...) > 0 then t = {t, ...} end
  return aggregate(self.df, self.keys, agg_items(t), 2)
end
function GroupedData:count()
  return aggregate(self.df, self.keys, {{expr = ember.count("*"), name = "count"}}, 2)
end
for _, f in ipairs({"sum", "avg", "min", "max"}) do
  GroupedData[f] = function(self, ...)
    local items = {}
    for _, c in ipairs({...}) do items[#items + 1] = {expr = ember[f](c)} end
    return aggregate(self.df, self.keys, items, 2)
  end
end
GroupedData.mean = GroupedData.avg

function DataFrame:agg(t, ...)
  check_df(self)
  if select("#", ...) > 0 then t = {t, ...} end
  return aggregate(self, {}, agg_items(t), 2)
end

return {df_of = df_of, check_df = check_df, at = at, conf_number = conf_number,
        project_node = project_node, conjuncts = conjuncts, subset = subset,
        parse_ddl = parse_ddl}
