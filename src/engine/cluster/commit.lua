-- Commits a transaction (transaction.rs): checks that no record it read changed, then
-- writes its records, leases, timers and gauges, and appends its events.
local a = cjson.decode(ARGV[1])
-- One MGET reads every record to check and the log state of every event's user.
local keys = {}
for _, c in ipairs(a.check) do table.insert(keys, c[1]) end
for _, e in ipairs(a.ev) do table.insert(keys, e[1]) end
local vals = each_chunk('MGET', keys)
for i, c in ipairs(a.check) do
  local v = vals[i] and tonumber(string.match(vals[i], '^(%d+)\n')) or 0
  if v ~= tonumber(c[2]) then return {0} end
end
if a.claim ~= cjson.null and redis.call('ZREM', a.skey, a.claim) == 0 then return {2} end
if #a.put > 0 then
  local ver = redis.call('INCR', a.vkey)
  -- A record is one string: version, links (what load.lua follows), the record.
  for _, p in ipairs(a.put) do
    redis.call('SET', p[1], ver .. '\n' .. p[3] .. '\n' .. p[2], 'EX', a.rttl)
  end
end
each_chunk('DEL', a.del)
if a.fired ~= nil and a.fired ~= cjson.null then redis.call('ZREM', a.tkey, a.fired) end
for _, t in ipairs(a.tadd) do redis.call('ZADD', a.tkey, t[1], t[2]) end
for _, g in ipairs(a.gauge) do redis.call('HINCRBY', a.gkey, g[1], g[2]) end
if a.hold ~= cjson.null then redis.call('ZADD', a.skey, a.hold[1], a.hold[2]) end
local out = {1}
local now, max, age, ttl = tonumber(a.now), tonumber(a.max), tonumber(a.age), tonumber(a.ttl)
local maxbytes = tonumber(a.maxbytes)
-- Each event goes to its user's channel (`a.chan` is the part before the user). Each
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
  local r = append(m or nil, e[2], now, max, age, maxbytes, ttl, e[3], e[4], e[5], ARGV[e[6]], a.chan .. e[7], e[7])
  table.insert(out, r and r[2] or 0)
end
for _, k in ipairs(order) do
  if metas[k] then append_done(k, metas[k], ttl) end
end
return out
