-- df/actions.lua -- module `ember.df.actions`: what runs a DataFrame --
-- collect, count, take, first, show, explain, persist, rdd -- and the
-- schema accessors.  Adds these methods to the DataFrame class.
--
-- An action optimizes the logical plan (df/optimizer.lua), plans it
-- (df/physical.lua), compiles it into plan nodes (df/compile.lua) and runs
-- them as a job of batches (ember.rdd's run); results come back as
-- batches decoded into rows.  show() prints Spark's df.show() text, its
-- doubles as Java prints them (ember.numfmt, the formatter op_relational
-- uses too); explain() prints Spark's plan trees.
local null = require("ember.null")
local numfmt = require("ember.numfmt")
local KIND = require("ember.plan_kind")
local rdd = require("ember.rdd")
local expr = require("ember.df.expr")
local logical = require("ember.df.logical")
local frame = require("ember.df.frame")
local optimizer = require("ember.df.optimizer")
local physical = require("ember.df.physical")
local compile = require("ember.df.compile")

local DataFrame, check_df, at = frame.DataFrame, frame.check_df, frame.at
local new_node, dataset, run = rdd.new_node, rdd.dataset, rdd.run
local children, names_of = logical.children, expr.names_of
local fmt, concat = string.format, table.concat
local mtype = math.type

local M = {}

local function physical_of(df)
  local opt = optimizer.optimize(df.plan)
  return physical.plan(opt, df.sc), opt
end

-- the plan as a Dataset whose elements are batches, with its output
local function prepared(df, level)
  return at(level + 1, function()
    local ph = physical_of(df)
    local r = compile.compile(ph, df.sc)
    local node = compile.materialize(r)
    -- the final projection gives the user's column names
    return dataset(df.sc, node), r.out
  end)
end
M.prepared = prepared

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
M.report_malformed = report_malformed

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
  return rows_from(res, names_of(self.plan.out))
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
  out = rows_from(res, names_of(df.plan.out), cells)
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
  return names_of(self.plan.out)
end

function DataFrame:dtypes()
  check_df(self)
  local t = {}
  for i, a in ipairs(self.plan.out) do t[i] = {a.name, expr.SIMPLE_TYPE[a.type]} end
  return t
end

function DataFrame:schema_string()
  check_df(self)
  local t = {}
  for i, a in ipairs(self.plan.out) do t[i] = a.name .. ": " .. expr.SIMPLE_TYPE[a.type] end
  return concat(t, ", ")
end

DataFrame.__tostring = function(df)
  return "DataFrame[" .. df:schema_string() .. "]"
end

function DataFrame:print_schema()
  check_df(self)
  local t = {"root"}
  for _, a in ipairs(self.plan.out) do
    t[#t + 1] = " |-- " .. a.name .. ": " .. expr.SPARK_TYPE[a.type] .. " (nullable = true)"
  end
  io.write(concat(t, "\n"), "\n")
end
DataFrame.printSchema = DataFrame.print_schema

-- show(): Spark's df.show() text
local function cell_text(v, t)
  if v == null or v == nil then return "null" end
  if t == "double" then return numfmt.java_double(v) end
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
  local names = names_of(self.plan.out)
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
  local kids_l = children
  local parts = {}
  if mode == "extended" then
    parts[#parts + 1] = "== Parsed Logical Plan ==\n" ..
      logical.tree(self.plan, function(n) return "'" .. logical.text(n, false) end, kids_l)
    local schema = {}
    for i, a in ipairs(self.plan.out) do schema[i] = a.name .. ": " .. expr.SIMPLE_TYPE[a.type] end
    parts[#parts + 1] = "== Analyzed Logical Plan ==\n" .. concat(schema, ", ") .. "\n" ..
      logical.tree(self.plan, function(n) return logical.text(n, true) end, kids_l)
    parts[#parts + 1] = "== Optimized Logical Plan ==\n" ..
      logical.tree(opt, function(n) return logical.text(n, true) end, kids_l)
  end
  parts[#parts + 1] = "== Physical Plan ==\n" ..
    logical.tree(ph, function(n) return n.line end, function(n) return n.kids end)
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
  return dataset(self.sc, new_node(KIND.NARROW, n.nparts, {n}, {op = "df_rows"}, 2))
end

return M
