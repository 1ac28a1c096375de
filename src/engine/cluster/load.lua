-- Loads a request's records in one round trip, after charging its rate (rate.lua's
-- `charge` comes first in the script).
-- ARGV[1]: {"rate": [key, interval_ms, burst, cost, now_ms] or null, "pre": prefix,
--           "users": [...], "calls": [...]} (the seeds).
-- Returns {0, wait_ms} when the rate is used up (nothing read), else {1, rows...} with
-- one row {kind, id, version, record} per key read ('' for a missing record).
-- The closure follows the link field `l` each commit writes from the core's records
-- (pqcall_signaling::records): a user's live calls, a call's two parties. Seeds, then
-- the seed users' live calls, then the users of every loaded call: the same three steps
-- as `Scope::closure_step`, which the caller checks the result against.
local a = cjson.decode(ARGV[1])
if a.rate ~= cjson.null then
  local r = a.rate
  local wait = charge(r[1], tonumber(r[2]), tonumber(r[3]), tonumber(r[4]), tonumber(r[5]))
  if wait > 0 then return {0, wait} end
end
local out = {1}
local seen = {}
local function load(kind, id)
  local key = a.pre .. ':' .. kind .. ':' .. id
  if seen[key] then return {} end
  seen[key] = true
  local r = redis.call('HMGET', key, 'v', 'd', 'l')
  table.insert(out, {kind, id, r[1] or '0', r[2] or ''})
  if r[3] then return cjson.decode(r[3]) end
  return {}
end
local call_links = {}
local user_links = {}
for _, u in ipairs(a.users) do table.insert(user_links, load('u', u)) end
for _, c in ipairs(a.calls) do table.insert(call_links, load('c', c)) end
for _, l in ipairs(user_links) do
  for _, c in ipairs(l) do table.insert(call_links, load('c', c)) end
end
for _, l in ipairs(call_links) do
  for _, u in ipairs(l) do load('u', u) end
end
return out
