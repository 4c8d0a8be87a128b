-- df/expr.lua -- module `ember.df.expr`: typed expressions of the
-- DataFrame layer (driver side).
--
-- A DataFrame's columns are attributes {id, name, type[, qual]}; this
-- module owns their ids (new_attr), so two columns of the same name from
-- different inputs stay apart.  Binding turns an unresolved AST (what
-- ember.sqlexpr and df/column.lua build: {op = "col", name = ...},
-- {op = "lit", ...}, {op = name, args = {...}}) into a typed expression
-- over the attributes of a plan's output:
--   {op = "attr", attr = a, type = T}
--   {op = "lit", type = T, value = v}
--   {op = fn, type = T, args = {...}} (fn as in the C evaluator), casts as
--   {op = "cast", type = T, args = {x}}; aggregates {op = "agg", fn = f,
--   type = T, args = {x}} only inside group_by():agg.
-- Each kind of AST node binds through its own function (FORM for names,
-- literals, aliases and aggregates; CALL for functions and operators, with
-- their arguments bound first), and prints (explain text, Spark's column
-- names) through its own entry of TEXT.  Pure functions but new_attr.
local dates = require("ember.dates")
local numfmt = require("ember.numfmt")

local fmt, concat = string.format, table.concat

local M = {}

------------------------------------------------------------------- types

local NUMERIC = {int = 1, bigint = 2, double = 3}
M.NUMERIC = NUMERIC
M.SPARK_TYPE = {boolean = "boolean", int = "integer", bigint = "long",
                double = "double", string = "string", date = "date",
                timestamp = "timestamp", null = "void"}
local SIMPLE_TYPE = {boolean = "boolean", int = "int", bigint = "bigint",
                     double = "double", string = "string", date = "date",
                     timestamp = "timestamp", null = "void"}
M.SIMPLE_TYPE = SIMPLE_TYPE

-- type names users write (Spark's and SQL's) -> ember's; casts and DDL
-- schemas share it
local TYPE_NAMES = {boolean = "boolean", bool = "boolean", int = "int",
                    integer = "int", bigint = "bigint", long = "bigint",
                    double = "double", float = "double", real = "double",
                    string = "string", varchar = "string", text = "string",
                    date = "date", timestamp = "timestamp"}
function M.type_of_name(t) return TYPE_NAMES[tostring(t):lower()] end

-- the common type of a and b, or nil
local function widen(a, b)
  if a == b then return a end
  if a == "null" then return b end
  if b == "null" then return a end
  if NUMERIC[a] and NUMERIC[b] then
    return NUMERIC[a] > NUMERIC[b] and a or b
  end
  if (a == "date" or a == "timestamp") and b == "string" then return a end
  if (b == "date" or b == "timestamp") and a == "string" then return b end
  if (a == "date" and b == "timestamp") or (a == "timestamp" and b == "date") then
    return "timestamp"
  end
  if a == "string" and NUMERIC[b] then return "double" end
  if b == "string" and NUMERIC[a] then return "double" end
  return nil
end
M.widen = widen

-------------------------------------------------------------- attributes

local next_attr = 0
function M.new_attr(name, typ, qual)
  next_attr = next_attr + 1
  return {id = next_attr, name = name, type = typ, qual = qual}
end

-- a reference to attribute a
local function ref(a) return {op = "attr", attr = a, type = a.type} end
M.ref = ref

local function names_of(out)
  local t = {}
  for i, a in ipairs(out) do t[i] = a.name end
  return t
end
M.names_of = names_of

-- attribute id -> 1-based position in out
function M.positions(out)
  local pos = {}
  for i, a in ipairs(out) do pos[a.id] = i end
  return pos
end

-- true when every id of the set is an attribute of out
function M.subset(set, out)
  local ids = {}
  for _, a in ipairs(out) do ids[a.id] = true end
  for id in pairs(set) do if not ids[id] then return false end end
  return true
end

----------------------------------------------------------------- binding

