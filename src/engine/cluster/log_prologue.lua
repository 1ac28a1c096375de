-- Starts a user's log (a stream opened) and keeps it while it is used.
local function ensure(meta, ttl)
  if redis.call('EXISTS', meta) == 0 then
    local t = redis.call('TIME')
    local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    redis.call('HSET', meta, 'epoch', ms, 'seq', 0, 'evicted', 0, 'bytes', 0)
  end
  redis.call('EXPIRE', meta, ttl)
end
-- What an event costs in the byte budget (the memory log's `event_cost`).
local function cost(name, data)
  return #name + #data + 96
end
local function evict(meta, log, now, max, age, maxbytes)
  while true do
    local len = redis.call('XLEN', log)
    if len == 0 then return end
    local first = redis.call('XRANGE', log, '-', '+', 'COUNT', 1)[1]
    local f = {}
    for i = 1, #first[2], 2 do f[first[2][i]] = first[2][i + 1] end
    local at = tonumber(f['at'] or '0')
    local bytes = tonumber(redis.call('HGET', meta, 'bytes') or '0')
    if len > max or at + age <= now or bytes > maxbytes then
      redis.call('XDEL', log, first[1])
      redis.call('HSET', meta, 'evicted', string.match(first[1], '%-(%d+)$'))
      redis.call('HINCRBY', meta, 'bytes', -cost(f['name'] or '', f['data'] or ''))
    else
      return
    end
  end
end
-- Appends one event to a user's log and publishes it for live delivery (in log order).
-- A user with no log (never opened a stream, or it expired unused) gets nothing: no
-- stream could read it.
local function append(meta, log, now, max, age, maxbytes, ttl, aud, conn, name, data, chan, user)
  if redis.call('EXISTS', meta) == 0 then return false end
  evict(meta, log, now, max, age, maxbytes)
  local seq = redis.call('HINCRBY', meta, 'seq', 1)
  redis.call('XADD', log, '0-' .. seq, 'aud', aud, 'conn', conn, 'name', name, 'data', data, 'at', now)
  redis.call('HINCRBY', meta, 'bytes', cost(name, data))
  evict(meta, log, now, max, age, maxbytes)
  redis.call('EXPIRE', meta, ttl)
  redis.call('EXPIRE', log, ttl)
  local epoch = redis.call('HGET', meta, 'epoch')
  redis.call('PUBLISH', chan, cjson.encode({u = user, e = epoch, s = seq, a = aud, c = conn, n = name, d = data}))
  return {epoch, seq}
end
