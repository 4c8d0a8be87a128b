-- keyorder.lua -- module `ember.keyorder`: the order of sort keys (sort_by,
-- sort_by_key), required by the driver (rdd.lua) and by every task state
-- (exec.lua), so the ranges the driver samples and the ranges executors
-- fill agree.  key_lt(a, b):
--   numbers by value, NaN after every other number; strings by bytes;
--   booleans false first; arrays element by element, a prefix first (so
--   tuples such as {-count, word} sort as Spark sorts tuples); across
--   types ember.null < booleans < numbers < strings < tables.
-- Any other value raises "cannot sort by a <type> key".
local null = require("ember.null")

local M = {}

local type = type
local RANK = {boolean = 2, number = 3, string = 4, table = 5}

local function rank(v)
  local t = type(v)
  local r = RANK[t]
  if r then return r end
  if v == null then return 1 end
  error("cannot sort by a " .. t .. " key", 0)
end

local function key_lt(a, b)
  local ta, tb = type(a), type(b)
  if ta == tb then
    if ta == "number" then
      if a ~= a then return false end
      if b ~= b then return true end
      return a < b
    elseif ta == "string" then
      return a < b
    elseif ta == "table" then
      local i = 1
      while true do
        local x, y = a[i], b[i]
        if x == nil then return y ~= nil end
        if y == nil then return false end
        if key_lt(x, y) then return true end
        if key_lt(y, x) then return false end
        i = i + 1
      end
    elseif ta == "boolean" then
      return not a and b
    end
  end
  return rank(a) < rank(b)
end

M.key_lt = key_lt

return M
