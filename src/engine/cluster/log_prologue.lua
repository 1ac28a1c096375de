local function ensure(meta)
  if redis.call('EXISTS', meta) == 0 then
    local t = redis.call('TIME')
    local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    redis.call('HSET', meta, 'epoch', ms, 'seq', 0, 'evicted', 0)
  end
end
local function evict(meta, log, now, max, age)
  while true do
    local len = redis.call('XLEN', log)
    if len == 0 then return end
    local first = redis.call('XRANGE', log, '-', '+', 'COUNT', 1)[1]
    local at = 0
    for i = 1, #first[2], 2 do
      if first[2][i] == 'at' then at = tonumber(first[2][i + 1]) end
    end
    if len > max or at + age <= now then
      redis.call('XDEL', log, first[1])
      redis.call('HSET', meta, 'evicted', string.match(first[1], '%-(%d+)$'))
    else
      return
    end
  end
end
-- Appends one event to a user's log and publishes it for live delivery (in log order).
local function append(meta, log, now, max, age, ttl, aud, conn, name, data, chan, user)
  ensure(meta)
  evict(meta, log, now, max, age)
  local seq = redis.call('HINCRBY', meta, 'seq', 1)
  redis.call('XADD', log, '0-' .. seq, 'aud', aud, 'conn', conn, 'name', name, 'data', data, 'at', now)
  evict(meta, log, now, max, age)
  redis.call('EXPIRE', meta, ttl)
  redis.call('EXPIRE', log, ttl)
  local epoch = redis.call('HGET', meta, 'epoch')
  redis.call('PUBLISH', chan, cjson.encode({u = user, e = epoch, s = seq, a = aud, c = conn, n = name, d = data}))
  return {epoch, seq}
end
