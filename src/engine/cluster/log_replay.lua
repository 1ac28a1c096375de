local now, max, age, maxbytes = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[5])
ensure(KEYS[1], KEYS[2], tonumber(ARGV[6]))
evict(KEYS[1], KEYS[2], now, max, age, maxbytes)
local m = redis.call('HMGET', KEYS[1], 'epoch', 'seq', 'evicted')
return {m[1], m[2], m[3], redis.call('XRANGE', KEYS[2], '(0-' .. ARGV[4], '+')}
