-- df_wordcount.lua -- word count with the DataFrame API: the same job as
-- wordcount.lua, run by vectorized C operators instead of Lua functions.
--
--   ember submit --master 'local-cluster[2,1,512]' df_wordcount.lua FILE [TOP]
local ember = require("ember")
local F = ember
local input = arg[1] or error("usage: df_wordcount.lua FILE [TOP]")
local top = tonumber(arg[2] or 10)
local sc <close> = ember.session{app = "df-wordcount"}

local words = sc.read:text(input)
  :select(F.explode(F.split(F.lower("value"), "[^a-z]+")):alias("word"))
  :filter("word != ''")
local counts = words:group_by("word"):count()
counts:order_by(F.desc("count"), "word"):show(top)
print(("%d distinct words"):format(counts:count()))
