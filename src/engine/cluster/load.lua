-- Loads a request's records in one round trip, after charging its rate (rate.lua's
-- `charge_read` and chunks.lua's `each_chunk` come first in the script).
-- ARGV[1]: {"rate": [key, interval_ms, burst, cost, now_ms] or null, "pre": prefix,
--           "users": [...], "calls": [...]} (the seeds).
-- Returns {0, wait_ms} when the rate is used up, else {1, rows...} with one row
-- {kind, id, version, record} per key read ('0' and '' for a missing record).
-- A record is one string, "version\nlinks\nrecord" (commit.lua writes it); the links
-- are what the closure follows: a user's live calls, a call's two parties. The closure
-- is `Scope::closure_step`'s, which the caller checks the result against: the seeds;
-- the seed users' live calls and the seed calls' parties; the parties of those calls.
-- Each step is one MGET, and the rate's key rides in the first.
local a = cjson.decode(ARGV[1])
local out = {1}
local seen = {}
-- Reads the records `batch` ({kind, id} pairs) and `extra` with one MGET; returns each
-- record's links (by kind) and `extra`'s value.
local function load(batch, extra)
  local keys = {}
  local todo = {}
  for _, b in ipairs(batch) do
    local key = a.pre .. ':' .. b[1] .. ':' .. b[2]
    if not seen[key] then
      seen[key] = true
      table.insert(keys, key)
      table.insert(todo, b)
    end
  end
  if extra then table.insert(keys, extra) end
  local links = {user = {}, call = {}}
  if #keys == 0 then return links, false end
  local vals = each_chunk('MGET', keys)
  for i, b in ipairs(todo) do
    local v = vals[i]
    local ver, l, d = '0', nil, ''
    if v then ver, l, d = string.match(v, '^(%d+)\n([^\n]*)\n(.*)$') end
    table.insert(out, {b[1], b[2], ver or '0', d or ''})
    if l then table.insert(links[b[1]], cjson.decode(l)) end
  end
  return links, extra and vals[#keys]
end
local seeds = {}
for _, u in ipairs(a.users) do table.insert(seeds, {'user', u}) end
for _, c in ipairs(a.calls) do table.insert(seeds, {'call', c}) end
local links, tat = load(seeds, a.rate ~= cjson.null and a.rate[1] or nil)
if a.rate ~= cjson.null then
  local r = a.rate
  local wait = charge_read(r[1], tat, tonumber(r[2]), tonumber(r[3]), tonumber(r[4]), tonumber(r[5]))
  if wait > 0 then return {0, wait} end
end
local step = {}
for _, l in ipairs(links.user) do for _, c in ipairs(l) do table.insert(step, {'call', c}) end end
for _, l in ipairs(links.call) do for _, u in ipairs(l) do table.insert(step, {'user', u}) end end
local next_links = load(step)
step = {}
for _, l in ipairs(next_links.call) do for _, u in ipairs(l) do table.insert(step, {'user', u}) end end
load(step)
return out
