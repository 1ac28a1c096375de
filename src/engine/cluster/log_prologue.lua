-- A user's log is three keys with the same time to live: the stream of events (ids
-- 0-1, 0-2, ...; eviction only ever takes the oldest), its state, one string
-- "epoch seq evicted bytes first renewed" ('-' for a `first` not known), so that a
-- commit reads every recipient's state and every record it checks with one MGET, and a
-- list beside the stream holding each event's "seq at cost", so that eviction reads
-- those few bytes rather than the events themselves (Redis hashes every string a
-- script is handed, byte by byte: reading 3 KB events to learn their size and age cost
-- more than the rest of a commit).

-- The key of the list beside `log`. A user id holds no control character, so no other
-- key ends this way.
local function costs_key(log)
  return log .. '\ncosts'
end

-- The state in `v` (a GET or MGET reply; false when the log does not exist).
local function meta_parse(v)
  if not v then return nil end
  local e, s, ev, b, f, r = string.match(v, '^(%d+) (%d+) (%d+) (%d+) (%S+) (%d+)$')
  if not e then return nil end
  return {epoch = e, seq = tonumber(s), evicted = tonumber(ev), bytes = tonumber(b),
    first = tonumber(f), renewed = tonumber(r)}
end

-- Saves `m` to `meta`: with a new time to live when `ttl` is given, else keeping its own.
local function meta_save(meta, m, ttl)
  local v = string.format('%s %d %d %d %s %d', m.epoch, m.seq, m.evicted, m.bytes,
    m.first and string.format('%d', m.first) or '-', m.renewed)
  if ttl then
    redis.call('SET', meta, v, 'EX', ttl)
  else
    redis.call('SET', meta, v, 'KEEPTTL')
  end
end

-- Starts a user's log (a stream opened) and keeps it while it is used: the state and
-- the stream get their time to live together, so they expire together. Returns the
-- state.
local function ensure(meta, log, ttl)
  local m = meta_parse(redis.call('GET', meta))
  if not m then
    -- A new epoch: whatever a stream left without its state holds is meaningless, and
    -- its ids would collide with the new ones.
    redis.call('DEL', log, costs_key(log))
    local t = redis.call('TIME')
    local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    m = {epoch = string.format('%d', ms), seq = 0, evicted = 0, bytes = 0, renewed = 0}
  end
  meta_save(meta, m, ttl)
  redis.call('EXPIRE', log, ttl)
  redis.call('EXPIRE', costs_key(log), ttl)
  return m
end

