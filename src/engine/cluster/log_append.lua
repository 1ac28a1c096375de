if KEYS[3] and redis.call('EXISTS', KEYS[3]) == 1 then return false end
local r = append(KEYS[1], KEYS[2], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]),
  tonumber(ARGV[5]), ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11])
if r and KEYS[3] then redis.call('SET', KEYS[3], '1', 'PX', ARGV[3]) end
return r
