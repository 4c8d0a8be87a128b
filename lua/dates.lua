-- dates.lua -- module `ember.dates`: the calendar, and the one reading of
-- dates and timestamps from text on the driver.
--
-- Dates are days since 1970-01-01 and timestamps microseconds since
-- 1970-01-01 00:00:00 UTC, in the proleptic Gregorian calendar, as in the
-- op_relational plugin (plugins/operators/relational/rel.h).  parse_date
-- is the date rule every Lua reader uses: the SQL parser's DATE and
-- TIMESTAMP literals (strict form), and the DataFrame layer's casts it
-- folds and the date strings create_dataframe accepts (Spark's cast form,
-- the one op_relational's cast to date applies at run time, so a folded
-- cast gives what the running one would).  Pure functions, no state.
local M = {}

M.US_PER_DAY = 86400 * 1000000

local function is_leap(y) return y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0) end

local function month_days(y, m)
  if m == 2 then return is_leap(y) and 29 or 28 end
  return (m == 4 or m == 6 or m == 9 or m == 11) and 30 or 31
end

-- days since 1970-01-01 (H. Hinnant's days_from_civil)
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = y // 400
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = (153 * mp + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

-- y, m, d of days since 1970-01-01
local function civil_from_days(z)
  z = z + 719468
  local era = z // 146097
  local doe = z - era * 146097
  local yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
  local mp = (5 * doy + 2) // 153
  local d = doy - (153 * mp + 2) // 5 + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return y, m, d
end

M.days_from_civil = days_from_civil
M.civil_from_days = civil_from_days

-- days -> 'yyyy-mm-dd'
function M.format_date(days)
  local y, m, d = civil_from_days(days)
  return string.format("%04d-%02d-%02d", y, m, d)
end

-- Text -> days, or nil.  Spaces around are ignored; the date must exist
-- (Feb 29 only in leap years).
--   strict (DATE literals): 'yyyy-m[m]-d[d]' and nothing else;
--   otherwise (Spark's cast): '[+-]yyyy[yy][-m[m][-d[d]]]' (month and day
--   default to 1), optionally followed by ' ' or 'T' and anything.
local function parse_date(s, strict)
  s = s:match("^%s*(.-)%s*$")
  local sign, y, p = s:match("^([+-]?)(%d+)()")
  if not y or #y < 4 or #y > (strict and 4 or 6) or (strict and sign ~= "") then
    return nil
  end
  local m, d, mm, dd = 1, 1, nil, nil
  local p2
  mm, p2 = s:match("^%-(%d%d?)()", p)
  if mm then
    m, p = tonumber(mm), p2
    dd, p2 = s:match("^%-(%d%d?)()", p)
    if dd then d, p = tonumber(dd), p2 end
  end
  local rest = s:sub(p)
  if strict then
    if not dd or rest ~= "" then return nil end
  elseif rest ~= "" and not rest:find("^[ T]") then
    return nil
  end
  y = tonumber(y)
  if sign == "-" then y = -y end
  if m < 1 or m > 12 or d < 1 or d > month_days(y, m) then return nil end
  return days_from_civil(y, m, d)
end
M.parse_date = parse_date

-- 'yyyy-mm-dd[( |T)hh:mm[:ss[.ffffff]]][Z|(+|-)hh:mm]' -> microseconds, or
-- nil (TIMESTAMP literals)
function M.parse_timestamp(s)
  s = s:match("^%s*(.-)%s*$")
  local date, rest = s:match("^([0-9][0-9][0-9][0-9]%-[0-9][0-9]?%-[0-9][0-9]?)(.*)$")
  if not date then return nil end
  local days = parse_date(date, true)
  if not days then return nil end
  local h, mi, sec, frac = 0, 0, 0, 0
  local offset = 0
  if rest ~= "" then
    local hh, mm, tail = rest:match("^[ T]([0-9][0-9]?):([0-9][0-9])(.*)$")
    if not hh then return nil end
    h, mi = tonumber(hh), tonumber(mm)
    local ss, tail2 = tail:match("^:([0-9][0-9])(.*)$")
    if ss then
      sec, tail = tonumber(ss), tail2
      local f, tail3 = tail:match("^%.([0-9]+)(.*)$")
      if f then
        if #f > 6 then return nil end
        frac = tonumber(f .. string.rep("0", 6 - #f))
        tail = tail3
      end
    end
    if tail == "Z" then
      tail = ""
    elseif tail ~= "" then
      local sign, oh, om = tail:match("^([+-])([0-9][0-9]):?([0-9][0-9])$")
      if not sign then return nil end
      oh, om = tonumber(oh), tonumber(om)
      if oh > 18 or om > 59 then return nil end
      offset = (oh * 60 + om) * 60 * 1000000
      if sign == "-" then offset = -offset end
    end
    if h > 23 or mi > 59 or sec > 59 then return nil end
  end
  return days * M.US_PER_DAY + ((h * 60 + mi) * 60 + sec) * 1000000 + frac - offset
end

return M