local AGG = {sum = true, count = true, avg = true, min = true, max = true,
             first = true, count_distinct = true}

local function resolve(out, name, qual)
  local hit
  local lname = name:lower()
  for _, a in ipairs(out) do
    if a.name:lower() == lname and (qual == nil or (a.qual and a.qual:lower() == qual:lower())) then
      if hit and hit.id ~= a.id then
        error(fmt("reference '%s' is ambiguous, could be: %s, %s", name,
                  (hit.qual and hit.qual .. "." or "") .. hit.name,
                  (a.qual and a.qual .. "." or "") .. a.name), 0)
      end
      hit = a
    end
  end
  if not hit then
    error(fmt("cannot resolve column '%s' given input columns: [%s]",
              (qual and qual .. "." or "") .. name, concat(names_of(out), ", ")), 0)
  end
  return hit
end

local function cast_to(e, t)
  if e.type == t then return e end
  if e.op == "lit" and e.value == nil then
    return {op = "lit", type = t}
  end
  return {op = "cast", type = t, args = {e}, implicit = true}
end
M.cast_to = cast_to

local function common(args, from, what)
  local t = "null"
  for i = from, #args do
    local w = widen(t, args[i].type)
    if not w then
      error(fmt("%s: incompatible types %s and %s", what, t, args[i].type), 0)
    end
    t = w
  end
  return t
end

local bind

-- Forms bound as a whole: FORM[op](ast, out, ctx) -> typed expression
local FORM = {}

function FORM.col(ast, out)
  return ref(resolve(out, ast.name, ast.qualifier))
end

function FORM.lit(ast)
  return {op = "lit", type = ast.type, value = ast.value}
end

function FORM.alias(ast, out, ctx)
  local e = bind(ast.args[1], out, ctx)
  return {op = "alias", name = ast.name, type = e.type, args = {e}}
end

function FORM.star()
  error("'*' is only allowed in count(*) and select('*')", 0)
end

local function bind_agg(ast, out, ctx)
  local op = ast.op
  if not (ctx and ctx.agg) then
    error(fmt("aggregate function %s() is only allowed in group_by():agg or agg",
              op), 0)
  end
  if ctx.in_agg then error("nested aggregate functions are not allowed", 0) end
  local arg
  if ast.args[1] and ast.args[1].op == "star" then
    if op ~= "count" then error(op .. "(*) is not allowed", 0) end
    arg = nil
  else
    ctx.in_agg = true
    arg = bind(ast.args[1] or error(op .. "() needs an argument", 0), out, ctx)
    ctx.in_agg = false
  end
  local t
  if op == "count" or op == "count_distinct" then t = "bigint"
  elseif op == "avg" then
    t = "double"
    arg = cast_to(arg, "double")
  elseif op == "sum" then
    if arg.type == "double" or arg.type == "string" then
      t = "double"; arg = cast_to(arg, "double")
    elseif arg.type == "int" or arg.type == "bigint" then t = "bigint"
    elseif arg.type == "null" then t = "double"; arg = cast_to(arg, "double")
    else error("sum() of a " .. arg.type .. " column", 0) end
  else t = arg.type end
  return {op = "agg", fn = (op == "count" and not arg) and "count_star" or op,
          type = t, args = {arg}}
end
for op in pairs(AGG) do FORM[op] = bind_agg end

-- Functions and operators: CALL[op](op, args, ast) -> typed expression,
-- args already bound; casts make the arguments the types the C evaluator
-- expects (docs/dataframe-internals.md)
local CALL = {}

local function need(op, args, k)
  local n = #args
  if n ~= k then error(fmt("%s() takes %d argument%s, got %d", op, k, k == 1 and "" or "s", n), 0) end
end

