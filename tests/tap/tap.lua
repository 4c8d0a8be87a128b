-- tap.lua -- TAP output for ember's Lua tests (run inside `ember submit`).
local M = {}
local n, failed, planned = 0, 0, nil

function M.plan(k) planned = k; print("1.." .. k) end
function M.diag(msg)
  for line in (tostring(msg) .. "\n"):gmatch("(.-)\n") do print("# " .. line) end
end
function M.ok(cond, desc)
  n = n + 1
  if not cond then failed = failed + 1 end
  print((cond and "ok " or "not ok ") .. n .. (desc and (" - " .. desc) or ""))
  return cond
end
function M.skip(reason)
  n = n + 1
  print("ok " .. n .. " # skip " .. reason)
end
function M.is(got, want, desc)
  local ok = M.ok(got == want, desc)
  if not ok then M.diag("     got: " .. tostring(got) .. "\n  wanted: " .. tostring(want)) end
  return ok
end
local function deq(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do if not deq(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end
M.deep_equal = deq
local function show(v)
  if type(v) ~= "table" then return tostring(v) end
  local parts = {}
  for k, x in pairs(v) do parts[#parts + 1] = tostring(k) .. "=" .. show(x) end
  table.sort(parts)
  return "{" .. table.concat(parts, ", ") .. "}"
end
function M.same(got, want, desc)
  local ok = M.ok(deq(got, want), desc)
  if not ok then M.diag("     got: " .. show(got) .. "\n  wanted: " .. show(want)) end
  return ok
end
function M.raises(f, pattern, desc)
  local ok, err = pcall(f)
  local good = not ok and (pattern == nil or tostring(err):find(pattern, 1, true) ~= nil)
  M.ok(good, desc)
  if not good then M.diag(ok and "no error raised" or ("error was: " .. tostring(err))) end
  return good
end
function M.done()
  if not planned then print("1.." .. n) end
  if failed > 0 or (planned and planned ~= n) then os.exit(1) end
end
-- the events of a running application's event log, decoded (an empty list
-- if there is no log yet).  Every complete line must be valid JSON (an
-- error is raised otherwise); a last line still being written is left out.
function M.events(dir, app_id)
  local json = require("json")
  local out = {}
  local f = io.open(dir .. "/" .. app_id .. ".inprogress")
  if not f then return out end
  local text = f:read("a")
  f:close()
  local n = 0
  for line in text:gmatch("([^\n]*)\n") do
    n = n + 1
    local ok, ev = pcall(json.decode, line)
    if not ok then error("event log line " .. n .. ": " .. ev, 2) end
    out[#out + 1] = ev
  end
  return out
end

-- how many of the events satisfy pred(ev)
function M.count(events, pred)
  local n = 0
  for _, ev in ipairs(events) do if pred(ev) then n = n + 1 end end
  return n
end

-- sort an array of values or of {k, v} pairs for comparisons
function M.sorted(t)
  table.sort(t, function(a, b)
    if type(a) == "table" then a, b = a[1], b[1] end
    if type(a) ~= type(b) then return type(a) < type(b) end
    return a < b
  end)
  return t
end
return M
