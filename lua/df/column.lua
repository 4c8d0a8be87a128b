-- df/column.lua -- module `ember.df.column`: Column expressions and the
-- functions scripts build them with (ember.col, ember.lit, ember.sum, ...).
--
-- A Column wraps an unresolved expression AST, the same shape the SQL
-- parser (ember.sqlexpr) produces: {op = "col", name = ...}, {op = "lit",
-- ...}, {op = name, args = {...}}.  Nothing is resolved here: a DataFrame
-- transformation binds the AST against its input (df/expr.lua).  Lua's
-- comparison operators cannot build predicates, so they are methods
-- (col("a"):gt(5)); + - * / % .. and unary - are overloaded.
-- M.functions is what ember.lua copies into the `ember` table.
local sql = require("ember.sqlexpr")
local null = require("ember.null")
local expr = require("ember.df.expr")

local mtype = math.type

local M = {}

local Column = {}
Column.__index = Column
Column.__name = "ember.Column"
M.Column = Column

local function wrap(ast) return setmetatable({ast = ast}, Column) end
local function is_col(x) return getmetatable(x) == Column end
M.is_col = is_col

local function lit_ast(v)
  if v == nil or v == null then return {op = "lit", type = "null"} end
  local t = type(v)
  if t == "boolean" then return {op = "lit", type = "boolean", value = v} end
  if t == "number" then
    if mtype(v) == "integer" then
      if v >= -2147483648 and v <= 2147483647 then
        return {op = "lit", type = "int", value = v}
      end
      return {op = "lit", type = "bigint", value = v}
    end
    return {op = "lit", type = "double", value = v}
  end
  if t == "string" then return {op = "lit", type = "string", value = v} end
  error("cannot make a literal of a " .. t, 3)
end

-- anything that stands for an expression: a Column, a SQL string, a value
local function to_ast(x, as_name)
  if is_col(x) then return x.ast end
  if type(x) == "string" then
    if as_name then return {op = "col", name = x} end
    local ok, r = pcall(sql.parse, x)
    if not ok then error(r, 0) end
    return r
  end
  return lit_ast(x)
end
M.to_ast = to_ast

-- column-or-name arguments of functions: a string names a column
local function arg_ast(x)
  if type(x) == "string" then
    if x == "*" then return {op = "star"} end
    return {op = "col", name = x}
  end
  return to_ast(x)
end
M.arg_ast = arg_ast

local function call(op, ...)
  local args = {}
  for i = 1, select("#", ...) do args[i] = to_ast((select(i, ...))) end
  return wrap({op = op, args = args})
end

-- an operand of a Column operator or method: a Column, or a value taken as
-- a literal (a string too, as in Spark: col("k"):eq("x") compares with 'x')
local function val_ast(x)
  if is_col(x) then return x.ast end
  return lit_ast(x)
end

------------------------------------------------------------ the methods

local function binop(op)
  return function(a, b) return wrap({op = op, args = {val_ast(a), val_ast(b)}}) end
end
Column.__add = binop("add")
Column.__sub = binop("sub")
Column.__mul = binop("mul")
Column.__div = binop("div")
Column.__mod = binop("mod")
Column.__concat = binop("concat")
Column.__unm = function(a) return wrap({op = "neg", args = {a.ast}}) end
Column.__tostring = function(c) return "Column<'" .. sql.to_sql(c.ast) .. "'>" end

for _, op in ipairs({"eq", "ne", "lt", "le", "gt", "ge", "eqns"}) do
  Column[op] = function(self, other)
    return wrap({op = op, args = {self.ast, val_ast(other)}})
  end
end
function Column:and_(o) return wrap({op = "and", args = {self.ast, to_ast(o)}}) end
function Column:or_(o) return wrap({op = "or", args = {self.ast, to_ast(o)}}) end
function Column:not_() return wrap({op = "not", args = {self.ast}}) end
function Column:is_null() return wrap({op = "is_null", args = {self.ast}}) end
function Column:is_not_null() return wrap({op = "is_not_null", args = {self.ast}}) end
function Column:isin(...)
  local vals = {...}
  if #vals == 1 and type(vals[1]) == "table" and not is_col(vals[1]) then
    vals = vals[1]
  end
  local args = {self.ast}
  for i = 1, #vals do args[#args + 1] = val_ast(vals[i]) end
  return wrap({op = "in", args = args})
