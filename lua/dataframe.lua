-- dataframe.lua -- ember's DataFrame API (driver side).
--
-- A DataFrame is a logical plan.  Every transformation analyses its input
-- at once (a column that does not exist is an error at the line that names
-- it, as in Spark), giving each output column an attribute {id, name, type}.
-- An action optimizes the plan (rule-based: constant folding, filter
-- combining, predicate pushdown, projection pruning, limit pushdown, join
-- strategy), turns it into a physical plan of vectorized C operators from
-- the op_relational plugin, and compiles that into the same plan nodes the
-- RDD API uses: sources, narrow chains of operators, shuffles.  Partitions
-- travel as columnar batches; Lua only passes each batch (thousands of
-- rows) from one operator to the next.  See docs/dataframe-internals.md for
-- the operators and their S-expression parameters.
local core, ember, I, sql = ...

local SOURCE, NARROW, SHUFFLE, UNION = I.SOURCE, I.NARROW, I.SHUFFLE, I.UNION
local new_node, dataset, run = I.new_node, I.dataset, I.run
local Session = I.Session
local fmt, concat, insert = string.format, table.concat, table.insert
local mtype = math.type

local DataFrame = {}
DataFrame.__index = DataFrame
DataFrame.__name = "ember.DataFrame"
local Column = {}
Column.__index = Column
Column.__name = "ember.Column"
local GroupedData = {}
GroupedData.__index = GroupedData
GroupedData.__name = "ember.GroupedData"

local NUMERIC = {int = 1, bigint = 2, double = 3}
local SPARK_TYPE = {boolean = "boolean", int = "integer", bigint = "long",
                    double = "double", string = "string", date = "date",
                    timestamp = "timestamp", null = "void"}
local SIMPLE_TYPE = {boolean = "boolean", int = "int", bigint = "bigint",
                     double = "double", string = "string", date = "date",
                     timestamp = "timestamp", null = "void"}

----------------------------------------------------------------- helpers

local next_attr = 0
local function new_attr(name, typ, qual)
  next_attr = next_attr + 1
  return {id = next_attr, name = name, type = typ, qual = qual}
end

local function is_df(x) return getmetatable(x) == DataFrame end
local function is_col(x) return getmetatable(x) == Column end

local function names_of(out)
  local t = {}
  for i, a in ipairs(out) do t[i] = a.name end
  return t
end

-- days since 1970-01-01 <-> y, m, d: the SQL parser's (date literals)
local days_from_civil, civil_from_days = sql.days_from_civil, sql.civil_from_days
local function date_string(days)
  local y, m, d = civil_from_days(days)
  return fmt("%04d-%02d-%02d", y, m, d)
end
local function parse_date(s)
  local y, m, d = tostring(s):match("^%s*(%-?%d+)%-(%d%d?)%-(%d%d?)")
  if not y then return nil end
  return days_from_civil(tonumber(y), tonumber(m), tonumber(d))
end

-- Java's Double.toString, which Spark prints
local function java_double(x)
  if x ~= x then return "NaN" end
  if x == math.huge then return "Infinity" end
  if x == -math.huge then return "-Infinity" end
  if x == 0 then return (1 / x < 0) and "-0.0" or "0.0" end
  local ax = math.abs(x)
  local s
  for p = 1, 17 do
    s = fmt("%." .. p .. "g", x)
    if tonumber(s) == x then break end
  end
  if ax >= 1e-3 and ax < 1e7 then
    s = fmt("%.17f", x)
    -- shortest fixed representation that round-trips
    for p = 1, 17 do
      local t = fmt("%." .. p .. "f", x)
      if tonumber(t) == x then s = t; break end
    end
    s = s:gsub("(%..-)0+$", "%1"):gsub("%.$", ".0")
    return s
  end
  local mant, exp = s:match("^(-?[%d%.]+)e([-+]%d+)$")
  if not mant then
    s = fmt("%.16e", x)
    mant, exp = s:match("^(-?[%d%.]+)e([-+]%d+)$")
  end
  if not mant:find("%.") then mant = mant .. ".0" end
  mant = mant:gsub("(%.%d-)0+$", "%1"):gsub("%.$", ".0")
  return mant .. "E" .. tostring(tonumber(exp))
