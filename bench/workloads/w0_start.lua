-- W0a: start-up.  One trivial task on the executors of the master given on
-- the command line (the harness uses local-cluster[2,1,512]); the harness
-- times the whole `ember submit`.
local ember = require("ember")
local sc = ember.session{app = "bench-w0-start"}
print("R tasks " .. sc:parallelize({1}, 1):count())
sc:stop()
