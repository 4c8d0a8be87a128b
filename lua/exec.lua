-- exec.lua -- module `ember.exec`: the executor side of ember's RDD
-- engine, required once into every task thread's lua_State
-- (lua/task_runtime.c).  It evaluates one partition of a stage by pushing
-- each element through a chain of consumer functions (narrow
-- transformations are pipelined: no intermediate arrays), then hands the
-- result to the action (result stage) or to the shuffle writer (map stage).
-- What a node does is looked up by its kind (compute_kind) and then by its
-- operation: sources, narrow, joins, reduce_side, actions, writers.
--
-- `rt` (require("ember.rt")) holds the C primitives of task_runtime.c:
-- encode/decode, key, partition, run_source, read_shuffle, writer,
-- sink_open, transform_open, agg_memory and agg_spill (aggregation tables
-- within execution memory), STOP (the sentinel that ends a partition
-- early, e.g. take(n)).
local rt = require("ember.rt")
local KIND = require("ember.plan_kind")
local key_lt = require("ember.keyorder").key_lt
collectgarbage("generational")

local SOURCE, NARROW, SHUFFLE, UNION = KIND.SOURCE, KIND.NARROW, KIND.SHUFFLE, KIND.UNION
local STOP = rt.STOP
local type, error, tostring, select = type, error, tostring, select
local mtype = math.type
local concat = table.concat

-- Group by value: strings, numbers and booleans are their own keys (Lua
-- already equates 1 and 1.0); tables and ember.null use a canonical string.
local KEYTAG = "\0\1ember-key:"
local function gkey(k)
  local t = type(k)
  if t == "table" or t == "userdata" then return KEYTAG .. rt.key(k) end
  if k ~= k then return KEYTAG .. "nan" end
  return k
end

local function pair_of(x, what)
  if type(x) ~= "table" or x[1] == nil then
    error(what .. " expects {key, value} pairs, got " ..
          (type(x) == "table" and "a table without [1]" or type(x)), 0)
  end
  return x[1], x[2]
end

-- push every element of r (an array, or an iterator function) into down
local function emit_all(r, down, what)
  local t = type(r)
  if t == "table" then
    for i = 1, #r do down(r[i]) end
  elseif t == "function" then
    for x in r do down(x) end
  elseif r ~= nil then
    error(what .. " must return an array or an iterator, got " .. t, 0)
  end
end

local compute

-- Consumers that can take a whole array in one call (count_by_value's
-- counter): a flat_map feeding one hands it each result array as it is.
local bulk_of = setmetatable({}, {__mode = "k"})

local narrow = {}
function narrow.map(op, down)
  local f = op.fn
  return function(x)
    local y = f(x)
    if y == nil then error("map function returned nil (use ember.null for a missing value)", 0) end
    down(y)
  end
end
function narrow.filter(op, down)
  local f = op.fn
  return function(x) if f(x) then down(x) end end
end
function narrow.flat_map(op, down)
  local f = op.fn
  local bulk = bulk_of[down]
  if bulk then
    return function(x)
      local r = f(x)
      if type(r) == "table" then bulk(r)
      else emit_all(r, down, "flat_map function") end
    end
  end
  return function(x) emit_all(f(x), down, "flat_map function") end
end
function narrow.key_by(op, down)
  local f = op.fn
  return function(x) down({f(x), x}) end
end
function narrow.map_values(op, down)
  local f = op.fn
  return function(x)
    local k, v = pair_of(x, "map_values")
    down({k, f(v)})
  end