end

---------------------------------------------------------------- columns
-- A Column wraps an unresolved expression AST (the same shape the SQL
-- parser produces: {op = "col", name = ...}, {op = "lit", ...},
-- {op = name, args = {...}}).

local function wrap(ast) return setmetatable({ast = ast}, Column) end

local function lit_ast(v)
  if v == nil or v == ember.null then return {op = "lit", type = "null"} end
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
-- column-or-name arguments of functions: a string names a column
local function arg_ast(x)
  if type(x) == "string" then
    if x == "*" then return {op = "star"} end
    return {op = "col", name = x}
  end
  return to_ast(x)
end

local function call(op, ...)
  local args = {}
  for i = 1, select("#", ...) do args[i] = to_ast((select(i, ...))) end
  return wrap({op = op, args = args})
end

function ember.col(name)
  if type(name) ~= "string" then
    error("ember.col expects a column name, got " .. type(name), 2)
  end
  if name == "*" then return wrap({op = "star"}) end
  local q, n = name:match("^([%w_]+)%.([%w_]+)$")
  if q then return wrap({op = "col", name = n, qualifier = q}) end
  return wrap({op = "col", name = name})
end
ember.column = ember.col
function ember.lit(v) return wrap(lit_ast(v)) end
function ember.expr(s)
  if type(s) ~= "string" then error("ember.expr expects a string", 2) end
  return wrap(to_ast(s))
end

-- an operand of a Column operator or method: a Column, or a value taken as
-- a literal (a string too, as in Spark: col("k"):eq("x") compares with 'x')
local function val_ast(x)
  if is_col(x) then return x.ast end
  return lit_ast(x)
end

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
-- type names users write (Spark's and SQL's) -> ember's; casts and DDL
-- schemas share it
local TYPE_NAMES = {boolean = "boolean", bool = "boolean", int = "int",
                    integer = "int", bigint = "bigint", long = "bigint",
                    double = "double", float = "double", real = "double",
                    string = "string", varchar = "string", text = "string",
                    date = "date", timestamp = "timestamp"}
local function type_of_name(t) return TYPE_NAMES[tostring(t):lower()] end

function Column:cast(t)
  local to = type_of_name(t)
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

-- ember.when(cond, value): cond a Column or a SQL string, value a Column
-- or a literal
function ember.when(cond, val)
  return wrap({op = "case", args = {to_ast(cond), val_ast(val)}})
end
function ember.asc(c) return ember.col(c):asc() end
function ember.desc(c) return ember.col(c):desc() end
function ember.asc_nulls_last(c) return ember.col(c):asc_nulls_last() end
function ember.desc_nulls_first(c) return ember.col(c):desc_nulls_first() end

local function fn1(op)
  return function(c) return wrap({op = op, args = {arg_ast(c)}}) end
end
for _, op in ipairs({"sum", "avg", "min", "max", "first", "count_distinct", "lower",
                     "upper", "length", "trim", "ltrim", "rtrim", "year",
                     "month", "day", "to_date", "abs", "explode"}) do
  ember[op] = fn1(op)
end
ember.mean = ember.avg
ember.dayofmonth = ember.day
ember.countDistinct = ember.count_distinct
function ember.count(c)
  if c == nil or c == "*" then return wrap({op = "count", args = {{op = "star"}}}) end
  return wrap({op = "count", args = {arg_ast(c)}})
end
function ember.substring(c, pos, len)
  return wrap({op = "substring", args = {arg_ast(c), lit_ast(pos), lit_ast(len)}})
