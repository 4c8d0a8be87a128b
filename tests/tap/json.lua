-- json.lua -- a small, strict JSON decoder (RFC 8259) for tests that read
-- ember's event log.  json.decode(text) returns the value, or raises with
-- the byte offset of the first error.  Objects and arrays become tables;
-- null becomes json.null (so a key holding null is still present); numbers
-- without a fraction or exponent become Lua integers.
local M = {}

M.null = setmetatable({}, {__tostring = function() return "null" end})

local escapes = {['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f",
                 n = "\n", r = "\r", t = "\t"}

local function fail(s, i, what)
  error(string.format("json: %s at byte %d near %q", what, i, s:sub(i, i + 10)), 0)
end

local function skip(s, i)
  return s:find("[^ \t\r\n]", i) or #s + 1
end

local value

local function str(s, i) -- s:sub(i, i) == '"'
  local out, j = {}, i + 1
  while true do
    local k = s:find('["\\%c]', j)
    if not k then fail(s, i, "unterminated string") end
    out[#out + 1] = s:sub(j, k - 1)
    local c = s:sub(k, k)
    if c == '"' then return table.concat(out), k + 1 end
    if c ~= "\\" then fail(s, k, "control character in string") end
    local e = s:sub(k + 1, k + 1)
    if escapes[e] then
      out[#out + 1] = escapes[e]
      j = k + 2
    elseif e == "u" then
      local hex = s:match("^%x%x%x%x", k + 2)
      if not hex then fail(s, k, "bad \\u escape") end
      local cp = tonumber(hex, 16)
      j = k + 6
      if cp >= 0xD800 and cp <= 0xDBFF then
        local lo = s:match("^\\u(%x%x%x%x)", j)
        lo = lo and tonumber(lo, 16)
        if not lo or lo < 0xDC00 or lo > 0xDFFF then fail(s, k, "lone surrogate") end
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
        j = j + 6
      elseif cp >= 0xDC00 and cp <= 0xDFFF then
        fail(s, k, "lone surrogate")
      end
      out[#out + 1] = utf8.char(cp)
    else
      fail(s, k, "bad escape")
    end
  end
end

-- -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][-+]?[0-9]+)?
local function num(s, i)
  local j = i
  if s:sub(j, j) == "-" then j = j + 1 end
  local int = s:match("^0", j) or s:match("^[1-9]%d*", j)
  if not int then fail(s, i, "bad number") end
  j = j + #int
  local frac = s:match("^%.%d+", j)
  if frac then j = j + #frac elseif s:sub(j, j) == "." then fail(s, i, "bad number") end
  local exp = s:match("^[eE][-+]?%d+", j)
  if exp then j = j + #exp elseif s:match("^[eE]", j) then fail(s, i, "bad number") end
  local lit = s:sub(i, j - 1)
  return (not frac and not exp and math.tointeger(tonumber(lit))) or tonumber(lit), j
end

local function arr(s, i)
  local out, n = {}, 0
  i = skip(s, i + 1)
  if s:sub(i, i) == "]" then return out, i + 1 end
  while true do
    local v
    v, i = value(s, i)
    n = n + 1
    out[n] = v
    i = skip(s, i)
    local c = s:sub(i, i)
    if c == "]" then return out, i + 1 end
    if c ~= "," then fail(s, i, "expected , or ]") end
    i = skip(s, i + 1)
  end
end

local function obj(s, i)
  local out = {}
  i = skip(s, i + 1)
  if s:sub(i, i) == "}" then return out, i + 1 end
  while true do
    if s:sub(i, i) ~= '"' then fail(s, i, "expected a key") end
    local k, v
    k, i = str(s, i)
    i = skip(s, i)
    if s:sub(i, i) ~= ":" then fail(s, i, "expected :") end
    v, i = value(s, skip(s, i + 1))
    out[k] = v
    i = skip(s, i)
    local c = s:sub(i, i)
    if c == "}" then return out, i + 1 end
    if c ~= "," then fail(s, i, "expected , or }") end
    i = skip(s, i + 1)
  end
end

local literals = {["true"] = true, ["false"] = false}

value = function(s, i)
  local c = s:sub(i, i)
  if c == "{" then return obj(s, i) end
  if c == "[" then return arr(s, i) end
  if c == '"' then return str(s, i) end
  if c == "-" or c:match("%d") then return num(s, i) end
  for lit, v in pairs(literals) do
    if s:sub(i, i + #lit - 1) == lit then return v, i + #lit end
  end
  if s:sub(i, i + 3) == "null" then return M.null, i + 4 end
  fail(s, i, "unexpected character")
end

function M.decode(s)
  if not utf8.len(s) then error("json: text is not UTF-8", 0) end
  local v, i = value(s, skip(s, 1))
  i = skip(s, i)
  if i <= #s then fail(s, i, "trailing characters") end
  return v
end

return M