end
function narrow.map_partitions(op, down, fin)
  local f, items = op.fn, {}
  fin[#fin + 1] = function()
    local i = 0
    emit_all(f(function() i = i + 1; return items[i] end), down,
             "map_partitions function")
  end
  return function(x) items[#items + 1] = x end
end
function narrow.apply(op, down, fin, task)
  local t = rt.transform_open(op.name, op.params, task.partition)
  fin[#fin + 1] = function() t:finish(down) end
  return function(x) t:push(x, down) end
end

-- Aggregation state lives within execution memory.  An account
-- (rt.agg_memory) reserves the Lua heap growth of a hash table in 4 MiB
-- chunks; when memory is refused, a map-side combine table is flushed into
-- the shuffle writer (the reduce side combines again), and a reduce-side
-- table is spilled: its entries go to SPILL_PARTS local run files by a hash
-- of the key (rt.agg_spill), the table is emptied, and at the end every run
-- file is aggregated on its own -- recursively, with another hash, if one
-- still does not fit (up to SPILL_MAX_LEVEL; past that the table just grows).
local SPILL_PARTS, SPILL_MAX_LEVEL = 16, 4
local CHECK_EVERY = 64   -- records between two looks at the heap
local ENTRY_BYTES = 128  -- per entry, what doubling idx + keys + vals allocates

-- Aggregate the records feed(add) produces, pushing results to down.  kind:
-- "reduce" (add({k, v}): v combined with f), "group" (add({k, v}): values
-- appended to a list) or "distinct" (add(x, pushed): pushed says whether x
-- was pushed already).  Records from a spill (level > 0) carry partial
-- results: a combined value, a list of values, a pushed flag.
local function aggregate(kind, f, feed, down, level)
  local mem = rt.agg_memory()
  local idx, keys, vals, n, tick = {}, {}, {}, 0, 0
  local spill
  -- distinct pushes an element when first seen, until a spill: after that
  -- it cannot know whether a spilled run holds it
  local stream = kind == "distinct" and level == 0
  local from_spill = level > 0

  local function flush()
    spill = spill or rt.agg_spill(SPILL_PARTS, level)
    for i = 1, n do spill:add(keys[i], vals[i]) end
    idx, keys, vals, n = {}, {}, {}, 0
    stream = false
    mem:reset()
  end
  local function check(extra)
    if not mem:grow(extra) and level < SPILL_MAX_LEVEL and n > 0 then flush() end
  end

  -- at a new key: when n is a power of two the next one doubles the
  -- tables, so make sure that fits
  local add
  if kind == "reduce" then
    add = function(rec)
      local k, v = rec[1], rec[2]
      local i = idx[k] -- a key that is its own group key, seen before
      if i then
        vals[i] = f(vals[i], v)
        tick = tick + 1
        if tick >= CHECK_EVERY then tick = 0; check(0) end
        return
      end
      local g = gkey(k)
      local i = idx[g]
      if i then vals[i] = f(vals[i], v)
      else
        n = n + 1; idx[g] = n; keys[n] = k; vals[n] = v
        if n & (n - 1) == 0 and n >= 1024 then check(n * ENTRY_BYTES) end
      end
      tick = tick + 1
      if tick >= CHECK_EVERY then tick = 0; check(0) end
    end
  elseif kind == "group" then
    add = function(rec)
      local k, v = rec[1], rec[2]
      local g = gkey(k)
      local i = idx[g]
      if i then
        local vs = vals[i]
        if from_spill then
          local m = #vs
          for j = 1, #v do vs[m + j] = v[j] end
        else vs[#vs + 1] = v end
      else
        n = n + 1; idx[g] = n; keys[n] = k
        if from_spill then vals[n] = v else vals[n] = {v} end
        if n & (n - 1) == 0 and n >= 1024 then check(n * ENTRY_BYTES) end
      end
      tick = tick + 1
      if tick >= CHECK_EVERY then tick = 0; check(0) end
    end
  else
    add = function(x, pushed)
      local g = gkey(x)
      local i = idx[g]
      if i then
        if pushed then vals[i] = true end
      else
        n = n + 1; idx[g] = n; keys[n] = x
        if stream then down(x); pushed = true end
        vals[n] = pushed or false
        if n & (n - 1) == 0 and n >= 1024 then check(n * ENTRY_BYTES) end
      end
      tick = tick + 1
      if tick >= CHECK_EVERY then tick = 0; check(0) end
    end
  end
  feed(add)

  if not spill then
    if kind == "distinct" then
      for i = 1, n do if not vals[i] then down(keys[i]) end end
    else
      for i = 1, n do down({keys[i], vals[i]}) end
    end
    mem:close()
    return
  end
  flush()
  mem:close()
  spill:finish()
  for sp = 0, SPILL_PARTS - 1 do
    aggregate(kind, f, function(add)
      if kind == "distinct" then return spill:read(sp, add) end
      local pair = {} -- add keeps the fields, not the table
      spill:read(sp, function(k, v) pair[1] = k; pair[2] = v; add(pair) end)
    end, down, level + 1)
    spill:drop(sp)
  end
  spill:close()
end

-- reduce side of each shuffle kind: read partition p and push results
local reduce_side = {}
function reduce_side.reduce_by_key(node, p, down)
  aggregate("reduce", node.payload.fn, function(add)
    rt.read_shuffle(node.id, p, add)
  end, down, 0)
end
local function plus(a, b) return a + b end
function reduce_side.count_by_value(node, p, down)
  aggregate("reduce", plus, function(add)
    rt.read_shuffle(node.id, p, add)
  end, down, 0)
end
reduce_side.count_by_key = reduce_side.count_by_value

-- a range sorted: pairs {key, x} (sort_by_key: the elements themselves;
-- sort_by: {f(x), x}, keys computed again here); the order of equal keys
-- is not promised, as in Spark
local function sort_range(recs, asc)
  -- keys all strings, or all numbers without NaN (the usual case): sorted
  -- in C; otherwise by keyorder.lua's order, in Lua
  local done = rt.sort_pairs(recs, asc)
  if done then return done end
  local lt
  if asc then lt = function(x, y) return key_lt(x[1], y[1]) end
  else lt = function(x, y) return key_lt(y[1], x[1]) end end
  table.sort(recs, lt)
  return recs
end
function reduce_side.sort_by_key(node, p, down)
  local recs, n = {}, 0
  rt.read_shuffle(node.id, p, function(x) n = n + 1; recs[n] = x end)
  recs = sort_range(recs, node.payload.asc)
  for i = 1, n do down(recs[i]) end
end
function reduce_side.sort_by(node, p, down)
  local f = node.payload.fn
  local recs, n = {}, 0
  rt.read_shuffle(node.id, p, function(x) n = n + 1; recs[n] = {f(x), x} end)
  recs = sort_range(recs, node.payload.asc)
  for i = 1, n do down(recs[i][2]) end
end
function reduce_side.group_by_key(node, p, down)
  aggregate("group", nil, function(add)
    rt.read_shuffle(node.id, p, add)
  end, down, 0)
end
function reduce_side.distinct(node, p, down)
  aggregate("distinct", nil, function(add)
    rt.read_shuffle(node.id, p, add)
  end, down, 0)
end
function reduce_side.repartition(node, p, down)
  rt.read_shuffle(node.id, p, down)
end

-------------------------------------------------------------- DataFrames
-- DataFrame partitions flow as columnar batches (ember.Batch values, a few
-- thousand rows each) through chains of C operators from op_relational;
-- Lua only hands each batch from one operator to the next.

-- open ops[1..n] for this task; returns the consumer feeding ops[1] whose
-- output ends in down; their finish steps are appended to fin in the order
-- that flushes upstream operators before downstream ones
local function df_chain(ops, down, fin, task)
  local chain = down
  for i = #ops, 1, -1 do
    local o = rt.transform_open(ops[i].name, ops[i].params, task.partition)
    local nxt, stopped = chain, false
    chain = function(b)
      if not stopped and o:push_batch(b, nxt) then stopped = true end
    end
    fin[#fin + 1] = function() o:finish_batch(nxt); o:close() end
  end
  return chain
end

function narrow.df_ops(op, down, fin, task)
  return df_chain(op.ops, down, fin, task)
end

-- batches -> row tables (df:rdd())
function narrow.df_rows(op, down)
  return function(b)
    local rows = b:rows()
    for i = 1, #rows do down(rows[i]) end
  end
end

reduce_side.df_shuffle = function(node, p, down)
  rt.read_shuffle(node.id, p, down, true)
end

local function run_fins(fin)
  for i = #fin, 1, -1 do fin[i]() end
end

-- a join: every batch of the build side (parent 2) first, then the probe
-- side (parent 1) streams through
local function df_join(stage, n, p, down, fin, task)
  local op = n.payload
  local j = rt.transform_open(op.name, op.params, task.partition)
  local bfin = {}
  local right = function(b) j:push_input(1, b) end
  if op.broadcast then
    -- the small side was shuffled into one partition that every task reads
    rt.read_shuffle(n.parents[2], 0, right, true)
  else
    compute(stage, n.parents[2], p, right, bfin, task)
    run_fins(bfin)
  end
  fin[#fin + 1] = function() j:finish_batch(down); j:close() end
  compute(stage, n.parents[1], p, function(b) j:push_batch(b, down) end, fin,
          task)
end

local compute_node

-- A persisted dataset: read the partition from the block manager, or
-- compute it, keep it, and pass it on.
function compute(stage, id, p, down, fin, task)
  local n = stage.nodes[id]
  local level = n.cache
  if not level or level == 0 then
    return compute_node(stage, id, p, down, fin, task)
  end
  local cached = rt.cache_get(id, p)
  if cached then
    for i = 1, #cached do down(cached[i]) end
    return
  end
  local items, m = {}, 0
  local fin2 = {}
  compute_node(stage, id, p, function(x) m = m + 1; items[m] = rt.keep(x) end,
               fin2, task)
  for i = #fin2, 1, -1 do fin2[i]() end
  rt.cache_put(id, p, level, items)
  for i = 1, m do down(items[i]) end
end

-- sources: each pushes partition p of its node's payload s
local sources = {}
function sources.parallelize(s, p, down)
  local sl = s.slices[p + 1]
  for i = 1, #sl do down(sl[i]) end
end
function sources.range(s, p, down)
  local a = s.start + (s.count * p // s.slices) * s.step
  local b = s.start + (s.count * (p + 1) // s.slices) * s.step
  for i = a, b - s.step, s.step do down(i) end
end
function sources.op(s, p, down)
  rt.run_source(s.op, s.params, s.splits[p + 1], p, down)
end
function sources.df_scan(s, p, down)
  rt.run_source(s.op, s.params, s.splits[p + 1], p, down, true)
  if s.counter then
    local v = rt.take_counter(s.counter)
    if v ~= 0 and s.counter_acc then
      __ember_acc_add({id = s.counter_acc}, v)
    end
  end
end
sources.df_local = sources.parallelize
function sources.checkpoint(s, p, down)
  local items = rt.checkpoint_read(s.path, p)
  for i = 1, #items do down(items[i]) end
end

-- narrow nodes with more than one parent
local joins = {df_join = df_join}

-- compute_kind[kind](stage, n, p, down, fin, task): push partition p of
-- node n into down
local compute_kind = {}
compute_kind[SOURCE] = function(stage, n, p, down)
  local s = n.payload
  local src = sources[s.src]
  if not src then error("unknown source " .. tostring(s.src), 0) end
  src(s, p, down)
end
compute_kind[NARROW] = function(stage, n, p, down, fin, task)
  local op = n.payload
  local join = joins[op.op]
  if join then return join(stage, n, p, down, fin, task) end
  local mk = narrow[op.op]
  if not mk then error("unknown transformation " .. tostring(op.op), 0) end
  compute(stage, n.parents[1], p, mk(op, down, fin, task), fin, task)
end
compute_kind[UNION] = function(stage, n, p, down, fin, task)
  local parts = n.payload.parts
  for i = 1, #parts do
    if p < parts[i] then return compute(stage, n.parents[i], p, down, fin, task) end
    p = p - parts[i]
  end
  error("union partition out of range", 0)
end
compute_kind[SHUFFLE] = function(stage, n, p, down)
  local r = reduce_side[n.payload.op]
  if not r then error("unknown shuffle " .. tostring(n.payload.op), 0) end
  r(n, p, down)
end

function compute_node(stage, id, p, down, fin, task)
  local n = stage.nodes[id]
  local k = compute_kind[n.kind]
  if not k then error("unknown plan node kind " .. tostring(n.kind), 0) end
  return k(stage, n, p, down, fin, task)
end

-- Lua text of a value for save_as_text_file: scalars as tostring, arrays
-- (pairs) like Spark's tuples: (k,v)
local function to_text(x)
  if type(x) ~= "table" then return tostring(x) end
  local parts = {}
  for i = 1, #x do parts[i] = to_text(x[i]) end
  return "(" .. concat(parts, ",") .. ")"
end

-- result-stage actions: each returns (consumer, finish -> result)
local actions = {}
function actions.collect()
  local out, n = {}, 0
  return function(x) n = n + 1; out[n] = x end, function() return out end
end
function actions.count()
  local n = 0
  return function() n = n + 1 end, function() return n end
end
function actions.take(a)
  local out, n, limit = {}, 0, a.n
  return function(x)
    n = n + 1; out[n] = x
    if n >= limit then error(STOP, 0) end
  end, function() return out end
end
function actions.reduce(a)
  local f, acc, have = a.fn, nil, false
  return function(x)
    if have then acc = f(acc, x) else acc = x; have = true end
  end, function() if have then return {acc} end return {} end
end
function actions.foreach(a)
  local f = a.fn
  return function(x) f(x) end, function() return true end
end
function actions.checkpoint_write(a, task)
  local items, n = {}, 0
  return function(x) n = n + 1; items[n] = x end,
         function() rt.checkpoint_write(a.path, task.partition, items); return true end
end
function actions.save_text(a, task)
  local s = rt.sink_open("text.write", {path = a.path}, task.partition)
  return function(x) s:push(to_text(x)) end,
         function() s:finish(); return true end
end

-- DataFrame actions: batches in, encoded batches (or numbers) out
function actions.df_collect()
  local out, n = {}, 0
  return function(b) n = n + 1; out[n] = rt.keep(b) end, function() return out end
end
function actions.df_count()
  local n = 0
  return function(b) n = n + b:num_rows() end, function() return n end
end
function actions.df_take(a)
  local out, n, rows, limit = {}, 0, 0, a.n
  return function(b)
    n = n + 1; out[n] = rt.keep(b)
    rows = rows + b:num_rows()
    if rows >= limit then error(STOP, 0) end
  end, function() return out end
end
function actions.df_sample(a)
  local out, n, seed = {}, 0, 0
  return function(b)
    seed = seed + 1
    n = n + 1; out[n] = b:sample(a.k, seed)
  end, function() return out end
end
function actions.df_write(a, task)
  local s = rt.sink_open(a.name, a.params, task.partition)
  return function(b) s:push_batch(b) end,
         function() s:finish_batch(); s:close(); return true end
end

-- map-stage writers: each returns (consumer, finish)
local writers = {}
function writers.reduce_by_key(op, w, R)
  local f, idx, keys, vals, n, tick = op.fn, {}, {}, {}, 0, 0
  local mem = rt.agg_memory()
  local function flush()
    for i = 1, n do
      local k = keys[i]
      w:add(rt.partition(k, R), {k, vals[i]})
    end
    idx, keys, vals, n = {}, {}, {}, 0
  end
  -- refused memory: what is combined so far goes to the writer
  local function check(extra)
    if not mem:grow(extra) and n > 0 then flush(); mem:reset() end
  end
  -- The common case first, without calls: a pair whose key (a string, a
  -- number or a boolean) is its own group key and is already in the table.
  -- idx only holds group keys, never tables, so a table key misses here
  -- and takes the general path, as do NaN, nil and anything not a pair.
  return function(x)
    if type(x) == "table" then
      local k = x[1]
      local i = idx[k]
      if i then
        vals[i] = f(vals[i], x[2])
        tick = tick + 1
        if tick >= CHECK_EVERY then tick = 0; check(0) end
        return
      end
    end
    local k, v = pair_of(x, "reduce_by_key")
    local g = gkey(k)
    local i = idx[g]
    if i then vals[i] = f(vals[i], v)
    else
      n = n + 1; idx[g] = n; keys[n] = k; vals[n] = v
      if n & (n - 1) == 0 and n >= 1024 then check(n * ENTRY_BYTES) end
    end
    tick = tick + 1
    if tick >= CHECK_EVERY then tick = 0; check(0) end
  end, function()
    flush()
    mem:close()
  end
end
-- count_by_value: counted in C (rt.counter), written out as {value, count}
-- pairs at the end, or earlier when execution memory is refused
function writers.count_by_value(op, w, R, task, what)
  local c, mem = rt.counter(what), rt.agg_memory()
  local add, add_all = c.add, c.add_all
  local calls = 0
  local function check()
    calls = 0
    if not mem:grow(c:bytes()) then w:add_counts(c); mem:reset() end
  end
  local consume = function(x)
    add(c, x)
    calls = calls + 1
    if calls >= 4096 then check() end
  end
  bulk_of[consume] = function(arr)
    add_all(c, arr)
    calls = calls + 16
    if calls >= 4096 then check() end
  end
  return consume, function()
    w:add_counts(c)
    c:close()
    mem:close()
  end
end
-- count_by_key: the same, counting the pairs' keys
function writers.count_by_key(op, w, R, task)
  local consume, finish = writers.count_by_value(op, w, R, task, "count_by_key")
  return function(x) consume((pair_of(x, "count_by_key"))) end, finish
end
-- sort_by_key: each pair to its range, found by binary search among the
-- sampled bounds (ranges in descending order for a descending sort)
function writers.sort_by_key(op, w, R)
  local bounds, asc = op.bounds, op.asc
  local nb = #bounds
  -- bounds all strings or all numbers: a key of that type (not NaN)
  -- compares with Lua's <, which is keyorder's order there
  local bkind = nb > 0 and type(bounds[1]) or nil
  for i = 1, nb do
    local b = bounds[i]
    if type(b) ~= bkind or b ~= b then bkind = nil; break end
  end
  if bkind ~= "string" and bkind ~= "number" then bkind = nil end
  local function plain_lt(a, b) return a < b end
  local f = op.fn -- sort_by: the key of x is f(x), and x goes alone
  return function(x)
    local k
    if f then k = f(x) else k = pair_of(x, "sort_by_key") end
    local lt = (type(k) == bkind and k == k) and plain_lt or key_lt
    local lo, hi = 1, nb + 1 -- first bound not below k
    while lo < hi do
      local mid = (lo + hi) // 2
      if lt(bounds[mid], k) then lo = mid + 1 else hi = mid end
    end
    local part = lo - 1
    if not asc then part = R - 1 - part end
    w:add(part, x)
  end, function() end
end
writers.sort_by = writers.sort_by_key
function writers.group_by_key(op, w, R)
  return function(x)
    local k = pair_of(x, "group_by_key")
    w:add(rt.partition(k, R), x)
  end, function() end
end
function writers.distinct(op, w, R)
  local seen, n, tick = {}, 0, 0
  local mem = rt.agg_memory()
  -- refused memory: forget what was seen (the reduce side dedupes again)
  local function check(extra)
    if not mem:grow(extra) and n > 0 then seen, n = {}, 0; mem:reset() end
  end
  return function(x)
    local g = gkey(x)
    if not seen[g] then
      seen[g] = true; w:add(rt.partition(x, R), x)
      n = n + 1
      if n & (n - 1) == 0 and n >= 1024 then check(n * 48) end
    end
    tick = tick + 1
    if tick >= CHECK_EVERY then tick = 0; check(0) end
  end, function() mem:close() end
end
-- DataFrame exchange: the map-side operators (the last one is
-- rel.partition, adding each row's target partition), then the writer
function writers.df_shuffle(op, w, R, task)
  local fin = {}
  local consume = df_chain(op.map_ops, function(b) w:add_batch(b) end, fin,
                           task)
  return consume, function() run_fins(fin) end
end
function writers.repartition(op, w, R, task)
  local pos = task.partition % R
  return function(x)
    w:add(pos, x)
    pos = pos + 1
    if pos == R then pos = 0 end
  end, function() end
end

-- Accumulators: acc:add(x) on an executor lands here (the accumulator's
-- add function looks __ember_acc_add up in its _ENV, which is this state's
-- globals); updates are returned with the task's result and applied on the
-- driver only if the task succeeds, once per partition.
local acc_updates
function __ember_acc_add(acc, x)
  local id = acc.id
  local u = acc_updates[id]
  if u == nil then acc_updates[id] = x
  elseif acc.merge then acc_updates[id] = acc.merge(u, x)
  else acc_updates[id] = u + x end
end

debug.getregistry()["ember.acc_current"] = function() return acc_updates end

local function updates_list()
  local out = {}
  for id, v in pairs(acc_updates) do out[#out + 1] = {id, v} end
  return out
end

-- Broadcast variables arrive as their id; b.value fetches the value once
-- per executor (rt.bcast_get) and keeps it in this state.
local bcast_mt = {__name = "ember.Broadcast"}
bcast_mt.__index = function(b, k)
  if k == "value" then
    local v = rt.bcast_get(rawget(b, "id"))
    rawset(b, "value", v)
    return v
  end
end
debug.getregistry()["ember.bcast_proxy"] = function(id)
  return setmetatable({id = id}, bcast_mt)
end

local M = {}

-- Run one task.  stage: {is_map, root, shuffle_id, out_parts, out, nodes};
-- task: {partition, attempt, task_id, stage_id}.  Returns the encoded
-- result (result stage) or the array of reduce-partition sizes (map stage).
function M.run_task(stage, task)
  local fin = {}
  local p = task.partition
  acc_updates = {}
  if stage.is_map then
    local op = stage.out
    local mk = writers[op.op]
    if not mk then error("unknown shuffle " .. tostring(op.op), 0) end
    local w = rt.writer(stage.shuffle_id, task.task_id, stage.out_parts)
    local consume, finish = mk(op, w, stage.out_parts, task)
    compute(stage, stage.root, p, consume, fin, task)
    for i = #fin, 1, -1 do fin[i]() end
    finish()
    return w:commit(), updates_list()
  end
  local a = stage.out
  local mk = actions[a.op]
  if not mk then error("unknown action " .. tostring(a.op), 0) end
  local consume, finish = mk(a, task)
  local ok, e = xpcall(function()
    compute(stage, stage.root, p, consume, fin, task)
    for i = #fin, 1, -1 do fin[i]() end
  end, rt.handler)
  if not ok and e ~= STOP then error(e, 0) end
  return rt.encode(finish()), updates_list()
end

return M
