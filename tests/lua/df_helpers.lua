-- df_helpers.lua -- shared helpers of the DataFrame tests (df_sqlite.lua,
-- df_output.lua): a deterministic generator, temp dirs, CSV/SQL writers,
-- the sqlite3 oracle and row normalization for comparisons.
local H = {}

-- a 31-bit LCG (the classic ANSI C constants): the same numbers on every
-- build, unlike math.random
function H.rng(seed)
  local s = seed
  local r = {}
  function r.next()
    s = (s * 1103515245 + 12345) % 2147483648
    return s
  end
  -- an integer in [lo, hi]
  function r.int(lo, hi) return lo + (r.next() >> 8) % (hi - lo + 1) end
  -- true with probability p percent
  function r.pct(p) return r.int(1, 100) <= p end
  function r.pick(t) return t[r.int(1, #t)] end
  return r
end

local function sh(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
H.sh = sh

function H.mkdtemp()
  local p = os.tmpname()
  os.remove(p)
  assert(os.execute("mkdir -p " .. sh(p)), "cannot make " .. p)
  return p
end

function H.rmrf(p)
  if p and #p > 4 then os.execute("rm -rf " .. sh(p)) end
end

function H.exists(p)
  return os.execute("test -e " .. sh(p)) == true
end

function H.write_file(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

-- column specs: {name, type}; rows: arrays with H.NULL for NULL
H.NULL = setmetatable({}, {__tostring = function() return "NULL" end})

local function csv_cell(v, ty)
  if v == H.NULL then return "" end
  if ty == "string" then return '"' .. v .. '"' end -- test data holds no quotes
  if ty == "boolean" then return v and "true" or "false" end
  if ty == "double" then return string.format("%.2f", v) end
  return tostring(v)
end

function H.write_csv(path, cols, rows)
  local out = {}
  local names = {}
  for i, c in ipairs(cols) do names[i] = c[1] end
  out[1] = table.concat(names, ",")
  for _, r in ipairs(rows) do
    local cells = {}
    for i, c in ipairs(cols) do cells[i] = csv_cell(r[i], c[2]) end
    out[#out + 1] = table.concat(cells, ",")
  end
  H.write_file(path, table.concat(out, "\n") .. "\n")
end

local SQLTYPE = {bigint = "INTEGER", int = "INTEGER", string = "TEXT",
                 double = "REAL", date = "TEXT", boolean = "INTEGER"}
local function sql_lit(v, ty)
  if v == H.NULL then return "NULL" end
  if ty == "string" or ty == "date" then return "'" .. v:gsub("'", "''") .. "'" end
  if ty == "boolean" then return v and "1" or "0" end
  if ty == "double" then return string.format("%.2f", v) end
  return tostring(v)
end

-- CREATE TABLE + INSERTs, appended to the array `out`
function H.sql_table(out, name, cols, rows)
  local defs = {}
  for i, c in ipairs(cols) do defs[i] = c[1] .. " " .. SQLTYPE[c[2]] end
  out[#out + 1] = "CREATE TABLE " .. name .. " (" .. table.concat(defs, ", ") .. ");"
  for _, r in ipairs(rows) do
    local vals = {}
    for i, c in ipairs(cols) do vals[i] = sql_lit(r[i], c[2]) end
    out[#out + 1] = "INSERT INTO " .. name .. " VALUES (" .. table.concat(vals, ", ") .. ");"
  end
end

function H.ddl(cols)
  local t = {}
  for i, c in ipairs(cols) do t[i] = c[1] .. " " .. c[2] end
  return table.concat(t, ", ")
end

-- RFC 4180 CSV text (as sqlite3 -csv prints it) into arrays of strings
function H.parse_csv(text)
  local rows, row, field = {}, {}, {}
  local i, n = 1, #text
  local inq = false
  local any = false
  while i <= n do
    local c = text:sub(i, i)
    if inq then
      if c == '"' then
        if text:sub(i + 1, i + 1) == '"' then field[#field + 1] = '"'; i = i + 1
        else inq = false end
      else field[#field + 1] = c end
    elseif c == '"' then inq = true; any = true
    elseif c == "," then row[#row + 1] = table.concat(field); field = {}; any = true
    elseif c == "\r" then -- part of \r\n
    elseif c == "\n" then
      row[#row + 1] = table.concat(field)
      rows[#rows + 1] = row
      row, field, any = {}, {}, false
    else field[#field + 1] = c; any = true end
    i = i + 1
  end
  if any or #row > 0 then row[#row + 1] = table.concat(field); rows[#rows + 1] = row end
  return rows
end

-- run SQL against db with sqlite3; rows as arrays of strings (NULL = "")
function H.oracle(db, tmpdir, query)
  local qf = tmpdir .. "/query.sql"
  H.write_file(qf, "PRAGMA case_sensitive_like = ON;\n" .. query .. ";\n")
  local p = assert(io.popen("sqlite3 -csv -noheader " .. sh(db) .. " < " .. sh(qf) .. " 2>&1"))
  local text = p:read("a")
  local ok = p:close()
  if not ok then error("sqlite3 failed on: " .. query .. "\n" .. text, 2) end
  return H.parse_csv(text)
end

-- a double as compared: 6 decimals, no negative zero
function H.f6(x)
  local s = string.format("%.6f", x)
  if s == "-0.000000" then s = "0.000000" end
  return s
end

-- ember rows (collect()) of df into arrays of strings, by df:columns()
function H.norm(df, rows, exact)
  local types = {}
  for i, d in ipairs(df:dtypes()) do types[i] = d[2] end
  local names = df:columns()
  local null = require("ember").null
  local out = {}
  for r, row in ipairs(rows) do
    local a = {}
    for c, name in ipairs(names) do
      local v, ty = row[name], types[c]
      if v == nil or v == null then a[c] = ""
      elseif ty == "boolean" then a[c] = v and "1" or "0"
      elseif ty == "double" then a[c] = exact and string.format("%.17g", v) or H.f6(v)
      elseif ty == "int" or ty == "bigint" then a[c] = string.format("%d", v)
      else a[c] = tostring(v) end
    end
    out[r] = a
  end
  return out
end

-- rows (arrays of strings) into lines, sorted unless ordered
function H.lines(rows, ordered)
  local t = {}
  for i, r in ipairs(rows) do
    local c = {}
    for j, v in ipairs(r) do c[j] = v == "-0.000000" and "0.000000" or v end
    t[i] = table.concat(c, "\x1f")
  end
  if not ordered then table.sort(t) end
  return t
end

-- equal lines? with numeric tolerance `tol` (relative) on fields that both
-- parse as numbers, when tol is given
local function line_eq(a, b, tol)
  if a == b then return true end
  if not tol then return false end
  local fa, fb = {}, {}
  for f in (a .. "\x1f"):gmatch("(.-)\x1f") do fa[#fa + 1] = f end
  for f in (b .. "\x1f"):gmatch("(.-)\x1f") do fb[#fb + 1] = f end
  if #fa ~= #fb then return false end
  for i = 1, #fa do
    if fa[i] ~= fb[i] then
      local x, y = tonumber(fa[i]), tonumber(fb[i])
      if not (x and y) then return false end
      if math.abs(x - y) > tol * math.max(1, math.abs(y)) then return false end
    end
  end
  return true
end

-- compare two line lists; returns ok, a description of the first differences
function H.diff(got, want, tol)
  local msgs = {}
  if #got ~= #want then
    msgs[#msgs + 1] = string.format("row count: got %d, wanted %d", #got, #want)
  end
  local shown = 0
  for i = 1, math.max(#got, #want) do
    local g, w = got[i], want[i]
    if g == nil or w == nil or not line_eq(g, w, tol) then
      msgs[#msgs + 1] = string.format("row %d:\n     got: %s\n  wanted: %s", i,
        g and g:gsub("\x1f", " | ") or "(none)", w and w:gsub("\x1f", " | ") or "(none)")
      shown = shown + 1
      if shown >= 5 then break end
    end
  end
  return #msgs == 0, table.concat(msgs, "\n")
end

return H
