-- wrk script for the `resolveActors` (100 random DIDs) scenario of the query_load bench, run
-- against a server held up by `QUERY_LOAD_HOLD=<s>`:
--   wrk -t1 -c50 -d10s --latency -s crates/xrpc/benches/resolve_actors.lua http://<addr> -- <dids.txt>
-- The request targets are built once in `init` (a pool of 5,000), so the client spends its
-- time on HTTP, not on string building.

local pool = {}
local next_target = 1

function init(args)
  local dids = {}
  for line in io.lines(args[1]) do
    dids[#dids + 1] = line
  end
  math.randomseed(42)
  for r = 1, 5000 do
    local parts = {}
    for i = 1, 100 do
      parts[i] = "actors=" .. dids[math.random(#dids)]
    end
    pool[r] = wrk.format("GET", "/xrpc/org.xmtp.identity.resolveActors?" .. table.concat(parts, "&"))
  end
end

function request()
  local target = pool[next_target]
  next_target = next_target % #pool + 1
  return target
end
