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
-- the lines of a running application's event log (empty if none yet)
function M.events(dir, app_id)
  local out = {}
  local f = io.open(dir .. "/" .. app_id .. ".inprogress")
  if f then
    for line in f:lines() do out[#out + 1] = line end
    f:close()
  end
  return out
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
