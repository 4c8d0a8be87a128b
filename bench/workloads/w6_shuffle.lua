-- W6b: a shuffle that moves a known number of bytes between executors.
--
--   ember submit w6_shuffle.lua MB [PARTITIONS [RECORD_KB]]
--
-- One job: range → map to records of RECORD_KB KiB (default 64) →
-- repartition(PARTITIONS) (round-robin, so every reduce partition gets the
-- same share of every map partition) → each reduce task checks every record
-- byte for byte and returns per-partition sums → collect.  MB (10⁶ bytes) is
-- the total payload; with 2 executors about half of the blocks are fetched
-- from the other executor (over transport.data when it is set), the other
-- half read from the local disk.
--
-- Shuffle compression is switched off for this job (conf below), so the
-- shuffle moves the payload bytes themselves, plus a few bytes of framing per
-- record, whatever the data looks like.
--
-- Record i is the 16 bytes string.pack("<i8i8", i, mix(i)) repeated; the
-- reducer rebuilds it from its first 8 bytes and compares the whole string,
-- so any lost, duplicated or corrupted byte shows.  Prints
--   M shuffle_s     SECONDS  the job (map, shuffle write, fetch, check)
--   M shuffle_bytes BYTES    payload bytes that went through the shuffle
--   R records N / R bytes B / R key_sum S / R mix_sum H / R check ok
-- and fails (exit status 1) when a sum differs from what the driver
-- computes on its own.
local ember = require("ember")
local usage = "usage: w6_shuffle.lua MB [PARTITIONS [RECORD_KB]]"
local mb = tonumber(arg[1] or error(usage))
local P = tonumber(arg[2] or 4)
local L = tonumber(arg[3] or 64) * 1024
local n = (mb * 1000000) // L
local sc = ember.session{app = "bench-w6-shuffle", conf = {["shuffle.compress"] = "false"}}

local function now()
  local p = assert(io.popen("date +%s%N"))
  local s = p:read("l")
  p:close()
  return tonumber(s)
end
local empty = {}
for i = 1, 5 do local a = now(); empty[i] = now() - a end
table.sort(empty)
local bracket = empty[3]

-- splitmix64's finalizer (integer arithmetic wraps around in Lua)
local function mix(i)
  local z = i * 0x9E3779B97F4A7C15
  z = (z ~ (z >> 30)) * 0xBF58476D1CE4E5B9
  z = (z ~ (z >> 27)) * 0x94D049BB133111EB
  return z ~ (z >> 31)
end
local reps = L // 16

-- warm up the executors (first task on each)
sc:parallelize({1, 2}, 2):count()

local t0 = now()
local parts = sc:range(0, n, 1, P)
  :map(function(i) return string.rep(string.pack("<i8i8", i, mix(i)), reps) end)
  :repartition(P)
  :map_partitions(function(it)
    local cnt, bytes, ksum, hsum, bad = 0, 0, 0, 0, 0
    for rec in it do
      local i, h = string.unpack("<i8i8", rec)
      if h ~= mix(i) or rec ~= string.rep(string.pack("<i8i8", i, h), reps) then
        bad = bad + 1
      end
      cnt, bytes = cnt + 1, bytes + #rec
      ksum, hsum = ksum + i, hsum + h
    end
    return {{cnt, bytes, ksum, hsum, bad}}
  end)
  :collect()
local t1 = now()

local cnt, bytes, ksum, hsum, bad = 0, 0, 0, 0, 0
for _, p in ipairs(parts) do
  cnt, bytes = cnt + p[1], bytes + p[2]
  ksum, hsum, bad = ksum + p[3], hsum + p[4], bad + p[5]
end
local eh = 0
for i = 0, n - 1 do eh = eh + mix(i) end
print(string.format("M shuffle_s %.6f", (t1 - t0 - bracket) / 1e9))
print(string.format("M shuffle_bytes %d", bytes))
print("R records " .. cnt)
print("R bytes " .. bytes)
print("R key_sum " .. ksum)
print(string.format("R mix_sum %016x", hsum))
local ok = #parts == P and bad == 0 and cnt == n and bytes == n * L
  and ksum == n * (n - 1) // 2 and hsum == eh
print("R check " .. (ok and "ok" or
  string.format("FAILED (%d partitions, %d bad records, expected %d records)", #parts, bad, n)))
sc:stop()
if not ok then os.exit(1) end