end
function ember.split(c, pattern)
  return wrap({op = "split", args = {arg_ast(c), lit_ast(pattern)}})
end
function ember.concat(...)
  local args = {}
  for i = 1, select("#", ...) do args[i] = arg_ast((select(i, ...))) end
  return wrap({op = "concat", args = args})
end
function ember.coalesce(...)
  local args = {}
  for i = 1, select("#", ...) do args[i] = arg_ast((select(i, ...))) end
  return wrap({op = "coalesce", args = args})
end
function ember.date_add(c, n)
  return wrap({op = "date_add", args = {arg_ast(c), to_ast(n)}})
end
function ember.date_sub(c, n)
  return wrap({op = "date_sub", args = {arg_ast(c), to_ast(n)}})
end

------------------------------------------------------------- analysis
-- Binding turns an AST into a typed expression over attributes:
--   {op = "attr", attr = a, type = T}
--   {op = "lit", type = T, value = v}
--   {op = fn, type = T, args = {...}} (fn as in the C evaluator), cast with
--   {op = "cast", type = T, args = {x}}; aggregates {op = "agg", fn = f,
--   type = T, args = {x}} only inside group_by():agg.

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

local function cast_to(e, t)
  if e.type == t then return e end
  if e.op == "lit" and e.value == nil then
    return {op = "lit", type = t}
  end
  return {op = "cast", type = t, args = {e}, implicit = true}
end

local bind

local function bind_args(ast, out, ctx)
  local args = {}
  for i, a in ipairs(ast.args or {}) do args[i] = bind(a, out, ctx) end
  return args
end

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

local STRFN = {lower = true, upper = true, trim = true, ltrim = true, rtrim = true}

