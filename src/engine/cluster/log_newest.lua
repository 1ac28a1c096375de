ensure(KEYS[1], KEYS[2], tonumber(ARGV[1]))
local m = redis.call('HMGET', KEYS[1], 'epoch', 'seq')
return {m[1], m[2]}