-- What an event costs in the byte budget (the memory log's `event_cost`).
local function cost(name, data)
  return #name + #data + 96
end

-- Whether the log in state `m` is over a limit (count, age, bytes); `slack` is how
-- far past them it may go first (a fraction of each limit).
local function over(m, now, max, age, maxbytes, slack)
  if m.seq <= m.evicted then return false end
  if m.first == nil then return true end
  return m.seq - m.evicted > max + math.floor(max * slack)
    or m.bytes > maxbytes + math.floor(maxbytes * slack)
    or m.first + age + math.floor(age * slack) <= now
end

-- An event's line in the list beside its stream.
local function line(seq, at, c)
  return string.format('%d %d %d', seq, at, c)
end

-- Whether the list `costs` holds one line for each event the state `m` counts in the
-- stream (seq evicted+1 to seq, in order). It does unless Redis lost or expired one of
-- the two keys alone, or the log was written by a build without the list.
local function listed(costs, m)
  local n = m.seq - m.evicted
  if redis.call('LLEN', costs) ~= n then return false end
  if n == 0 then return true end
  local head = string.match(redis.call('LINDEX', costs, 0), '^(%d+) ')
  local tail = string.match(redis.call('LINDEX', costs, -1), '^(%d+) ')
  return tonumber(head) == m.evicted + 1 and tonumber(tail) == m.seq
end

-- An entry's fields as a table.
local function fields(e)
  local f = {}
  for i = 1, #e[2], 2 do f[e[2][i]] = e[2][i + 1] end
  return f
end

-- Makes the list `costs` again from the stream `log` itself, reading every event once
-- (what eviction did for each batch before the list), and the state's bytes and oldest
-- time from what the stream really holds. Events the stream lost at its start count as
-- evicted, so a resume from before them is told to reset rather than skip them.
local function relist(log, costs, m)
  redis.call('DEL', costs)
  local bytes, first, kept = 0, nil, nil
  local from = string.format('0-%d', m.evicted + 1)
  while true do
    local batch = redis.call('XRANGE', log, from, '+', 'COUNT', 256)
    if #batch == 0 then break end
    local lines = {}
    for _, e in ipairs(batch) do
      local f = fields(e)
      local seq = tonumber(string.match(e[1], '%-(%d+)$'))
      local at, c = tonumber(f['at'] or '0'), cost(f['name'] or '', f['data'] or '')
      if kept == nil then kept, first = seq, at end
      table.insert(lines, line(seq, at, c))
      bytes = bytes + c
    end
    redis.call('RPUSH', costs, unpack(lines))
    from = '(' .. batch[#batch][1]
  end
  if kept == nil then
    m.evicted, m.bytes, m.first = m.seq, 0, nil
    return
  end
  m.evicted, m.bytes, m.first = kept - 1, bytes, first
  local ttl = redis.call('PTTL', log)
  if ttl > 0 then redis.call('PEXPIRE', costs, ttl) end
end

-- Drops the oldest events of `log` until the state `m` (changed in place) is within
-- every limit, once it is more than `slack` past one. An append passes a slack of an
-- eighth, so that eviction runs once per many events and takes them in a batch (one
-- LRANGE of the list beside the stream, one LTRIM, one XTRIM) instead of commands per
-- event; a replay passes none, so what it serves is exactly the window. Nothing is
-- read while no limit is passed; when one is, a list that does not match the state is
-- made again from the stream first (`relist`).
local function trim(log, m, now, max, age, maxbytes, slack)
  if not over(m, now, max, age, maxbytes, slack) then return end
  local costs = costs_key(log)
  local from, due = m.evicted, true
  if not listed(costs, m) then
    relist(log, costs, m)
    -- What the stream really holds may be within the limits after all.
    due = over(m, now, max, age, maxbytes, slack)
  end
  local read = 0
  while due and m.seq > m.evicted do
    -- Enough for the count limit and the entry after, at least 16 for the others.
    local want = math.min(math.max(m.seq - m.evicted - max + 1, 16), 256)
    local batch = redis.call('LRANGE', costs, read, read + want - 1)
    if #batch == 0 then
      m.evicted, m.bytes, m.first = m.seq, 0, nil
      break
    end
    local kept = false
    for _, e in ipairs(batch) do
      local seq, at, c = string.match(e, '^(%d+) (%d+) (%d+)$')
      seq, at, c = tonumber(seq), tonumber(at), tonumber(c)
      if m.seq - m.evicted > max or at + age <= now or m.bytes > maxbytes then
        m.evicted = seq
        m.bytes = m.bytes - c
        read = read + 1
      else
        m.first = at
        kept = true
        break
      end
    end
    if kept then break end
    if m.seq <= m.evicted then m.first = nil end
  end
  if m.seq <= m.evicted then m.bytes, m.first = 0, nil end
  if read > 0 then redis.call('LTRIM', costs, read, -1) end
  if m.evicted > from then
    redis.call('XTRIM', log, 'MINID', string.format('0-%d', m.evicted + 1))
  end
end

-- Appends one event to a user's log, whose state `m` it changes (the caller saves it,
-- with a new time to live when `m.renew` is set), and publishes it for live delivery
-- (in log order). A user with no log (never opened a stream, or it expired unused)
-- gets nothing: no stream could read it. The keys' time to live is renewed whenever
-- the log was empty (so that a stream the XADD creates has one), and otherwise once
-- the time since the last renewal passes the slack between the time to live and the
-- replay window (`age`), so that every event outlives its window.
local function append(m, log, now, max, age, maxbytes, ttl, aud, conn, name, data, chan, user)
  if not m then return false end
  local seq = m.seq + 1
  local id = string.format('%d', seq)
  local was_empty = m.seq <= m.evicted
  if was_empty then m.first = now end
  local entry = {'0-' .. id, 'aud', aud, 'conn', conn, 'name', name, 'data', data, 'at', now}
  -- The stream exists but for the first event of a log (or one lost on its own): the
  -- XADD that creates it is followed by its time to live.
  local created = not redis.call('XADD', log, 'NOMKSTREAM', unpack(entry))
  if created then redis.call('XADD', log, unpack(entry)) end
  local c = cost(name, data)
  local lines = redis.call('RPUSH', costs_key(log), line(seq, now, c))
  m.seq = seq
  m.bytes = m.bytes + c
  trim(log, m, now, max, age, maxbytes, 0.125)
  if was_empty or created or lines == 1 or now - m.renewed >= ttl * 1000 - age then
    m.renewed = now
    m.renew = true
    redis.call('EXPIRE', log, ttl)
    redis.call('EXPIRE', costs_key(log), ttl)
  end
  -- Lines, not JSON: no node decodes a frame for a user it holds no stream of, and
  -- the data goes through unescaped (LiveFrame::parse).
  redis.call('PUBLISH', chan, table.concat({user, m.epoch, id, aud, conn, name, data}, '\n'))
  return {m.epoch, seq}
end

-- Saves the state of a log `append` changed.
local function append_done(meta, m, ttl)
  if m.renew then meta_save(meta, m, ttl) else meta_save(meta, m) end
end