end
function Column:between(lo, hi)
  return wrap({op = "and", args = {{op = "ge", args = {self.ast, val_ast(lo)}},
                                   {op = "le", args = {self.ast, val_ast(hi)}}}})
end
function Column:like(p)
  return wrap({op = "like", args = {self.ast, lit_ast(p)}})
end
function Column:alias(name)
  if type(name) ~= "string" then error("alias expects a name", 2) end
  return wrap({op = "alias", name = name, args = {self.ast}})
end
Column.as = Column.alias
Column.name = Column.alias

function Column:cast(t)
  local to = expr.type_of_name(t)
  if not to then error("cast: unknown type '" .. tostring(t) .. "'", 2) end
  return wrap({op = "cast", to = to, args = {self.ast}})
end
function Column:asc() return {sort = true, ast = self.ast, asc = true, nulls_first = true} end
function Column:desc() return {sort = true, ast = self.ast, asc = false, nulls_first = false} end
function Column:asc_nulls_last() return {sort = true, ast = self.ast, asc = true, nulls_first = false} end
function Column:desc_nulls_first() return {sort = true, ast = self.ast, asc = false, nulls_first = true} end
function Column:substr(pos, len) return call("substring", self, pos, len) end
function Column:when(cond, val) -- on a when() chain
  local a = self.ast
  if a.op ~= "case" or a.has_else then error("when() must follow ember.when", 2) end
  local args = {table.unpack(a.args)}
  args[#args + 1] = to_ast(cond)
  args[#args + 1] = val_ast(val)
  return wrap({op = "case", args = args})
end
function Column:otherwise(val)
  local a = self.ast
  if a.op ~= "case" or a.has_else then error("otherwise() must follow ember.when", 2) end
  local args = {table.unpack(a.args)}
  args[#args + 1] = val_ast(val)
  return wrap({op = "case", args = args, has_else = true})
end

------------------------------------------------------------ the functions

local F = {}
M.functions = F

function F.col(name)
  if type(name) ~= "string" then
    error("ember.col expects a column name, got " .. type(name), 2)
  end
  if name == "*" then return wrap({op = "star"}) end
  local q, n = name:match("^([%w_]+)%.([%w_]+)$")
  if q then return wrap({op = "col", name = n, qualifier = q}) end
  return wrap({op = "col", name = name})
end
F.column = F.col
function F.lit(v) return wrap(lit_ast(v)) end
function F.expr(s)
  if type(s) ~= "string" then error("ember.expr expects a string", 2) end
  return wrap(to_ast(s))
end

-- ember.when(cond, value): cond a Column or a SQL string, value a Column
-- or a literal
function F.when(cond, val)
  return wrap({op = "case", args = {to_ast(cond), val_ast(val)}})
end
function F.asc(c) return F.col(c):asc() end
function F.desc(c) return F.col(c):desc() end
function F.asc_nulls_last(c) return F.col(c):asc_nulls_last() end
function F.desc_nulls_first(c) return F.col(c):desc_nulls_first() end

local function fn1(op)
  return function(c) return wrap({op = op, args = {arg_ast(c)}}) end
end
for _, op in ipairs({"sum", "avg", "min", "max", "first", "count_distinct", "lower",
                     "upper", "length", "trim", "ltrim", "rtrim", "year",
                     "month", "day", "to_date", "abs", "explode"}) do
  F[op] = fn1(op)
end
F.mean = F.avg
F.dayofmonth = F.day
F.countDistinct = F.count_distinct
function F.count(c)
  if c == nil or c == "*" then return wrap({op = "count", args = {{op = "star"}}}) end
  return wrap({op = "count", args = {arg_ast(c)}})
end
function F.substring(c, pos, len)
  return wrap({op = "substring", args = {arg_ast(c), lit_ast(pos), lit_ast(len)}})
end
function F.split(c, pattern)
  return wrap({op = "split", args = {arg_ast(c), lit_ast(pattern)}})
end
function F.concat(...)
  local args = {}
  for i = 1, select("#", ...) do args[i] = arg_ast((select(i, ...))) end
  return wrap({op = "concat", args = args})
end
function F.coalesce(...)
  local args = {}
  for i = 1, select("#", ...) do args[i] = arg_ast((select(i, ...))) end
  return wrap({op = "coalesce", args = args})
end
function F.date_add(c, n)
  return wrap({op = "date_add", args = {arg_ast(c), to_ast(n)}})
end
function F.date_sub(c, n)
  return wrap({op = "date_sub", args = {arg_ast(c), to_ast(n)}})
end

return M