local function arith(op, args)
  need(op, args, 2)
  if op == "add" or op == "sub" then
    if args[1].type == "date" and NUMERIC[args[2].type] ~= nil and args[2].type ~= "double" then
      return {op = op == "add" and "date_add" or "date_sub", type = "date",
              args = {args[1], cast_to(args[2], "int")}}
    end
  end
  local t = widen(args[1].type, args[2].type)
  if t == "string" or t == "null" then t = "double" end
  if not t or not NUMERIC[t] then
    error(fmt("cannot apply %s to %s and %s", op, args[1].type, args[2].type), 0)
  end
  return {op = op, type = t, args = {cast_to(args[1], t), cast_to(args[2], t)}}
end
CALL.add, CALL.sub, CALL.mul, CALL.mod = arith, arith, arith, arith

function CALL.div(op, args)
  need(op, args, 2)
  for i = 1, 2 do
    if not (NUMERIC[args[i].type] or args[i].type == "null" or args[i].type == "string") then
      error("cannot divide a " .. args[i].type, 0)
    end
  end
  return {op = "div", type = "double",
          args = {cast_to(args[1], "double"), cast_to(args[2], "double")}}
end

local function sign_op(op, args)
  need(op, args, 1)
  local t = args[1].type
  if t == "string" or t == "null" then t = "double" end
  if not NUMERIC[t] then error(op .. " of a " .. args[1].type, 0) end
  return {op = op, type = t, args = {cast_to(args[1], t)}}
end
CALL.neg, CALL.abs = sign_op, sign_op

local function compare(op, args)
  need(op, args, 2)
  local t = widen(args[1].type, args[2].type)
  if not t then
    error(fmt("cannot compare %s with %s", args[1].type, args[2].type), 0)
  end
  if t == "null" then t = "boolean" end
  return {op = op, type = "boolean", args = {cast_to(args[1], t), cast_to(args[2], t)}}
end
for _, op in ipairs({"eq", "ne", "lt", "le", "gt", "ge", "eqns"}) do CALL[op] = compare end

local function logic(op, args)
  need(op, args, 2)
  for i = 1, 2 do
    if args[i].type ~= "boolean" and args[i].type ~= "null" then
      error(fmt("%s expects booleans, got %s", op:upper(), args[i].type), 0)
    end
  end
  return {op = op, type = "boolean",
          args = {cast_to(args[1], "boolean"), cast_to(args[2], "boolean")}}
end
CALL["and"], CALL["or"] = logic, logic

CALL["not"] = function(op, args)
  need(op, args, 1)
  return {op = "not", type = "boolean", args = {cast_to(args[1], "boolean")}}
end

local function nullness(op, args)
  need(op, args, 1)
  return {op = op, type = "boolean", args = args}
end
CALL.is_null, CALL.is_not_null = nullness, nullness

CALL["in"] = function(op, args)
  local t = common(args, 1, "IN")
  if t == "null" then t = "boolean" end
  for i = 2, #args do
    if args[i].op ~= "lit" then error("IN list items must be literals", 0) end
  end
  local cargs = {}
  for i = 1, #args do cargs[i] = cast_to(args[i], t) end
  return {op = "in", type = "boolean", args = cargs}
end

function CALL.like(op, args)
  need(op, args, 2)
  if args[2].op ~= "lit" or args[2].type ~= "string" then
    error("LIKE pattern must be a string literal", 0)
  end
  return {op = "like", type = "boolean", args = {cast_to(args[1], "string"), args[2]}}
end

function CALL.cast(op, args, ast)
  need(op, args, 1)
  return cast_to(args[1], ast.to) == args[1] and
         {op = "cast", type = ast.to, args = args} or cast_to(args[1], ast.to)
end

