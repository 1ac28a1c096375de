-- Commits a transaction (transaction.rs): checks that no record it read changed, charges
-- the request's rate when it comes with one (rate.lua's `charge_read`; a request whose
-- records were this node's copies, cache.rs, charges here rather than in load.lua), then
-- writes its records, leases, timers and gauges, and appends its events.
-- Returns {1, version written (0: none), ...} when committed; {0, the checked records
-- as they are now...} when one changed (so the node's copies catch up); {2} when the
-- lease to claim is gone; {3, wait_ms} when the rate is used up. Only {1} changes
-- anything.
-- `k`, what every commit of a node names the same (keys, limits, the channels' stem),
-- is a table the node writes before this script (script_args.rs, `CommitFixed::lua`).
local a = cjson.decode(ARGV[1])
-- One MGET reads every record to check, the log state of every event's user, and the
-- rate's key.
local keys = {}
for _, c in ipairs(a.check) do table.insert(keys, c[1]) end
for _, e in ipairs(a.ev) do table.insert(keys, e[1]) end
local rate = a.rate ~= nil and a.rate ~= cjson.null and a.rate or nil
if rate then table.insert(keys, rate[1]) end
local vals = each_chunk('MGET', keys)
for i, c in ipairs(a.check) do
  local v = vals[i] and tonumber(string.match(vals[i], '^(%d+)\n')) or 0
  if v ~= tonumber(c[2]) then
    local now_rows = {0}
    for j = 1, #a.check do now_rows[j + 1] = vals[j] end
    return now_rows
  end
end
if rate then
  local wait = charge_read(rate[1], vals[#keys], tonumber(rate[2]), tonumber(rate[3]), tonumber(rate[4]), tonumber(rate[5]))
  if wait > 0 then return {3, wait} end
end
if a.claim ~= cjson.null and redis.call('ZREM', k.skey, a.claim) == 0 then return {2} end
local ver = 0
if #a.put > 0 then
  ver = redis.call('INCR', k.vkey)
  if ver == 1 then
    -- A new counter, or one Redis lost (a restart, a failover): it starts at the time
    -- in microseconds, past every version the lost one gave, so that no version is
    -- ever given twice (nodes keep copies of records by version, cache.rs).
    local t = redis.call('TIME')
    ver = tonumber(t[1]) * 1000000 + tonumber(t[2])
    redis.call('SET', k.vkey, string.format('%d', ver))
  end
  -- A record is one string: version, links (what load.lua follows), the record. (Lua
  -- writes numbers past 10^14 with an exponent: the version is formatted as an integer.)
  local v = string.format('%d', ver)
  for _, p in ipairs(a.put) do
    redis.call('SET', p[1], v .. '\n' .. p[3] .. '\n' .. p[2], 'EX', k.rttl)
  end
end
each_chunk('DEL', a.del)
if a.fired ~= nil and a.fired ~= cjson.null then redis.call('ZREM', k.tkey, a.fired) end
for _, t in ipairs(a.tadd) do redis.call('ZADD', k.tkey, t[1], t[2]) end
for _, g in ipairs(a.gauge) do redis.call('HINCRBY', k.gkey, g[1], g[2]) end
if a.hold ~= cjson.null then redis.call('ZADD', k.skey, a.hold[1], a.hold[2]) end
local out = {1, ver}
local now, max, age, ttl = tonumber(a.now), tonumber(k.max), tonumber(k.age), tonumber(k.ttl)
local maxbytes = tonumber(k.maxbytes)
-- Each event goes to its user's channel (`k.chan` is the part before the user). Each
-- event's data is an argument of its own (ARGV[e[6]]), not a string inside the JSON:
-- it is neither escaped nor decoded on its way to the log. A user's state is parsed
-- once and saved once, however many of the events are theirs.
local metas = {}
local order = {}
for i, e in ipairs(a.ev) do
  if metas[e[1]] == nil then
    metas[e[1]] = meta_parse(vals[#a.check + i]) or false
    table.insert(order, e[1])
  end
  local m = metas[e[1]]
  local r = append(m or nil, e[2], now, max, age, maxbytes, ttl, e[3], e[4], e[5], ARGV[e[6]], k.chan .. e[7], e[7])
  table.insert(out, r and r[2] or 0)
end
for _, k in ipairs(order) do
  if metas[k] then append_done(k, metas[k], ttl) end
end
return out
