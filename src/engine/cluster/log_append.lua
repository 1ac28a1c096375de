-- One event appended to one user's log. KEYS: state, stream, and the `append_once`
-- key when given (the event is appended only if that key is new).
if KEYS[3] and redis.call('EXISTS', KEYS[3]) == 1 then return false end
local ttl = tonumber(ARGV[5])
local m = meta_parse(redis.call('GET', KEYS[1]))
local r = append(m, KEYS[2], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]),
  ttl, ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11])
if not r then return false end
append_done(KEYS[1], m, ttl)
if KEYS[3] then redis.call('SET', KEYS[3], '1', 'PX', ARGV[3]) end
return r
