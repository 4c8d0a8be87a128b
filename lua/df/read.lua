-- df/read.lua -- module `ember.df.read`: DataFrames from files and from
-- Lua rows: sc.read (DataFrameReader: csv, json, text, ember) and
-- sc:create_dataframe.  Adds both to the Session class (ember.rdd).
--
-- A reader lists the file splits on the driver through the scan
-- operator's plan() (op_relational), discovers the schema when none is
-- given (csv/json sample the first splits, columnar files read their
-- footer) and returns a DataFrame whose plan is one scan node.  Splits are
-- at most max_partition_bytes each: the read option, else the setting
-- files.maxPartitionBytes (Spark's spark.sql.files.maxPartitionBytes),
-- else 128 MiB.
local core = require("ember.core")
local null = require("ember.null")
local dates = require("ember.dates")
local rdd = require("ember.rdd")
local expr = require("ember.df.expr")
local frame = require("ember.df.frame")

local Session = rdd.Session
local df_of, at = frame.df_of, frame.at
local new_attr = expr.new_attr
local fmt, concat = string.format, table.concat
local mtype = math.type

local M = {}

local DataFrameReader = {}
DataFrameReader.__index = DataFrameReader
DataFrameReader.__name = "ember.DataFrameReader"
M.DataFrameReader = DataFrameReader

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
      local norm = expr.type_of_name(t)
      if not norm then error("unknown type '" .. t .. "' in schema", 0) end
      cols[#cols + 1] = {name = name, type = norm}
    end
  end
  if #cols == 0 then error("empty schema", 0) end
  return cols
end
M.parse_ddl = parse_ddl

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
  -- the most bytes per split: the option wins, the setting is the default
  if params.max_partition_bytes == nil then
    params.max_partition_bytes = sc._s:conf_value("files.maxPartitionBytes")
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
          types[r.name] = prev and (expr.widen(prev, r.type) or "string") or r.type
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
        if v ~= nil and v ~= null then
          local vt = type(v) == "boolean" and "boolean" or
                     mtype(v) == "integer" and "bigint" or
                     mtype(v) == "float" and "double" or "string"
          t = t and (expr.widen(t, vt) or "string") or vt
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
      if v ~= nil and v ~= null then
        if c.type == "date" and type(v) == "string" then
          v = dates.parse_date(v) or error(fmt("row %d: bad date '%s'", r, v), 2)
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

return M
