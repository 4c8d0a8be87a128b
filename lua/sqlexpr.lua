-- sqlexpr.lua -- SQL expression strings -> plain-table ASTs (module `ember.sqlexpr`).
--
-- The DataFrame API accepts Spark-SQL expression strings wherever it accepts
-- an expression ("a + 1 as b", "l_shipdate <= date '1998-09-02'").  This
-- module owns their lexer, a recursive-descent parser and the reverse
-- rendering (to_sql) used by explain output and error messages.  It is pure
-- Lua 5.4, keeps no state between calls and never touches the session.
--
-- The input is lexed completely first (an array of tokens with their byte
-- positions), then parsed with one function per precedence level, lowest
-- first: OR, AND, NOT, comparison (= <> < <= > >= <=> IS IN BETWEEN LIKE),
-- ||, + -, * / %, unary -, primary.  Binary levels loop, so they are
-- left-associative.  M.MAX_DEPTH (200) bounds both the parser's recursion
-- (parentheses, calls, CASE, unary - and NOT) and the height of the AST
-- (so a chain of 200 `+` is refused too), which keeps every consumer that
-- walks the tree recursively far from Lua's stack limit.
--
-- AST nodes are plain tables, always a tree (no shared subtables):
--   {op = "col", name = N [, qualifier = Q]}      {op = "star" [, qualifier = Q]}
--   {op = "lit", type = T, value = V}              T: int bigint double string
--                                                     boolean null date timestamp
--   {op = "alias", name = N, args = {e}}           {op = "cast", to = T, args = {e}}
--   {op = NAME, args = {...}}                      operators and function calls
-- Every error is raised as error(msg, 0) with msg
--   syntax error in expression "<input>": <what> at position <p> near '<text>'
-- or "... at position <p> (end of input)"; positions are 1-based bytes.
local dates = require("ember.dates")

local M = {}

M.MAX_DEPTH = 200

-- Keywords (case-insensitive).  The reserved ones cannot name a column or a
-- function; the others can, as in Spark (`date`, `first(x)`, `t.last`).
local RESERVED = {}
for w in ([[AND OR NOT IS NULL IN BETWEEN LIKE CASE WHEN THEN ELSE END CAST AS
            TRUE FALSE]]):gmatch("%S+") do RESERVED[w] = true end
local KEYWORDS = {}
for w in pairs(RESERVED) do KEYWORDS[w] = true end
for w in ("DATE TIMESTAMP DISTINCT ASC DESC NULLS FIRST LAST"):gmatch("%S+") do
  KEYWORDS[w] = true
end

-- Comparison operators (one precedence level).
local CMP = {["="] = "eq", ["=="] = "eq", ["<>"] = "ne", ["!="] = "ne", ["<"] = "lt",
             ["<="] = "le", [">"] = "gt", [">="] = "ge", ["<=>"] = "eqns"}

-- CAST target names -> normalized type; PARAMS: how many (n[, m]) a name takes.
local TYPES = {
  boolean = "boolean", bool = "boolean",
  int = "int", integer = "int",
  bigint = "bigint", long = "bigint",
  double = "double", float = "double", real = "double",
  decimal = "double", numeric = "double", dec = "double",
  string = "string", varchar = "string", char = "string", character = "string",
  text = "string",
  date = "date",
  timestamp = "timestamp", timestamp_ntz = "timestamp", timestamp_ltz = "timestamp",
}
local PARAMS = {decimal = 2, numeric = 2, dec = 2, varchar = 1, char = 1, character = 1}

-- ======================================================================
-- Errors
-- ======================================================================

-- Printable form of a piece of input for a message: control and non-ASCII
-- bytes as \xNN, cut at `max` bytes.
local function printable(s, max)
  local cut = #s > max
  if cut then s = s:sub(1, max) end
  s = s:gsub("[%c\128-\255]", function(c) return string.format("\\x%02X", c:byte()) end)
  return cut and (s .. "...") or s
