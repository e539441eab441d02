-- GCRA over every key of one request at one instant, spending one event of
-- each only if every key has one (see Store.AllowAll).
-- KEYS: the budgets. ARGV: per key, its interval and its burst (the interval
-- times the burst size), in seconds.
-- A key holds its theoretical arrival time (TAT) in seconds since
-- 2017-01-01, the form redis_rate used, so budgets survive an upgrade.
-- Returns per key {allowed 0/1, remaining, retry after, reset after}, the
-- durations as strings of seconds (a number reply would lose the fraction).
local t = redis.call("TIME")
local now = (t[1] - 1483228800) + t[2] / 1000000
local results, spent, allowed = {}, {}, true
for i, key in ipairs(KEYS) do
	local interval, burst = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
	local tat = math.max(tonumber(spent[key] or redis.call("GET", key)) or now, now)
	local allow_at = tat + interval - burst
	if now < allow_at then
		allowed = false
		results[i] = {0, 0, tostring(allow_at - now), tostring(tat - now)}
	else
		spent[key] = tat + interval
		results[i] = {1, math.floor((now - allow_at) / interval), "0", tostring(tat + interval - now)}
	end
end
if allowed then
	for key, tat in pairs(spent) do
		redis.call("SET", key, tat, "EX", math.ceil(tat - now))
	end
end
return results
