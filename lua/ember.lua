-- ember.lua -- the `ember` module as scripts see it (driver side):
-- require("ember").
--
-- This file only assembles the public table from the modules that own its
-- parts; each names its own dependencies with require:
--   ember.core        C bindings (lua/lua_ember.c): sessions, the value
--                     codec, output directories
--   ember.rdd         sessions and the RDD API, plan nodes and actions
--   ember.df.column   Column expressions and the functions (col, lit, sum...)
--   ember.df.frame    DataFrames: transformations -> logical plans
--   ember.df.read     sc.read, sc:create_dataframe
--   ember.df.actions  collect, count, show, explain, persist (optimizer,
--                     physical planning and compilation behind them)
--   ember.df.write    df.write
-- The SQL expression parser is require("ember.sqlexpr").
local core = require("ember.core")
local null = require("ember.null")
local rdd = require("ember.rdd")
local column = require("ember.df.column")
require("ember.df.frame")
require("ember.df.read")
require("ember.df.actions")
require("ember.df.write")

local ember = {
  null = null,
  version = core.version,
  _VERSION = "ember " .. core.version,
  session = rdd.session,
  StorageLevel = rdd.StorageLevel,
  strsplit = core.strsplit,
}
for name, f in pairs(column.functions) do ember[name] = f end

return ember
