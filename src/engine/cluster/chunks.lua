-- `redis.call(cmd, keys...)` over any number of keys (Lua 5.1's `unpack` takes at most
-- a few thousand): in chunks of 512, the replies joined in order.
local function each_chunk(cmd, keys)
  if #keys == 0 then return {} end
  if #keys <= 512 then return redis.call(cmd, unpack(keys)) end
  local out = {}
  for i = 1, #keys, 512 do
    local r = redis.call(cmd, unpack(keys, i, math.min(i + 511, #keys)))
    if type(r) == 'table' then
      for _, v in ipairs(r) do table.insert(out, v) end
    end
  end
  return out
end