function CALL.case(op, args)
  local n = #args
  local vals = {}
  for i = 2, n, 2 do vals[#vals + 1] = args[i] end
  if n % 2 == 1 then vals[#vals + 1] = args[n] end
  local t = common(vals, 1, "CASE")
  if t == "null" then t = "string" end
  local cargs = {}
  for i = 1, n do
    if i % 2 == 1 and i < n then cargs[i] = cast_to(args[i], "boolean")
    else cargs[i] = cast_to(args[i], t) end
  end
  if n % 2 == 1 then cargs[n] = cast_to(args[n], t) end
  return {op = "case", type = t, args = cargs}
end

function CALL.coalesce(op, args)
  local t = common(args, 1, "coalesce")
  local cargs = {}
  for i = 1, #args do cargs[i] = cast_to(args[i], t) end
  return {op = "coalesce", type = t, args = cargs}
end

local function strfn(op, args)
  need(op, args, 1)
  return {op = op, type = "string", args = {cast_to(args[1], "string")}}
end
for _, op in ipairs({"lower", "upper", "trim", "ltrim", "rtrim"}) do CALL[op] = strfn end

function CALL.length(op, args)
  need(op, args, 1)
  return {op = op, type = "int", args = {cast_to(args[1], "string")}}
end

local function substring(op, args)
  if #args == 2 then args[3] = {op = "lit", type = "int", value = 2147483647} end
  need(op, args, 3)
  return {op = "substring", type = "string",
          args = {cast_to(args[1], "string"), cast_to(args[2], "int"),
                  cast_to(args[3], "int")}}
end
CALL.substring, CALL.substr = substring, substring

function CALL.concat(op, args)
  local cargs = {}
  for i = 1, #args do cargs[i] = cast_to(args[i], "string") end
  return {op = "concat", type = "string", args = cargs}
end

local function date_part(op, args)
  need(op, args, 1)
  local a = args[1]
  if a.type ~= "timestamp" then a = cast_to(a, "date") end
  return {op = op == "dayofmonth" and "day" or op, type = "int", args = {a}}
end
for _, op in ipairs({"year", "month", "day", "dayofmonth"}) do CALL[op] = date_part end

function CALL.to_date(op, args)
  need(op, args, 1)
  if args[1].type == "timestamp" then return cast_to(args[1], "date") end
  return {op = "to_date", type = "date", args = {cast_to(args[1], "string")}}
end

local function date_shift(op, args)
  need(op, args, 2)
  return {op = op, type = "date",
          args = {cast_to(args[1], "date"), cast_to(args[2], "int")}}
end
CALL.date_add, CALL.date_sub = date_shift, date_shift

function CALL.split(op, args)
  need(op, args, 2)
  if args[2].op ~= "lit" or args[2].type ~= "string" then
    error("split pattern must be a string literal", 0)
  end
  return {op = "split", type = "array<string>",
          args = {cast_to(args[1], "string"), args[2]}}
end

function CALL.explode(op, args)
  need(op, args, 1)
  if args[1].op ~= "split" then
    error("explode() supports split(...) arrays only", 0)
  end
  return {op = "explode", type = "string", args = args}
end

M.FORM, M.CALL = FORM, CALL

-- bind(ast, out[, ctx]) -> typed expression over the attributes out;
-- ctx = {agg = true} inside an aggregation.  Errors name the column or
-- function (error level 0: callers add the user's line).
function bind(ast, out, ctx)
  local op = ast.op
  local form = FORM[op]
  if form then return form(ast, out, ctx) end
  local args = {}
  for i, a in ipairs(ast.args or {}) do args[i] = bind(a, out, ctx) end
  local call = CALL[op]
  if call then return call(op, args, ast) end
  error(fmt("unknown function %s()", op), 0)
end
M.bind = bind

---------------------------------------------------------------- printing
-- explain text and column names, in Spark's style

local function lit_sql(e)
  if e.value == nil then return "null" end
  if e.type == "string" then return e.value end
  if e.type == "date" then return dates.format_date(e.value) end
  if e.type == "double" then return numfmt.java_double(e.value) end
  if e.type == "bigint" then return tostring(e.value) .. "L" end
  return tostring(e.value)
end

local INFIX = {add = "+", sub = "-", mul = "*", div = "/", mod = "%",
               eq = "=", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">=",
               eqns = "<=>", ["and"] = "AND", ["or"] = "OR"}

local expr_str

-- TEXT[op](e, ids) -> text; ids: with attribute ids (name#12)
local TEXT = {}

function TEXT.attr(e, ids)
  return ids and (e.attr.name .. "#" .. e.attr.id) or e.attr.name
end

TEXT.lit = lit_sql

function TEXT.alias(e, ids)
  return expr_str(e.args[1], ids) .. " AS " .. e.name .. (ids and ("#" .. (e.id or "?")) or "")
end

for op, sym in pairs(INFIX) do
  TEXT[op] = function(e, ids)
    return "(" .. expr_str(e.args[1], ids) .. " " .. sym .. " " ..
           expr_str(e.args[2], ids) .. ")"
  end
end

TEXT["not"] = function(e, ids) return "NOT " .. expr_str(e.args[1], ids) end
function TEXT.neg(e, ids) return "-" .. expr_str(e.args[1], ids) end
function TEXT.is_null(e, ids) return "isnull(" .. expr_str(e.args[1], ids) .. ")" end
function TEXT.is_not_null(e, ids) return "isnotnull(" .. expr_str(e.args[1], ids) .. ")" end

function TEXT.cast(e, ids)
  if e.implicit and not ids then return expr_str(e.args[1], ids) end
  return "cast(" .. expr_str(e.args[1], ids) .. " as " .. SIMPLE_TYPE[e.type] .. ")"
end

function TEXT.agg(e, ids)
  if e.fn == "count_star" then return "count(1)" end
  if e.fn == "count_distinct" then
    return "count(DISTINCT " .. expr_str(e.args[1], ids) .. ")"
  end
  return e.fn .. "(" .. expr_str(e.args[1], ids) .. ")"
end

TEXT["in"] = function(e, ids)
  local t = {}
  for i = 2, #e.args do t[#t + 1] = expr_str(e.args[i], ids) end
  return expr_str(e.args[1], ids) .. " IN (" .. concat(t, ",") .. ")"
end

function TEXT.like(e, ids)
  return expr_str(e.args[1], ids) .. " LIKE " .. expr_str(e.args[2], ids)
end

function TEXT.case(e, ids)
  local t, n = {"CASE"}, #e.args
  for i = 1, n - 1, 2 do
    t[#t + 1] = "WHEN " .. expr_str(e.args[i], ids) .. " THEN " .. expr_str(e.args[i + 1], ids)
  end
  if n % 2 == 1 then t[#t + 1] = "ELSE " .. expr_str(e.args[n], ids) end
  t[#t + 1] = "END"
  return concat(t, " ")
end

-- any other call: name(arg, arg)
local function call_text(e, ids)
  local t = {}
  for i, a in ipairs(e.args or {}) do t[i] = expr_str(a, ids) end
  return e.op .. "(" .. concat(t, ", ") .. ")"
end

M.TEXT = TEXT

function expr_str(e, ids)
  return (TEXT[e.op] or call_text)(e, ids)
end
M.expr_str = expr_str

-- "name#id,name#id" of a list of attributes
function M.attrs_str(out)
  local t = {}
  for i, a in ipairs(out) do t[i] = a.name .. "#" .. a.id end
  return concat(t, ",")
end

-- the output name Spark would give an expression
function M.expr_name(e)
  if e.op == "alias" then return e.name end
  if e.op == "attr" then return e.attr.name end
  return expr_str(e, false)
end

------------------------------------------------------------ inspection

-- attribute ids an expression reads (added to set)
local function refs(e, set)
  set = set or {}
  if e.op == "attr" then set[e.attr.id] = true end
  for _, a in ipairs(e.args or {}) do refs(a, set) end
  return set
end
M.refs = refs

local function has_agg(e)
  if e.op == "agg" then return true end
  for _, a in ipairs(e.args or {}) do if has_agg(a) then return true end end
  return false
end
M.has_agg = has_agg

-- the conjuncts of an AND tree, appended to out
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
M.conjuncts = conjuncts

-- the AND of a non-empty list of boolean expressions
function M.and_all(list)
  local c = list[1]
  for i = 2, #list do c = {op = "and", type = "boolean", args = {c, list[i]}} end
  return c
end

return M