function bind(ast, out, ctx)
  local op = ast.op
  if op == "col" then
    local a = resolve(out, ast.name, ast.qualifier)
    return {op = "attr", attr = a, type = a.type}
  elseif op == "lit" then
    return {op = "lit", type = ast.type, value = ast.value}
  elseif op == "alias" then
    local e = bind(ast.args[1], out, ctx)
    return {op = "alias", name = ast.name, type = e.type, args = {e}}
  elseif op == "star" then
    error("'*' is only allowed in count(*) and select('*')", 0)
  end
  if AGG[op] then
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
  local args = bind_args(ast, out, ctx)
  local n = #args
  local function need(k)
    if n ~= k then error(fmt("%s() takes %d argument%s, got %d", op, k, k == 1 and "" or "s", n), 0) end
  end
  if op == "add" or op == "sub" or op == "mul" or op == "mod" then
    need(2)
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
  elseif op == "div" then
    need(2)
    for i = 1, 2 do
      if not (NUMERIC[args[i].type] or args[i].type == "null" or args[i].type == "string") then
        error("cannot divide a " .. args[i].type, 0)
      end
    end
    return {op = "div", type = "double",
            args = {cast_to(args[1], "double"), cast_to(args[2], "double")}}
  elseif op == "neg" or op == "abs" then
    need(1)
    local t = args[1].type
    if t == "string" or t == "null" then t = "double" end
    if not NUMERIC[t] then error(op .. " of a " .. args[1].type, 0) end
    return {op = op, type = t, args = {cast_to(args[1], t)}}
  elseif op == "eq" or op == "ne" or op == "lt" or op == "le" or op == "gt"
      or op == "ge" or op == "eqns" then
    need(2)
    local t = widen(args[1].type, args[2].type)
    if not t then
      error(fmt("cannot compare %s with %s", args[1].type, args[2].type), 0)
    end
    if t == "null" then t = "boolean" end
    return {op = op, type = "boolean", args = {cast_to(args[1], t), cast_to(args[2], t)}}
  elseif op == "and" or op == "or" then
    need(2)
    for i = 1, 2 do
      if args[i].type ~= "boolean" and args[i].type ~= "null" then
        error(fmt("%s expects booleans, got %s", op:upper(), args[i].type), 0)
      end
    end
    return {op = op, type = "boolean",
            args = {cast_to(args[1], "boolean"), cast_to(args[2], "boolean")}}
  elseif op == "not" then
    need(1)
    return {op = "not", type = "boolean", args = {cast_to(args[1], "boolean")}}
  elseif op == "is_null" or op == "is_not_null" then
    need(1)
    return {op = op, type = "boolean", args = args}
  elseif op == "in" then
    local t = common(args, 1, "IN")
    if t == "null" then t = "boolean" end
    for i = 2, n do
      if args[i].op ~= "lit" then error("IN list items must be literals", 0) end
    end
    local cargs = {}
    for i = 1, n do cargs[i] = cast_to(args[i], t) end
    return {op = "in", type = "boolean", args = cargs}
  elseif op == "like" then
    need(2)
    if args[2].op ~= "lit" or args[2].type ~= "string" then
      error("LIKE pattern must be a string literal", 0)
    end
    return {op = "like", type = "boolean", args = {cast_to(args[1], "string"), args[2]}}
  elseif op == "cast" then
    need(1)
    return cast_to(args[1], ast.to) == args[1] and
           {op = "cast", type = ast.to, args = args} or cast_to(args[1], ast.to)
  elseif op == "case" then
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
  elseif op == "coalesce" then
    local t = common(args, 1, "coalesce")
    local cargs = {}
    for i = 1, n do cargs[i] = cast_to(args[i], t) end
    return {op = "coalesce", type = t, args = cargs}
  elseif STRFN[op] then
    need(1)
    return {op = op, type = "string", args = {cast_to(args[1], "string")}}
  elseif op == "length" then
    need(1)
    return {op = op, type = "int", args = {cast_to(args[1], "string")}}
  elseif op == "substring" or op == "substr" then
    if n == 2 then args[3] = {op = "lit", type = "int", value = 2147483647}; n = 3 end
    need(3)
    return {op = "substring", type = "string",
            args = {cast_to(args[1], "string"), cast_to(args[2], "int"),
                    cast_to(args[3], "int")}}
  elseif op == "concat" then
    local cargs = {}
    for i = 1, n do cargs[i] = cast_to(args[i], "string") end
    return {op = "concat", type = "string", args = cargs}
  elseif op == "year" or op == "month" or op == "day" or op == "dayofmonth" then
    need(1)
    local a = args[1]
    if a.type ~= "timestamp" then a = cast_to(a, "date") end
    return {op = op == "dayofmonth" and "day" or op, type = "int", args = {a}}
  elseif op == "to_date" then
    need(1)
    if args[1].type == "timestamp" then return cast_to(args[1], "date") end
    return {op = "to_date", type = "date", args = {cast_to(args[1], "string")}}
  elseif op == "date_add" or op == "date_sub" then
    need(2)
    return {op = op, type = "date",
            args = {cast_to(args[1], "date"), cast_to(args[2], "int")}}
  elseif op == "split" then
    need(2)
    if args[2].op ~= "lit" or args[2].type ~= "string" then
      error("split pattern must be a string literal", 0)
    end
    return {op = "split", type = "array<string>",
            args = {cast_to(args[1], "string"), args[2]}}
  elseif op == "explode" then
    need(1)
    if args[1].op ~= "split" then
      error("explode() supports split(...) arrays only", 0)
    end
    return {op = "explode", type = "string", args = args}
  end
  error(fmt("unknown function %s()", op), 0)
end

-- printing (explain, column names): Spark style
local function lit_sql(e)
  if e.value == nil then return "null" end
  if e.type == "string" then return e.value end
  if e.type == "date" then return date_string(e.value) end
  if e.type == "double" then return java_double(e.value) end
  if e.type == "bigint" then return tostring(e.value) .. "L" end
  return tostring(e.value)
end