end

local function fail(P, what, tok)
  local where
  if tok.k == "eof" then
    where = string.format("at position %d (end of input)", tok.pos)
  else
    where = string.format("at position %d near '%s'", tok.pos,
                          printable(P.src:sub(tok.pos, tok.stop), 40))
  end
  error(string.format('syntax error in expression "%s": %s %s',
                      printable(P.src, 200), what, where), 0)
end

-- ======================================================================
-- Lexer
-- ======================================================================
-- Tokens: {k = kind, pos = first byte, stop = last byte, ...}
--   id   v = name (unescaped if backquoted), name = v
--   kw   v = upper-case keyword, name = the text as written
--   num  text = the number without suffix, int = no '.'/exponent, suffix = "" | "L" | "D"
--   str  v = the unescaped value
--   op   v = the operator text
--   eof  pos = #src + 1

local ESCAPES = {n = "\n", t = "\t", r = "\r", b = "\b", ["0"] = "\0", Z = "\26",
                 ["'"] = "'", ['"'] = '"', ["\\"] = "\\"}

local function lex_string(P, i)
  local s = P.src
  local q = s:sub(i, i)
  local set = q == "'" and "[\\']" or '[\\"]'
  local buf, j = {}, i + 1
  while true do
    local k = s:find(set, j)
    if not k then fail(P, "unterminated string literal", {k = "str", pos = i, stop = #s}) end
    buf[#buf + 1] = s:sub(j, k - 1)
    if s:sub(k, k) == q then
      if s:sub(k + 1, k + 1) == q then -- '' is an escaped quote
        buf[#buf + 1] = q
        j = k + 2
      else
        return {k = "str", v = table.concat(buf), pos = i, stop = k}
      end
    else -- a backslash escape
      local e = s:sub(k + 1, k + 1)
      if e == "" then fail(P, "unterminated string literal", {k = "str", pos = i, stop = #s}) end
      if e == "u" then
        local hex = s:match("^%x%x%x%x", k + 2)
        if not hex then
          fail(P, "bad \\u escape (expected 4 hex digits)", {k = "str", pos = k, stop = k + 1})
        end
        buf[#buf + 1] = utf8.char(tonumber(hex, 16))
        j = k + 6
      else
        if ESCAPES[e] then
          buf[#buf + 1] = ESCAPES[e]
        elseif e == "%" or e == "_" then -- kept for LIKE patterns, as Spark does
          buf[#buf + 1] = "\\" .. e
        else
          buf[#buf + 1] = e
        end
        j = k + 2
      end
    end
  end
end

local function lex_backquoted(P, i)
  local s = P.src
  local buf, j = {}, i + 1
  while true do
    local k = s:find("`", j, true)
    if not k then fail(P, "unterminated quoted identifier", {k = "id", pos = i, stop = #s}) end
    buf[#buf + 1] = s:sub(j, k - 1)
    if s:sub(k + 1, k + 1) == "`" then
      buf[#buf + 1] = "`"
      j = k + 2
    else
      local name = table.concat(buf)
      if name == "" then fail(P, "empty quoted identifier", {k = "id", pos = i, stop = k}) end
      return {k = "id", v = name, name = name, quoted = true, pos = i, stop = k}
    end
  end
end

local function lex_number(P, i)
  local s = P.src
  local j = s:match("^[0-9]*()", i)
  local int = true
  if s:sub(j, j) == "." then
    int = false
    j = s:match("^[0-9]*()", j + 1)
  end
  local e = s:match("^[eE][+-]?[0-9]+()", j)
  if e then
    int = false
    j = e
  end
  local text = s:sub(i, j - 1)
  local stop = s:match("^[A-Za-z0-9_]*()", j) - 1
  local suffix = s:sub(j, stop):upper()
  local tok = {k = "num", text = text, int = int, suffix = suffix, pos = i, stop = stop}
  if not (suffix == "" or suffix == "D" or (suffix == "L" and int)) then
    fail(P, "malformed number", tok)
  end
  return tok
end

local OPS3 = {["<=>"] = true}
local OPS2 = {["<="] = true, [">="] = true, ["<>"] = true, ["!="] = true, ["=="] = true,
              ["||"] = true}
local OPS1 = {}
for c in ("=<>+-*/%(),."):gmatch(".") do OPS1[c] = true end

local function lex(P)
  local s = P.src
  local toks, i = {}, 1
  while true do
    i = s:find("[^ \t\r\n\f\v]", i)
    if not i then
      toks[#toks + 1] = {k = "eof", pos = #s + 1, stop = #s}
      return toks
    end
    local c = s:sub(i, i)
    local tok
    if c:find("^[A-Za-z_]") then
      local stop = s:match("^[A-Za-z0-9_]*()", i) - 1
      local text = s:sub(i, stop)
      local up = text:upper()
      if KEYWORDS[up] then
        tok = {k = "kw", v = up, name = text, pos = i, stop = stop}
      else
        tok = {k = "id", v = text, name = text, pos = i, stop = stop}
      end
    elseif c:find("^[0-9]") or (c == "." and s:find("^[0-9]", i + 1)) then
      tok = lex_number(P, i)
    elseif c == "'" or c == '"' then
      tok = lex_string(P, i)
    elseif c == "`" then
      tok = lex_backquoted(P, i)
    elseif OPS3[s:sub(i, i + 2)] then
      tok = {k = "op", v = s:sub(i, i + 2), pos = i, stop = i + 2}
    elseif OPS2[s:sub(i, i + 1)] then
      tok = {k = "op", v = s:sub(i, i + 1), pos = i, stop = i + 1}
    elseif OPS1[c] then
      tok = {k = "op", v = c, pos = i, stop = i}
    else
      fail(P, "unexpected character", {k = "op", pos = i, stop = i})
    end
    toks[#toks + 1] = tok
    i = tok.stop + 1
  end
end

-- ======================================================================
-- Dates and timestamps: ember.dates (the one date rule of the Lua side)
-- ======================================================================

M.days_from_civil = dates.days_from_civil
M.civil_from_days = dates.civil_from_days
local US_PER_DAY = dates.US_PER_DAY
local parse_timestamp = dates.parse_timestamp

-- 'yyyy-m[m]-d[d]' -> days, or nil
local function parse_date(s) return dates.parse_date(s, true) end

-- ======================================================================
-- Parser
-- ======================================================================

local function peek(P, k) return P.toks[math.min(P.i + (k or 0), #P.toks)] end
local function advance(P)
  local t = P.toks[P.i]
  if t.k ~= "eof" then P.i = P.i + 1 end
  return t
end
local function is_op(t, v) return t.k == "op" and t.v == v end
local function is_kw(t, v) return t.k == "kw" and t.v == v end
local function accept_kw(P, v)
  if is_kw(peek(P), v) then return advance(P) end
end
local function accept_op(P, v)
  if is_op(peek(P), v) then return advance(P) end
end
local function expect_op(P, v, why)
  if not accept_op(P, v) then fail(P, "expected '" .. v .. "'" .. (why or ""), peek(P)) end
end
local function expect_kw(P, v, why)
  if not accept_kw(P, v) then fail(P, "expected " .. v .. (why or ""), peek(P)) end
end


local function too_deep(P)
  fail(P, "expression nested too deeply (more than " .. M.MAX_DEPTH .. " levels)", peek(P))
end

-- Every node with args goes through here: its height (1 for a leaf) is kept
-- in P.height, so a long left-associative chain is bounded like nesting is.
local function node(P, e)
  local h = 0
  for _, a in ipairs(e.args) do h = math.max(h, P.height[a] or 1) end
  if h + 1 > M.MAX_DEPTH then too_deep(P) end
  P.height[e] = h + 1
  return e
end

local function enter(P)
  P.depth = P.depth + 1
  if P.depth > M.MAX_DEPTH then too_deep(P) end
end
local function leave(P) P.depth = P.depth - 1 end

local function call(P, op, ...) return node(P, {op = op, args = {...}}) end

-- a deep copy (the AST stays a tree when BETWEEN or CASE x repeat x)
local function copy(P, e)
  if type(e) ~= "table" then return e end
  local c = {}
  for k, v in pairs(e) do c[k] = copy(P, v) end
  P.height[c] = P.height[e]
  return c
end

local parse_expr

local function number_lit(P, tok, neg)
  if tok.int and tok.suffix ~= "D" then
    local digits = tok.text:gsub("^0+", "")
    if digits == "" then digits = "0" end
    local v
    if #digits > 19 or (#digits == 19 and digits > "9223372036854775807") then
      if neg and digits == "9223372036854775808" then
        v = math.mininteger
      else
        fail(P, "integer literal out of range (more than 64 bits)", tok)
      end
    else
      v = math.tointeger(tonumber(digits))
      if neg then v = -v end
    end
    local ty = "bigint"
    if tok.suffix == "" and v >= -2147483648 and v <= 2147483647 then ty = "int" end
    return {op = "lit", type = ty, value = v}
  end
  local v = tonumber(tok.text)
  if v == nil or v ~= v or v == math.huge then
    fail(P, "numeric literal out of range", tok)
  end
  v = v + 0.0
  if neg then v = -v end
  return {op = "lit", type = "double", value = v}
end

local function parse_case(P, case_tok)
  local subject
  local t = peek(P)
  if not (is_kw(t, "WHEN") or is_kw(t, "ELSE") or is_kw(t, "END")) then subject = parse_expr(P) end
  if not is_kw(peek(P), "WHEN") then fail(P, "expected WHEN in CASE", peek(P)) end
  local args = {}
  while accept_kw(P, "WHEN") do
    local c = parse_expr(P)
    if subject then c = call(P, "eq", copy(P, subject), c) end
    expect_kw(P, "THEN", " after WHEN condition")
    args[#args + 1] = c
    args[#args + 1] = parse_expr(P)
  end
  if accept_kw(P, "ELSE") then args[#args + 1] = parse_expr(P) end
  expect_kw(P, "END", " (unclosed CASE at position " .. case_tok.pos .. ")")
  return node(P, {op = "case", args = args})
end

local function parse_type(P)
  local t = peek(P)
  if t.k ~= "id" and t.k ~= "kw" then fail(P, "expected a type name", t) end
  advance(P)
  local name = t.name:lower()
  local to = TYPES[name]
  if not to then
    fail(P, "unknown type '" .. printable(t.name, 40) .. "' in CAST (expected boolean, int, " ..
         "bigint, double, string, date or timestamp)", t)
  end
  if accept_op(P, "(") then
    local max = PARAMS[name]
    if not max then fail(P, "type " .. name .. " takes no parameters", t) end
    local n = 0
    repeat
      local p = peek(P)
      if p.k ~= "num" or not p.int or p.suffix ~= "" then fail(P, "expected an integer", p) end
      advance(P)
      n = n + 1
    until not accept_op(P, ",")
    if n > max then fail(P, "too many parameters for type " .. name, t) end
    expect_op(P, ")", " to close the type parameters")
  end
  return to
end

local function parse_call(P, name_tok)
  local open = advance(P) -- '('
  local op = name_tok.name:lower()
  local args = {}
  local why = " (unclosed '(' of " .. op .. "() at position " .. open.pos .. ")"
  if accept_op(P, ")") then return node(P, {op = op, args = args}) end
  local distinct
  local t1 = peek(P, 1)
  if is_kw(peek(P), "DISTINCT") and not (is_op(t1, ")") or is_op(t1, ",") or is_op(t1, ".")) then
    distinct = advance(P)
    if op ~= "count" then fail(P, "DISTINCT is not supported in " .. op .. "()", distinct) end
    op = "count_distinct"
  end
  if op == "count" and is_op(peek(P), "*") and is_op(peek(P, 1), ")") then
    advance(P); advance(P)
    return node(P, {op = "count", args = {{op = "star"}}})
  end
  repeat
    args[#args + 1] = parse_expr(P)
  until not accept_op(P, ",")
  expect_op(P, ")", why)
  return node(P, {op = op, args = args})
end

-- identifier, qualified name or function call; t is an id or non-reserved kw
local function parse_name(P, t)
  advance(P)
  local nt = peek(P)
  if is_op(nt, "(") then return parse_call(P, t) end
  if not is_op(nt, ".") then return {op = "col", name = t.name} end
  advance(P)
  local f = peek(P)
  if is_op(f, "*") then
    fail(P, "'" .. printable(t.name, 40) .. ".*' is only allowed alone in a select list", f)
  end
  if f.k ~= "id" and f.k ~= "kw" then fail(P, "expected a column name after '.'", f) end
  advance(P)
  if is_op(peek(P), "(") then fail(P, "qualified function names are not supported", peek(P)) end
  if is_op(peek(P), ".") then fail(P, "nested field access is not supported", peek(P)) end
  return {op = "col", name = f.name, qualifier = t.name}
end

local function parse_primary(P)
  local t = peek(P)
  if t.k == "num" then
    advance(P)
    return number_lit(P, t, false)
  elseif t.k == "str" then
    advance(P)
    local v = t.v
    while peek(P).k == "str" do v = v .. advance(P).v end -- 'a' 'b' is 'ab'
    return {op = "lit", type = "string", value = v}
  elseif t.k == "id" then
    return parse_name(P, t)
  elseif t.k == "kw" then
    local w = t.v
    if w == "TRUE" or w == "FALSE" then
      advance(P)
      return {op = "lit", type = "boolean", value = w == "TRUE"}
    elseif w == "NULL" then
      advance(P)
      return {op = "lit", type = "null"}
    elseif w == "CASE" then
      advance(P)
      enter(P)
      local e = parse_case(P, t)
      leave(P)
      return e
    elseif w == "CAST" then
      advance(P)
      expect_op(P, "(", " after CAST")
      local x = parse_expr(P)
      expect_kw(P, "AS", " in CAST")
      local to = parse_type(P)
      expect_op(P, ")", " (unclosed CAST at position " .. t.pos .. ")")
      return node(P, {op = "cast", to = to, args = {x}})
    elseif (w == "DATE" or w == "TIMESTAMP") and peek(P, 1).k == "str" then
      advance(P)
      local st = advance(P)
      if w == "DATE" then
        local v = parse_date(st.v)
        if not v then fail(P, "invalid DATE literal (expected a valid 'yyyy-mm-dd')", st) end
        return {op = "lit", type = "date", value = v}
      end
      local v = parse_timestamp(st.v)
      if not v then
        fail(P, "invalid TIMESTAMP literal (expected a valid 'yyyy-mm-dd hh:mm:ss[.ffffff]')", st)
      end
      return {op = "lit", type = "timestamp", value = v}
    elseif not RESERVED[w] then
      return parse_name(P, t)
    end
  elseif is_op(t, "(") then
    advance(P)
    local e = parse_expr(P)
    expect_op(P, ")", " (unclosed '(' at position " .. t.pos .. ")")
    return e
  elseif is_op(t, "*") then
    fail(P, "'*' is only allowed alone in a select list or as count(*)", t)
  end
  fail(P, "expected an expression", t)
end

local function parse_unary(P)
  local t = peek(P)
  if is_op(t, "-") then
    local n = peek(P, 1)
    advance(P)
    if n.k == "num" then -- fold a negative numeric literal
      advance(P)
      return number_lit(P, n, true)
    end
    enter(P)
    local a = parse_unary(P)
    leave(P)
    return call(P, "neg", a)
  elseif is_op(t, "+") then
    advance(P)
    enter(P)
    local a = parse_unary(P)
    leave(P)
    return a
  end
  return parse_primary(P)
end

local MULOP = {["*"] = "mul", ["/"] = "div", ["%"] = "mod"}
local function parse_mul(P)
  local e = parse_unary(P)
  while peek(P).k == "op" and MULOP[peek(P).v] do
    local op = MULOP[advance(P).v]
    e = call(P, op, e, parse_unary(P))
  end
  return e
end

local ADDOP = {["+"] = "add", ["-"] = "sub"}
local function parse_add(P)
  local e = parse_mul(P)
  while peek(P).k == "op" and ADDOP[peek(P).v] do
    local op = ADDOP[advance(P).v]
    e = call(P, op, e, parse_mul(P))
  end
  return e
end

local function parse_concat(P)
  local e = parse_add(P)
  while accept_op(P, "||") do e = call(P, "concat", e, parse_add(P)) end
  return e
end

local function parse_in(P, x)
  local open = peek(P)
  expect_op(P, "(", " after IN")
  if is_op(peek(P), ")") then fail(P, "empty IN list", peek(P)) end
  local args = {x}
  repeat
    args[#args + 1] = parse_expr(P)
  until not accept_op(P, ",")
  expect_op(P, ")", " (unclosed IN list at position " .. open.pos .. ")")
  return node(P, {op = "in", args = args})
end

local function parse_cmp(P)
  local e = parse_concat(P)
  while true do
    local t = peek(P)
    if t.k == "op" and CMP[t.v] then
      advance(P)
      e = call(P, CMP[t.v], e, parse_concat(P))
    elseif is_kw(t, "IS") then
      advance(P)
      local neg = accept_kw(P, "NOT")
      expect_kw(P, "NULL", neg and " after IS NOT" or " after IS")
      e = call(P, neg and "is_not_null" or "is_null", e)
    else
      local neg = false
      if is_kw(t, "NOT") then
        local t2 = peek(P, 1)
        if not (is_kw(t2, "IN") or is_kw(t2, "BETWEEN") or is_kw(t2, "LIKE")) then break end
        advance(P)
        neg, t = true, t2
      end
      if is_kw(t, "IN") then
        advance(P)
        e = parse_in(P, e)
      elseif is_kw(t, "BETWEEN") then
        advance(P)
        local lo = parse_concat(P)
        expect_kw(P, "AND", " in BETWEEN")
        local hi = parse_concat(P)
        e = call(P, "and", call(P, "ge", e, lo), call(P, "le", copy(P, e), hi))
      elseif is_kw(t, "LIKE") then
        advance(P)
        e = call(P, "like", e, parse_concat(P))
      else
        break
      end
      if neg then e = call(P, "not", e) end
    end
  end
  return e
end

local function parse_not(P)
  if accept_kw(P, "NOT") then
    enter(P)
    local a = parse_not(P)
    leave(P)
    return call(P, "not", a)
  end
  return parse_cmp(P)
end

local function parse_and(P)
  local e = parse_not(P)
  while accept_kw(P, "AND") do e = call(P, "and", e, parse_not(P)) end
  return e
end

local function parse_or(P)
  local e = parse_and(P)
  while accept_kw(P, "OR") do e = call(P, "or", e, parse_and(P)) end
  return e
end

function parse_expr(P)
  enter(P)
  local e = parse_or(P)
  leave(P)
  return e
end

local function ends_item(t) return t.k == "eof" or is_op(t, ",") end

-- one select-list item: `*`, `t.*`, or an expression with an optional alias
local function parse_item(P)
  local t = peek(P)
  if is_op(t, "*") and ends_item(peek(P, 1)) then
    advance(P)
    return {op = "star"}
  end
  if (t.k == "id" or (t.k == "kw" and not RESERVED[t.v])) and is_op(peek(P, 1), ".")
     and is_op(peek(P, 2), "*") and ends_item(peek(P, 3)) then
    advance(P); advance(P); advance(P)
    return {op = "star", qualifier = t.name}
  end
  local e = parse_expr(P)
  local a = peek(P)
  if is_kw(a, "AS") then
    advance(P)
    local n = peek(P)
    if not (n.k == "id" or (n.k == "kw" and not RESERVED[n.v])) then
      fail(P, "expected a name after AS", n)
    end
    advance(P)
    return node(P, {op = "alias", name = n.name, args = {e}})
  elseif a.k == "id" then
    advance(P)
    return node(P, {op = "alias", name = a.name, args = {e}})
  end
  return e
end

local function new_parser(s, fname)
  if type(s) ~= "string" then
    error("sqlexpr." .. fname .. ": expected a string, got " .. type(s), 3)
  end
  local P = {src = s, i = 1, depth = 0, height = {}}
  P.toks = lex(P)
  return P
end

local function expect_end(P, what)
  local t = peek(P)
  if t.k ~= "eof" then fail(P, "unexpected input after " .. what, t) end
end

-- parse(s) -> AST of one expression, with an optional alias (`e AS n`, `e n`)
function M.parse(s)
  local P = new_parser(s, "parse")
  local e = parse_item(P)
  expect_end(P, "the expression")
  return e
end

-- parse_list(s) -> array of ASTs for "a, b + 1 as c, count(*)"
function M.parse_list(s)
  local P = new_parser(s, "parse_list")
  local out = {}
  repeat
    out[#out + 1] = parse_item(P)
  until not accept_op(P, ",")
  expect_end(P, "the expression list")
  return out
end

-- parse_order(s) -> array of {expr, asc, nulls_first} for "a desc, b asc nulls last"
function M.parse_order(s)
  local P = new_parser(s, "parse_order")
  local out = {}
  repeat
    local e = parse_expr(P)
    local asc = true
    if accept_kw(P, "DESC") then
      asc = false
    else
      accept_kw(P, "ASC")
    end
    local nulls_first = asc
    if accept_kw(P, "NULLS") then
      if accept_kw(P, "FIRST") then
        nulls_first = true
      elseif accept_kw(P, "LAST") then
        nulls_first = false
      else
        fail(P, "expected FIRST or LAST after NULLS", peek(P))
      end
    end
    out[#out + 1] = {expr = e, asc = asc, nulls_first = nulls_first}
  until not accept_op(P, ",")
  expect_end(P, "the sort order")
  return out
end

-- ======================================================================
-- Rendering
-- ======================================================================

local INFIX = {add = "+", sub = "-", mul = "*", div = "/", mod = "%", eq = "=", ne = "<>",
               lt = "<", le = "<=", gt = ">", ge = ">=", eqns = "<=>", ["and"] = "AND",
               ["or"] = "OR", concat = "||", like = "LIKE"}

local function ident(name)
  name = tostring(name)
  if name:find("^[A-Za-z_][A-Za-z0-9_]*$") and not KEYWORDS[name:upper()] then return name end
  return "`" .. name:gsub("`", "``") .. "`"
end

local function func_name(op)
  if op:find("^[A-Za-z_][A-Za-z0-9_]*$") and not RESERVED[op:upper()] then return op end
  return "`" .. op:gsub("`", "``") .. "`"
end

local STR_ESC = {["\\"] = "\\\\", ["'"] = "\\'", ["\n"] = "\\n", ["\r"] = "\\r",
                 ["\t"] = "\\t", ["\0"] = "\\0"}

local function render_double(v)
  if v ~= v then return "CAST('NaN' AS DOUBLE)" end
  if v == math.huge then return "CAST('Infinity' AS DOUBLE)" end
  if v == -math.huge then return "CAST('-Infinity' AS DOUBLE)" end
  local s
  for prec = 15, 17 do
    s = string.format("%." .. prec .. "g", v)
    if tonumber(s) == v then break end
  end
  if not s:find("[.eE]") then s = s .. ".0" end
  return s
end

local render_date = dates.format_date

local INTEGRAL = {int = true, bigint = true, date = true, timestamp = true}

local function render_lit(e)
  local ty, v = e.type, e.value
  if ty == "null" then return "NULL" end
  if (INTEGRAL[ty] and math.type(v) ~= "integer") or (ty == "double" and type(v) ~= "number") then
    return "<" .. tostring(ty) .. " literal " .. tostring(v) .. ">" -- not a parser AST
  end
  if ty == "boolean" then return v and "TRUE" or "FALSE" end
  if ty == "int" then return string.format("%d", v) end
  if ty == "bigint" then return string.format("%dL", v) end
  if ty == "double" then return render_double(v) end
  if ty == "string" then return "'" .. tostring(v):gsub("[\\'\n\r\t%z]", STR_ESC) .. "'" end
  if ty == "date" then return "DATE '" .. render_date(v) .. "'" end
  if ty == "timestamp" then
    local days, us = v // US_PER_DAY, v % US_PER_DAY
    local secs, frac = us // 1000000, us % 1000000
    local s = string.format("%s %02d:%02d:%02d", render_date(days), secs // 3600,
                            secs // 60 % 60, secs % 60)
    if frac ~= 0 then s = s .. (string.format(".%06d", frac):gsub("0+$", "")) end
    return "TIMESTAMP '" .. s .. "'"
  end
  return "<" .. tostring(ty) .. " literal " .. tostring(v) .. ">"
end

local to_sql

local function list(args, from)
  local parts = {}
  for i = from or 1, #args do parts[#parts + 1] = to_sql(args[i]) end
  return table.concat(parts, ", ")
end

function to_sql(e)
  if type(e) ~= "table" then return "<" .. type(e) .. ">" end
  local op, a = e.op, e.args
  if type(a) ~= "table" then a = {} end
  if op == "col" then
    return (e.qualifier and ident(e.qualifier) .. "." or "") .. ident(e.name)
  elseif op == "star" then
    return e.qualifier and ident(e.qualifier) .. ".*" or "*"
  elseif op == "lit" then
    return render_lit(e)
  elseif op == "alias" then
    return to_sql(a[1]) .. " AS " .. ident(e.name)
  elseif op == "cast" then
    return "CAST(" .. to_sql(a[1]) .. " AS " .. tostring(e.to):upper() .. ")"
  elseif op == "case" then
    local parts = {"CASE"}
    for i = 1, #a - 1, 2 do
      parts[#parts + 1] = "WHEN " .. to_sql(a[i]) .. " THEN " .. to_sql(a[i + 1])
    end
    if #a % 2 == 1 then parts[#parts + 1] = "ELSE " .. to_sql(a[#a]) end
    parts[#parts + 1] = "END"
    return table.concat(parts, " ")
  elseif op == "count_distinct" and #a > 0 then
    return "count(DISTINCT " .. list(a) .. ")"
  elseif op == "in" and #a >= 2 then
    return "(" .. to_sql(a[1]) .. " IN (" .. list(a, 2) .. "))"
  elseif (op == "is_null" or op == "is_not_null") and #a == 1 then
    return "(" .. to_sql(a[1]) .. (op == "is_null" and " IS NULL)" or " IS NOT NULL)")
  elseif op == "not" and #a == 1 then
    return "(NOT " .. to_sql(a[1]) .. ")"
  elseif op == "neg" and #a == 1 then
    return "(- " .. to_sql(a[1]) .. ")"
  elseif INFIX[op] and #a == 2 then
    return "(" .. to_sql(a[1]) .. " " .. INFIX[op] .. " " .. to_sql(a[2]) .. ")"
  end
  return func_name(tostring(op)) .. "(" .. list(a) .. ")"
end

-- to_sql(ast) -> SQL text; parse(to_sql(ast)) gives ast back for any parser output
M.to_sql = to_sql

return M
