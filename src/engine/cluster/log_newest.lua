local m = ensure(KEYS[1], KEYS[2], tonumber(ARGV[1]))
return {m.epoch, m.seq}
