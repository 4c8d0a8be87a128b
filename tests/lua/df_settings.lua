-- Settings the DataFrame readers take their defaults from:
-- files.maxPartitionBytes (Spark's spark.sql.files.maxPartitionBytes), the
-- most bytes per partition of a file read; a read's max_partition_bytes
-- option wins over it.
package.path = os.getenv("top_srcdir") .. "/tests/tap/?.lua;" .. package.path
local t = require("tap")
local ember = require("ember")
local H = dofile(os.getenv("top_srcdir") .. "/tests/lua/df_helpers.lua")

local tmp = H.mkdtemp()
local csv, txt = tmp .. "/t.csv", tmp .. "/t.txt"
local lines = {"id,name"}
for i = 1, 6000 do lines[#lines + 1] = i .. ",name-" .. i end
H.write_file(csv, table.concat(lines, "\n") .. "\n")
H.write_file(txt, table.concat(lines, "\n") .. "\n")
local size = #table.concat(lines, "\n") + 1
local function ceil_div(a, b) return (a + b - 1) // b end

local function parts(df) return df:rdd():num_partitions() end

local function with_session(conf, f)
  local sc = ember.session{app = "df-settings", master = "local[2]", conf = conf}
  local ok, err = pcall(f, sc)
  sc:stop()
  if not ok then
    t.ok(false, "the test body ran to its end")
    t.diag(tostring(err))
  end
end

t.ok(size > 80000, "the input is " .. size .. " bytes")

with_session({["files.maxPartitionBytes"] = "16k"}, function(sc)
  local df = sc.read:csv(csv, {header = true, schema = "id bigint, name string"})
  t.is(parts(df), ceil_div(size, 16384), "files.maxPartitionBytes 16k: csv in 16 KiB splits")
  t.is(df:count(), 6000, "... and every row is read once")
  t.is(parts(sc.read:text(txt)), ceil_div(size, 16384), "... text files too")
  local o = sc.read:option("max_partition_bytes", 65536):csv(csv, {header = true})
  t.is(parts(o), ceil_div(size, 65536), "the read option max_partition_bytes wins")
  t.is(parts(sc.read:csv(csv, {header = true, max_partition_bytes = 32768})),
       ceil_div(size, 32768), "... given to csv() as well")
end)

with_session({["files.maxPartitionBytes"] = "20000"}, function(sc)
  t.is(parts(sc.read:csv(csv, {header = true})), ceil_div(size, 20000),
       "files.maxPartitionBytes as a plain number of bytes")
end)

with_session(nil, function(sc)
  t.is(parts(sc.read:csv(csv, {header = true})), 1,
       "unset: 128 MiB, a small file is one partition")
end)

-- what the readers call: the session's settings typed by the key table
with_session({["files.maxPartitionBytes"] = "1m",
              ["sql.autoBroadcastJoinThreshold"] = "-1",
              ["locality.wait"] = "2s"}, function(sc)
  local v = function(key) return sc._s:conf_value(key) end
  t.is(v("files.maxPartitionBytes"), 1048576, "conf_value: a size in bytes")
  t.is(math.type(v("files.maxPartitionBytes")), "integer", "... an integer")
  t.is(v("sql.autoBroadcastJoinThreshold"), -1, "... -1 where the table allows it")
  t.is(v("sql.shuffle.partitions"), 8, "conf_value: an unset key has the table's default")
  t.is(v("network.timeout"), 120000, "conf_value: a duration in milliseconds")
  t.is(v("locality.wait.node"), 2000, "conf_value: a fallback key")
  t.is(v("memory.fraction"), 0.6, "conf_value: a number")
  t.is(v("shuffle.compress"), true, "conf_value: a boolean")
  t.is(v("master"), "local[2]", "conf_value: a string")
  t.is(v("default.parallelism"), nil, "conf_value: nil for a default the reader computes")
  t.raises(function() return v("no.such.key") end, "no.such.key",
           "conf_value: a key outside the table raises")
end)

H.rmrf(tmp)
t.done()