local INFIX = {add = "+", sub = "-", mul = "*", div = "/", mod = "%",
               eq = "=", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">=",
               eqns = "<=>", ["and"] = "AND", ["or"] = "OR"}

local function expr_str(e, ids)
  local op = e.op
  if op == "attr" then
    return ids and (e.attr.name .. "#" .. e.attr.id) or e.attr.name
  elseif op == "lit" then
    return lit_sql(e)
  elseif op == "alias" then
    return expr_str(e.args[1], ids) .. " AS " .. e.name .. (ids and ("#" .. (e.id or "?")) or "")
  elseif INFIX[op] then
    return "(" .. expr_str(e.args[1], ids) .. " " .. INFIX[op] .. " " ..
           expr_str(e.args[2], ids) .. ")"
  elseif op == "not" then
    return "NOT " .. expr_str(e.args[1], ids)
  elseif op == "neg" then
    return "-" .. expr_str(e.args[1], ids)
  elseif op == "is_null" then
    return "isnull(" .. expr_str(e.args[1], ids) .. ")"
  elseif op == "is_not_null" then
    return "isnotnull(" .. expr_str(e.args[1], ids) .. ")"
  elseif op == "cast" then
    if e.implicit and not ids then return expr_str(e.args[1], ids) end
    return "cast(" .. expr_str(e.args[1], ids) .. " as " .. SIMPLE_TYPE[e.type] .. ")"
  elseif op == "agg" then
    if e.fn == "count_star" then return "count(1)" end
    if e.fn == "count_distinct" then
      return "count(DISTINCT " .. expr_str(e.args[1], ids) .. ")"
    end
    return e.fn .. "(" .. expr_str(e.args[1], ids) .. ")"
  elseif op == "in" then
    local t = {}
    for i = 2, #e.args do t[#t + 1] = expr_str(e.args[i], ids) end
    return expr_str(e.args[1], ids) .. " IN (" .. concat(t, ",") .. ")"
  elseif op == "like" then
    return expr_str(e.args[1], ids) .. " LIKE " .. expr_str(e.args[2], ids)
  elseif op == "case" then
    local t, n = {"CASE"}, #e.args
    for i = 1, n - 1, 2 do
      t[#t + 1] = "WHEN " .. expr_str(e.args[i], ids) .. " THEN " .. expr_str(e.args[i + 1], ids)
    end
    if n % 2 == 1 then t[#t + 1] = "ELSE " .. expr_str(e.args[n], ids) end
    t[#t + 1] = "END"
    return concat(t, " ")
  end
  local t = {}
  for i, a in ipairs(e.args or {}) do t[i] = expr_str(a, ids) end
  return op .. "(" .. concat(t, ", ") .. ")"
end

-- the output name Spark would give an expression
local function expr_name(e)
  if e.op == "alias" then return e.name end
  if e.op == "attr" then return e.attr.name end
  return expr_str(e, false)
end

-- attribute ids an expression reads
local function refs(e, set)
  set = set or {}
  if e.op == "attr" then set[e.attr.id] = true end
  for _, a in ipairs(e.args or {}) do refs(a, set) end
  return set
end

local function has_agg(e)
  if e.op == "agg" then return true end
  for _, a in ipairs(e.args or {}) do if has_agg(a) then return true end end
  return false
end

return {DataFrame = DataFrame, Column = Column, GroupedData = GroupedData,
        bind = bind, expr_str = expr_str, expr_name = expr_name, refs = refs,
        new_attr = new_attr, to_ast = to_ast, arg_ast = arg_ast,
        is_df = is_df, is_col = is_col, java_double = java_double,
        date_string = date_string, parse_date = parse_date,
        days_from_civil = days_from_civil, cast_to = cast_to, widen = widen,
        type_of_name = type_of_name,
        has_agg = has_agg, names_of = names_of, SPARK_TYPE = SPARK_TYPE,
        SIMPLE_TYPE = SIMPLE_TYPE, NUMERIC = NUMERIC}
