local a = cjson.decode(ARGV[1])
for _, c in ipairs(a.check) do
  local v = tonumber(redis.call('HGET', c[1], 'v') or '0')
  if v ~= tonumber(c[2]) then return {0} end
end
if a.claim ~= cjson.null and redis.call('ZREM', a.skey, a.claim) == 0 then return {2} end
if #a.put > 0 then
  local ver = redis.call('INCR', a.vkey)
  for _, p in ipairs(a.put) do
    redis.call('HSET', p[1], 'v', ver, 'd', p[2], 'l', p[3])
    redis.call('EXPIRE', p[1], a.rttl)
  end
end
for _, k in ipairs(a.del) do redis.call('DEL', k) end
if a.fired ~= nil and a.fired ~= cjson.null then redis.call('ZREM', a.tkey, a.fired) end
for _, t in ipairs(a.tadd) do redis.call('ZADD', a.tkey, t[1], t[2]) end
for _, g in ipairs(a.gauge) do redis.call('HINCRBY', a.gkey, g[1], g[2]) end
if a.hold ~= cjson.null then redis.call('ZADD', a.skey, a.hold[1], a.hold[2]) end
local out = {1}
local now, max, age, ttl = tonumber(a.now), tonumber(a.max), tonumber(a.age), tonumber(a.ttl)
local maxbytes = tonumber(a.maxbytes)
-- Each event goes to its user's channel (`a.chan` is the part before the user).
-- Each event's data is an argument of its own (ARGV[e[6]]), not a string inside the
-- JSON: it is neither escaped nor decoded on its way to the log.
for _, e in ipairs(a.ev) do
  local r = append(e[1], e[2], now, max, age, maxbytes, ttl, e[3], e[4], e[5], ARGV[e[6]], a.chan .. e[7], e[7])
  table.insert(out, r and r[2] or 0)
end
return out
