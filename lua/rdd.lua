-- rdd.lua -- module `ember.rdd`: sessions and the RDD API (driver side).
--
-- Transformations build a lazy plan: every Dataset holds a plan node
-- {id, kind, nparts, parents, bytes}; `bytes` is the node's description
-- (operation, functions with their upvalues) encoded once, when the
-- transformation is called, so a closure that cannot ship is reported at
-- the line that created it, before any task runs.  An action gathers the
-- nodes its dataset depends on and hands them to the C driver
-- (core.run_job), which cuts stages at shuffle nodes and runs tasks on the
-- executors; the encoded per-partition results come back and are combined
-- here.  This module owns the plan-node ids (new_node) and the Session and
-- Dataset classes; the DataFrame layer (lua/df/) builds on new_node,
-- dataset and run, and adds its methods to Session (df/read.lua).  The
-- public `ember` table is assembled in ember.lua.
local core = require("ember.core")
local KIND = require("ember.plan_kind")
local key_lt = require("ember.keyorder").key_lt

local SOURCE, NARROW, SHUFFLE, UNION = KIND.SOURCE, KIND.NARROW, KIND.SHUFFLE, KIND.UNION

local M = {}

local Session = {}
Session.__index = Session
Session.__name = "ember.Session"

local Dataset = {}
Dataset.__index = Dataset
Dataset.__name = "ember.Dataset"

local next_id = 0
local apply_updates

-- a frame of C or of ember's own modules (chunk names "[ember]",
-- "[ember.rdd]", "[ember.df.frame]", ...), not of the user's script
local function ember_frame(info)
  return info.what == "C" or info.short_src:find("^%[ember[%].]") ~= nil
end
M.ember_frame = ember_frame

-- where in the user's script we were called from ("job.lua:12"): the
-- first frame outside ember's modules and outside C
local function caller(level)
  for l = level + 1, level + 20 do
    local info = debug.getinfo(l, "Sl")
    if not info then break end
    if not ember_frame(info) then
      return (info.short_src or "?") .. ":" .. (info.currentline or 0)
    end
  end
  return "?"
end

local function new_node(kind, nparts, parents, payload, level)
  local ok, bytes = pcall(core.encode, payload)
  if not ok then
    error(tostring(bytes), level + 1)
  end
  next_id = next_id + 1
  return {id = next_id, kind = kind, nparts = nparts, parents = parents,
          bytes = bytes, op = payload.op or payload.src}
end

local function check_open(sc)
  if getmetatable(sc) ~= Session then
    error("expected an ember.Session (use sc:method, not sc.method)", 3)
  end
  if sc._closed then error("ember.Session is closed", 3) end
end

local function check_ds(ds)
  if getmetatable(ds) ~= Dataset then
    error("expected an ember.Dataset (use ds:method, not ds.method)", 3)
  end
  check_open(ds.sc)
end

local function check_fn(f, what)
  if type(f) ~= "function" then
    error(what .. " expects a function, got " .. type(f), 3)
  end
end

local function check_parts(n, what, level)
  if n == nil then return nil end
  if math.type(n) ~= "integer" or n < 1 then
    error(what .. ": number of partitions must be a positive integer, got " ..
          tostring(n), level + 1)
  end
  return n
end

local function dataset(sc, node)
  return setmetatable({sc = sc, node = node}, Dataset)
end

---------------------------------------------------------------- session

-- ember.session{app = "name", master = "local[2]", conf = {k = v}}
function M.session(opts)
  opts = opts or {}
  if type(opts) ~= "table" then
    error("ember.session expects a table of options, got " .. type(opts), 2)
  end
  for k in pairs(opts) do
    if k ~= "app" and k ~= "master" and k ~= "conf" then
      error("ember.session: unknown option '" .. tostring(k) ..
            "' (valid: app, master, conf)", 2)
    end
  end
  local ok, s = pcall(core.session_new, opts)
  if not ok then error(s, 2) end
  local sc = setmetatable({_s = s, app = opts.app or "ember",
                          _accs = setmetatable({}, {__mode = "v"}),
                          _persisted = {}}, Session)
  sc.app_id = s:app_id()
  sc.master = s:master()
  return sc
end

function Session:default_parallelism()
  check_open(self)
  return self._s:default_parallelism()
end

function Session:stop()
  if getmetatable(self) ~= Session then error("expected an ember.Session", 2) end
  if not self._closed then
    self._closed = true
    self._s:stop()
  end
