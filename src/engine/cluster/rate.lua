-- GCRA: one request per `interval` ms, `burst` at once, this request costing `cost` of
-- them, at `now` (ms, the node's clock: nodes keep their clocks in step, as leases and
-- timers already need). `tat` is the key's value, already read (false when absent).
-- Returns 0 (charged), or the ms to wait (nothing charged).
local function charge_read(key, tat, interval, burst, cost, now)
  tat = tonumber(tat or now)
  if tat < now then tat = now end
  local new_tat = tat + interval * cost
  local over = new_tat - now - interval * burst
  if over > 0 then return math.ceil(over) end
  redis.call('SET', key, new_tat, 'PX', math.ceil(new_tat - now) + 1000)
  return 0
end
-- `charge_read` that reads the key itself.
local function charge(key, interval, burst, cost, now)
  return charge_read(key, redis.call('GET', key), interval, burst, cost, now)
end
