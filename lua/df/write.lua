-- df/write.lua -- module `ember.df.write`: df.write (DataFrameWriter):
-- csv, json and ember (columnar) files, with Spark's save modes.
--
-- Every job writes into a fresh staging directory next to the target,
-- renamed into place (or, when appending, its files moved in) once the job
-- succeeded, then _SUCCESS is written; a failed job leaves the target as
-- it was.
local core = require("ember.core")
local rdd = require("ember.rdd")
local frame = require("ember.df.frame")
local actions = require("ember.df.actions")

local DataFrame, at = frame.DataFrame, frame.at
local run = rdd.run
local prepared, report_malformed = actions.prepared, actions.report_malformed

local M = {}


local DataFrameWriter = {}
DataFrameWriter.__index = DataFrameWriter
DataFrameWriter.__name = "ember.DataFrameWriter"
M.DataFrameWriter = DataFrameWriter

-- df.write (a property, as in Spark: df.write:csv(...))
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

return M