end
Session.close = Session.stop
Session.__close = Session.stop
Session.__gc = Session.stop

function Session:conf(key)
  check_open(self)
  return self._s:conf(key)
end

-- sc:parallelize(array, num_slices)
function Session:parallelize(data, num_slices)
  check_open(self)
  if type(data) ~= "table" then
    error("parallelize expects an array, got " .. type(data), 2)
  end
  local n = #data
  num_slices = check_parts(num_slices, "parallelize", 2) or
               self:default_parallelism()
  local slices = {}
  for i = 0, num_slices - 1 do
    local s, e = (i * n) // num_slices, ((i + 1) * n) // num_slices
    local sl = {}
    for j = s + 1, e do sl[#sl + 1] = data[j] end
    slices[i + 1] = sl
  end
  return dataset(self, new_node(SOURCE, num_slices, {},
                                {src = "parallelize", slices = slices}, 2))
end

-- sc:range(n [, num_slices]) -> 0, 1, ..., n-1
-- sc:range(start, stop, step [, num_slices])
function Session:range(a, b, c, d)
  check_open(self)
  local start, stop, step, slices
  if c ~= nil then start, stop, step, slices = a, b, c, d
  else start, stop, step, slices = 0, a, 1, b end
  for _, v in ipairs({start, stop, step}) do
    if math.type(v) ~= "integer" then
      error("range expects integers, got " .. tostring(v), 2)
    end
  end
  if step == 0 then error("range: step must not be 0", 2) end
  slices = check_parts(slices, "range", 2) or self:default_parallelism()
  local count = 0
  if step > 0 and stop > start then count = (stop - start + step - 1) // step
  elseif step < 0 and stop < start then count = (start - stop - step - 1) // (-step) end
  return dataset(self, new_node(SOURCE, slices, {},
    {src = "range", start = start, step = step, count = count,
     slices = slices}, 2))
end

-- sc:text_file(path_or_glob, {min_partitions = n})
function Session:text_file(path, opts)
  check_open(self)
  if type(path) ~= "string" then
    error("text_file expects a path, got " .. type(path), 2)
  end
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "min_partitions" then
      error("text_file: unknown option '" .. tostring(k) ..
            "' (valid: min_partitions)", 2)
    end
  end
  local minp = check_parts(opts.min_partitions, "text_file", 2) or
               math.min(self:default_parallelism(), 2)
  local ok, splits = pcall(self._s.plan_source, self._s, "text.scan",
                           {path = path}, minp)
  if not ok then error(splits, 2) end
  local node = new_node(SOURCE, #splits, {},
    {src = "op", op = "text.scan", params = {path = path}, splits = splits}, 2)
  -- local files: every split prefers this host (NODE_LOCAL)
  node.prefs = {}
  for i = 1, #splits do node.prefs[i] = "localhost" end
  return dataset(self, node)
end

-- sc:set_log_level("info")
function Session:set_log_level(level)
  check_open(self)
  self._s:set_log_level(level)
end

---------------------------------------------------------- transformations

local function narrow_op(name)
  return function(self, f)
    check_ds(self)
    check_fn(f, name)
    local n = self.node
    return dataset(self.sc, new_node(NARROW, n.nparts, {n},
                                     {op = name, fn = f}, 2))
  end
end

Dataset.map = narrow_op("map")
Dataset.flat_map = narrow_op("flat_map")
Dataset.filter = narrow_op("filter")
Dataset.map_partitions = narrow_op("map_partitions")
Dataset.key_by = narrow_op("key_by")
Dataset.map_values = narrow_op("map_values")

-- ds:apply("op.name", {params}): a transform operator from a plugin,
-- applied to the elements as strings
function Dataset:apply(name, params)
  check_ds(self)
  if type(name) ~= "string" then
    error("apply expects an operator name, got " .. type(name), 2)
  end
  params = params or {}
  local ok, e = pcall(self.sc._s.check_op, self.sc._s, name, params)
  if not ok then error(e, 2) end
  local n = self.node
  return dataset(self.sc, new_node(NARROW, n.nparts, {n},
    {op = "apply", name = name, params = params}, 2))
end

local function shuffle(self, op, nparts, fn, level)
  local n = self.node
  nparts = check_parts(nparts, op, level + 1) or n.nparts
  return dataset(self.sc, new_node(SHUFFLE, nparts, {n},
                                   {op = op, fn = fn}, level + 1))
end

function Dataset:reduce_by_key(f, num_partitions)
  check_ds(self)
  check_fn(f, "reduce_by_key")
  return shuffle(self, "reduce_by_key", num_partitions, f, 2)
end

local SORT_SAMPLE = 20 -- keys sampled per output partition (Spark: 20)

-- The shuffle node of a sort: a first job samples the keys (keyf(x) of a
-- seeded reservoir per partition: the same sample on every run) and cuts
-- R ranges; the sort shuffles each element to its range and each reduce
-- task sorts its range (which must fit in the task's memory).  op is
-- "sort_by_key" (pairs, by their key) or "sort_by" (elements, by fn(x),
-- computed again on the reduce side rather than shuffled with them).
local function sort_node(self, op, fn, keyf, ascending, num_partitions)
  if ascending == nil then ascending = true end
  if type(ascending) ~= "boolean" then
    error(op .. ": ascending must be a boolean, got " .. type(ascending), 3)
  end
  local n = self.node
  local R = check_parts(num_partitions, op, 3) or n.nparts
  local per = math.ceil(3 * SORT_SAMPLE * R / math.max(1, n.nparts))
  local sample = self:map_partitions(function(it)
    local res, seen, state = {}, 0, 12345
    for x in it do
      local k = keyf(x)
      seen = seen + 1
      if seen <= per then res[seen] = k
      else
        state = (state * 1103515245 + 12345) % 2147483648
        local j = state % seen + 1
        if j <= per then res[j] = k end
      end
    end
    return res
  end)
  local ok, keys = pcall(sample.collect, sample)
  if not ok then error(keys, 3) end
  local ok2, e = pcall(table.sort, keys, key_lt)
  if not ok2 then error(op .. ": " .. tostring(e), 3) end
  local bounds = {}
  for j = 1, R - 1 do
    local b = keys[math.floor(j * #keys / R) + 1]
    if b ~= nil and (#bounds == 0 or key_lt(bounds[#bounds], b)) then
      bounds[#bounds + 1] = b
    end
  end
  return dataset(self.sc, new_node(SHUFFLE, R, {n},
    {op = op, fn = fn, bounds = bounds, asc = ascending}, 3))
end

-- Spark's sortByKey: pairs in key order, ascending by default, in
-- num_partitions ranges
function Dataset:sort_by_key(ascending, num_partitions)
  check_ds(self)
  return sort_node(self, "sort_by_key", nil, function(p)
    if type(p) ~= "table" or p[1] == nil then
      error("sort_by_key expects {key, value} pairs, got " .. type(p), 0)
    end
    return p[1]
  end, ascending, num_partitions)
end

-- Spark's sortBy: the elements in the order of f(x)
function Dataset:sort_by(f, ascending, num_partitions)
  check_ds(self)
  check_fn(f, "sort_by")
  return sort_node(self, "sort_by", f, f, ascending, num_partitions)
end

function Dataset:group_by_key(num_partitions)
  check_ds(self)
  return shuffle(self, "group_by_key", num_partitions, nil, 2)
end

function Dataset:distinct(num_partitions)
  check_ds(self)
  return shuffle(self, "distinct", num_partitions, nil, 2)
end

function Dataset:repartition(n)
  check_ds(self)
  if n == nil then error("repartition expects a number of partitions", 2) end
  return shuffle(self, "repartition", n, nil, 2)
end

function Dataset:union(other)
  check_ds(self)
  if getmetatable(other) ~= Dataset then
    error("union expects an ember.Dataset, got " .. type(other), 2)
  end
  if other.sc ~= self.sc then
    error("union of datasets from different sessions", 2)
  end
  local a, b = self.node, other.node
  return dataset(self.sc, new_node(UNION, a.nparts + b.nparts, {a, b},
                                   {op = "union", parts = {a.nparts, b.nparts}}, 2))
end

------------------------------------------------------------------ storage

local LEVELS = {NONE = 0, MEMORY_ONLY = 1, MEMORY_AND_DISK = 2,
                MEMORY_ONLY_SER = 3, MEMORY_AND_DISK_SER = 4, DISK_ONLY = 5}
M.StorageLevel = {}
for name in pairs(LEVELS) do M.StorageLevel[name] = name end

-- ds:persist("MEMORY_AND_DISK"): keep partitions once computed (lazy: the
-- next action that computes a partition stores it)
function Dataset:persist(level)
  check_ds(self)
  level = level or "MEMORY_ONLY"
  local code = LEVELS[level]
  if not code then
    local names = {}
    for k in pairs(LEVELS) do names[#names + 1] = k end
    table.sort(names)
    error("unknown storage level '" .. tostring(level) .. "' (valid: " ..
          table.concat(names, ", ") .. ")", 2)
  end
  local n = self.node
  if n.level and n.level ~= 0 and code ~= 0 and n.level ~= code then
    error("cannot change the storage level of a persisted dataset (from " ..
          n.level_name .. " to " .. level .. "): unpersist it first", 2)
  end
  n.level, n.level_name = code, level
  self.sc._persisted[n.id] = self
  return self
end

function Dataset:cache()
  check_ds(self)
  return self:persist("MEMORY_ONLY")
end

function Dataset:unpersist()
  check_ds(self)
  local n = self.node
  if n.level and n.level ~= 0 then
    self.sc._s:unpersist(n.id)
  end
  n.level, n.level_name = 0, nil
  self.sc._persisted[n.id] = nil
  return self
end

function Dataset:storage_level()
  check_ds(self)
  return self.node.level_name or "NONE"
end

-- sc:storage_info(): one row per persisted dataset
function Session:storage_info()
  check_open(self)
  local rows, by = {}, {}
  for id, ds in pairs(self._persisted) do
    local r = {id = id, level = ds.node.level_name, partitions = ds.node.nparts,
               cached_partitions = 0, memory = 0, disk = 0, executors = {}}
    rows[#rows + 1] = r
    by[id] = r
  end
  local seen = {}
  for _, b in ipairs(self._s:storage_blocks()) do
    local r = by[b.node]
    if r then
      local key = b.node .. ":" .. b.partition
      if not seen[key] then
        seen[key] = true
        r.cached_partitions = r.cached_partitions + 1
      end
      r.memory = r.memory + b.memory
      r.disk = r.disk + b.disk
      r.executors[b.executor] = (r.executors[b.executor] or 0) + 1
    end
  end
  table.sort(rows, function(a, b) return a.id < b.id end)
  return rows
end

function Dataset:num_partitions()
  check_ds(self)
  return self.node.nparts
end

function Dataset:to_debug_string()
  check_ds(self)
  local lines = {}
  local function walk(n, depth)
    lines[#lines + 1] = string.rep("  ", depth) .. "(" .. n.nparts .. ") " ..
      tostring(n.op) .. " [" .. n.id .. "]" ..
      (n.kind == SHUFFLE and " <- shuffle" or "")
    for _, p in ipairs(n.parents) do walk(p, depth + 1) end
  end
  walk(self.node, 0)
  return table.concat(lines, "\n")
end

------------------------------------------------------------- accumulators

local Accumulator = {}
Accumulator.__name = "ember.Accumulator"

-- acc:add(x): on the driver, merges at once; on an executor the same
-- function finds the executor's __ember_acc_add in its (rebound) _ENV and
-- records a per-task update, applied here when the task succeeds.
local function acc_add(self, x)
  return __ember_acc_add(self, x)
end

function __ember_acc_add(acc, x)
  local real = acc
  if real.merge then real.value = real.merge(real.value, x)
  else real.value = real.value + x end
end

-- sc:accumulator(0) (numeric sum) or sc:accumulator(init, merge_fn)
function Session:accumulator(init, merge)
  check_open(self)
  if merge == nil and type(init) ~= "number" then
    error("accumulator: a non-numeric accumulator needs a merge function", 2)
  end
  if merge ~= nil and type(merge) ~= "function" then
    error("accumulator expects a merge function, got " .. type(merge), 2)
  end
  self._next_acc = (self._next_acc or 0) + 1
  local acc = setmetatable({id = self._next_acc, value = init, merge = merge,
                            add = acc_add}, Accumulator)
  self._accs[acc.id] = acc
  return acc
end
Accumulator.__index = Accumulator
Accumulator.__tostring = function(a)
  return "ember.Accumulator(" .. tostring(a.value) .. ")"
end

apply_updates = function(sc, updates)
  for _, task_updates in ipairs(updates or {}) do
    for _, u in ipairs(task_updates) do
      local acc = sc._accs[u[1]]
      if acc then
        if acc.merge then acc.value = acc.merge(acc.value, u[2])
        else acc.value = acc.value + u[2] end
      end
    end
  end
end

---------------------------------------------------------------- broadcasts

local Broadcast = {__name = "ember.Broadcast"}
Broadcast.__index = function(b, k)
  if k == "value" then
    if rawget(b, "_destroyed") then
      error("broadcast " .. rawget(b, "id") .. " was destroyed", 2)
    end
    return rawget(b, "_value")
  end
  return Broadcast[k]
end
Broadcast.__tostring = function(b) return "ember.Broadcast(" .. b.id .. ")" end

-- sc:broadcast(value): the value is encoded once, shipped to each executor
-- at most once, and read in tasks as b.value
function Session:broadcast(value)
  check_open(self)
  local ok, bytes = pcall(core.encode, value)
  if not ok then error(bytes, 2) end
  local id = self._s:broadcast_put(bytes)
  return setmetatable({id = id, _value = value, _sc = self}, Broadcast)
end

-- drop the executors' copies (fetched again when used)
function Broadcast:unpersist()
  if rawget(self, "_destroyed") then error("broadcast " .. self.id .. " was destroyed", 2) end
  rawget(self, "_sc")._s:broadcast_unpersist(self.id)
end

-- forget the value everywhere: later use is an error
function Broadcast:destroy()
  if not rawget(self, "_destroyed") then
    rawget(self, "_sc")._s:broadcast_destroy(self.id)
    rawset(self, "_destroyed", true)
    rawset(self, "_value", nil)
  end
end

-- how many times executors fetched it (for tests and tuning)
function Broadcast:fetch_count()
  return rawget(self, "_sc")._s:broadcast_fetches(self.id)
end

-------------------------------------------------------------- checkpoints

-- sc:set_checkpoint_dir(dir): where ds:checkpoint() writes partitions
function Session:set_checkpoint_dir(dir)
  check_open(self)
  if type(dir) ~= "string" then
    error("set_checkpoint_dir expects a directory path, got " .. type(dir), 2)
  end
  local ok, e = pcall(core.make_dir, dir)
  if not ok then error(e, 2) end
  self._ckpt_dir = dir
end

-- ds:checkpoint(): the next action writes this dataset's partitions to the
-- checkpoint directory and truncates its lineage: later actions read the
-- files instead of recomputing from the original input
function Dataset:checkpoint()
  check_ds(self)
  if not self.sc._ckpt_dir then
    error("checkpoint directory has not been set: call sc:set_checkpoint_dir(dir) first", 2)
  end
  self.node.ckpt_pending = true
  return self
end

function Dataset:is_checkpointed()
  check_ds(self)
  return self.node.checkpointed ~= nil
end

------------------------------------------------------------------ actions

local run

-- Write the pending checkpoints a plan depends on, then cut their lineage.
local function write_checkpoints(self, level)
  local pending, seen = {}, {}
  local function walk(n)
    if seen[n.id] then return end
    seen[n.id] = true
    for _, p in ipairs(n.parents) do walk(p) end
    if n.ckpt_pending then pending[#pending + 1] = n end
  end
  walk(self.node)
  for _, n in ipairs(pending) do
    local dir = self.sc._ckpt_dir .. "/rdd-" .. n.id
    local ok, e = pcall(core.make_dir, dir)
    if not ok then error(e, level + 1) end
    n.ckpt_pending = nil
    run(dataset(self.sc, n), {op = "checkpoint_write", path = dir}, nil,
        "checkpoint", level + 1)
    -- the lineage ends here now
    local payload = {src = "checkpoint", path = dir}
    n.kind, n.parents, n.prefs = SOURCE, {}, nil
    n.bytes = core.encode(payload)
    n.op = "checkpoint"
    n.checkpointed = dir
  end
end

-- run the action on partitions (nil = all); returns decoded results
function run(self, action, partitions, what, level)
  if action.op ~= "checkpoint_write" then write_checkpoints(self, level + 1) end
  local nodes, seen = {}, {}
  local function walk(n)
    if seen[n.id] then return end
    seen[n.id] = true
    for _, p in ipairs(n.parents) do walk(p) end
    local pids = {}
    for i, p in ipairs(n.parents) do pids[i] = p.id end
    nodes[#nodes + 1] = {n.id, n.kind, n.nparts, pids, n.bytes, n.prefs,
                         n.level or 0}
  end
  walk(self.node)
  local ok, abytes = pcall(core.encode, action)
  if not ok then error(abytes, level + 1) end
  local desc = what .. " at " .. caller(level + 1)
  local res, err, updates = self.sc._s:run_job(nodes, self.node.id, abytes,
                                               partitions, desc)
  if res == nil then
    apply_updates(self.sc, updates)
    error(err, 0)
  end
  apply_updates(self.sc, err)
  return res
end

function Dataset:collect()
  check_ds(self)
  local out, n = {}, 0
  for _, part in ipairs(run(self, {op = "collect"}, nil, "collect", 2)) do
    for i = 1, #part do n = n + 1; out[n] = part[i] end
  end
  return out
end

function Dataset:count()
  check_ds(self)
  local total = 0
  for _, c in ipairs(run(self, {op = "count"}, nil, "count", 2)) do
    total = total + c
  end
  return total
end

-- like Spark: scan one partition, then more (x4) until n are found
function Dataset:take(n)
  check_ds(self)
  if math.type(n) ~= "integer" or n < 0 then
    error("take expects a non-negative integer, got " .. tostring(n), 2)
  end
  local out = {}
  local total, scanned, step = self.node.nparts, 0, 1
  while #out < n and scanned < total do
    local parts = {}
    for p = scanned, math.min(total, scanned + step) - 1 do
      parts[#parts + 1] = p
    end
    local res = run(self, {op = "take", n = n - #out}, parts, "take", 2)
    for _, part in ipairs(res) do
      for i = 1, #part do
        if #out < n then out[#out + 1] = part[i] end
      end
    end
    scanned = scanned + #parts
    step = step * 4
  end
  return out
end

function Dataset:first()
  check_ds(self)
  local t = self:take(1)
  if #t == 0 then error("first: the dataset is empty", 2) end
  return t[1]
end

function Dataset:reduce(f)
  check_ds(self)
  check_fn(f, "reduce")
  local acc, have = nil, false
  for _, part in ipairs(run(self, {op = "reduce", fn = f}, nil, "reduce", 2)) do
    if #part > 0 then
      if have then acc = f(acc, part[1]) else acc, have = part[1], true end
    end
  end
  if not have then error("reduce: the dataset is empty", 2) end
  return acc
end

function Dataset:foreach(f)
  check_ds(self)
  check_fn(f, "foreach")
  run(self, {op = "foreach", fn = f}, nil, "foreach", 2)
end

-- count_by_value and count_by_key: counted in C per map task, combined by
-- a shuffle (n partitions, default the dataset's), collected: a table
-- value -> count, each distinct value received once (values that are
-- tables come back as tables; NaN cannot be a table key)
local function counted(self, op, n, level)
  local ds = shuffle(self, op, n, nil, level + 1)
  local counts, tkeys = {}, {}
  for _, part in ipairs(run(ds, {op = "collect"}, nil, op, level + 1)) do
    for _, vc in ipairs(part) do
      local v = vc[1]
      if type(v) == "table" then
        local g = core.key(v)
        if tkeys[g] == nil then tkeys[g] = v end
        v = tkeys[g]
      elseif v ~= v then
        error(op .. ": the dataset holds NaN, which cannot be a key of " ..
              "the result table (" .. vc[2] .. " times)", level + 1)
      end
      counts[v] = vc[2]
    end
  end
  return counts
end

-- Spark's countByValue: a table value -> number of occurrences
function Dataset:count_by_value(num_partitions)
  check_ds(self)
  return counted(self, "count_by_value", num_partitions, 2)
end

-- Spark's countByKey: a table key -> number of pairs
function Dataset:count_by_key(num_partitions)
  check_ds(self)
  return counted(self, "count_by_key", num_partitions, 2)
end

function Dataset:save_as_text_file(dir)
  check_ds(self)
  if type(dir) ~= "string" then
    error("save_as_text_file expects a directory path, got " .. type(dir), 2)
  end
  local ok, e = pcall(core.prepare_output_dir, dir)
  if not ok then error(e, 2) end
  local ok2, e2 = pcall(run, self, {op = "save_text", path = dir}, nil,
                        "save_as_text_file", 3)
  if not ok2 then
    core.remove_dir(dir)
    error(e2, 2)
  end
  core.write_success(dir)
end

-- what the DataFrame layer (lua/df/) builds on
M.Session, M.Dataset = Session, Dataset
M.new_node, M.dataset = new_node, dataset
M.run = run

return M
