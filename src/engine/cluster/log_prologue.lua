-- Starts a user's log (a stream opened) and keeps it while it is used. The meta hash
-- and the log always get their time to live together, so they expire together.
local function ensure(meta, log, ttl)
  if redis.call('EXISTS', meta) == 0 then
    local t = redis.call('TIME')
    local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    redis.call('HSET', meta, 'epoch', ms, 'seq', 0, 'evicted', 0, 'bytes', 0)
  end
  redis.call('EXPIRE', meta, ttl)
  redis.call('EXPIRE', log, ttl)
end
-- What an event costs in the byte budget (the memory log's `event_cost`).
local function cost(name, data)
  return #name + #data + 96
end
-- An entry's fields as a table.
local function fields(e)
  local f = {}
  for i = 1, #e[2], 2 do f[e[2][i]] = e[2][i + 1] end
  return f
end
-- Drops the oldest events while the log is over a limit (count, age, bytes). The log's
-- entries are 0-(evicted+1) .. 0-seq (eviction only ever takes the oldest), so their
-- count needs no XLEN; `first` is the time of the oldest (nil: not known yet). Returns
-- the new `evicted`, `bytes` and `first`; nothing is read while every limit holds.
local function trim(log, now, max, age, maxbytes, seq, evicted, bytes, first)
  while seq > evicted do
    if first ~= nil and seq - evicted <= max and first + age > now and bytes <= maxbytes then
      return evicted, bytes, first
    end
    local two = redis.call('XRANGE', log, '0-' .. (evicted + 1), '+', 'COUNT', 2)
    if #two == 0 then return seq, 0, nil end
    local f = fields(two[1])
    local at = tonumber(f['at'] or '0')
    if seq - evicted > max or at + age <= now or bytes > maxbytes then
      redis.call('XDEL', log, two[1][1])
      evicted = tonumber(string.match(two[1][1], '%-(%d+)$'))
      bytes = bytes - cost(f['name'] or '', f['data'] or '')
      first = two[2] and tonumber(fields(two[2])['at'] or '0') or nil
    else
      return evicted, bytes, at
    end
  end
  return evicted, bytes, nil
end
-- `trim` for a log not being appended to (a replay), its state saved in `meta`.
local function evict(meta, log, now, max, age, maxbytes)
  local m = redis.call('HMGET', meta, 'seq', 'bytes', 'evicted', 'first')
  local seq, bytes, evicted = tonumber(m[1] or '0'), tonumber(m[2] or '0'), tonumber(m[3] or '0')
  local ev, by, fi = trim(log, now, max, age, maxbytes, seq, evicted, bytes, tonumber(m[4] or ''))
  redis.call('HSET', meta, 'evicted', ev, 'bytes', by, 'first', fi or '')
end
-- Appends one event to a user's log and publishes it for live delivery (in log order).
-- A user with no log (never opened a stream, or it expired unused) gets nothing: no
-- stream could read it. Four commands while no limit is reached, two more per event
-- evicted, two more when the keys' time to live is renewed: whenever the log was empty
-- (so that a log the XADD creates has one), and otherwise once the time since the last
-- renewal passes the slack between the time to live and the replay window (`age`), so
-- that every event outlives its window.
local function append(meta, log, now, max, age, maxbytes, ttl, aud, conn, name, data, chan, user)
  local m = redis.call('HMGET', meta, 'epoch', 'seq', 'bytes', 'evicted', 'first', 'renewed')
  if not m[1] then return false end
  local epoch = m[1]
  local seq = tonumber(m[2]) + 1
  local evicted = tonumber(m[4] or '0')
  local first = tonumber(m[5] or '')
  local renewed = tonumber(m[6] or '0')
  local was_empty = seq - 1 <= evicted
  if was_empty then first = now end
  redis.call('XADD', log, '0-' .. seq, 'aud', aud, 'conn', conn, 'name', name, 'data', data, 'at', now)
  local bytes = tonumber(m[3] or '0') + cost(name, data)
  local ev, by, fi = trim(log, now, max, age, maxbytes, seq, evicted, bytes, first)
  if was_empty or now - renewed >= ttl * 1000 - age then
    renewed = now
    redis.call('EXPIRE', meta, ttl)
    redis.call('EXPIRE', log, ttl)
  end
  redis.call('HSET', meta, 'seq', seq, 'evicted', ev, 'bytes', by, 'first', fi or '', 'renewed', renewed)
  -- Lines, not JSON: no node decodes a frame for a user it holds no stream of, and
  -- the data goes through unescaped (LiveFrame::parse).
  redis.call('PUBLISH', chan, table.concat({user, epoch, seq, aud, conn, name, data}, '\n'))
  return {epoch, seq}
end
