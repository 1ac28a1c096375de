-- A replay: the log kept alive, trimmed to exactly its window, and what follows `from`.
local now, max, age, maxbytes = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[5])
local m = ensure(KEYS[1], KEYS[2], tonumber(ARGV[6]))
local evicted, bytes = m.evicted, m.bytes
trim(KEYS[2], m, now, max, age, maxbytes, 0)
if m.evicted ~= evicted or m.bytes ~= bytes then meta_save(KEYS[1], m) end
return {m.epoch, m.seq, m.evicted, redis.call('XRANGE', KEYS[2], '(0-' .. ARGV[4], '+')}
