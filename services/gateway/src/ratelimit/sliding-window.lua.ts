/**
 * Sliding-window log in one atomic script: the clock is Redis's own TIME (never a
 * replica's), and the check and the increment happen together, so any number of
 * gateways sharing this Redis admit exactly `limit` requests per window.
 *
 * KEYS[1] the bucket's sorted set; ARGV[1] limit; ARGV[2] window in ms.
 * Returns { allowed (0|1), remaining, ms until the oldest entry leaves the window }.
 */
export const SLIDING_WINDOW_LUA = `
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2]) * 1000
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
local allowed = 0
if count < limit then
  local seq = redis.call('INCR', key .. ':seq')
  redis.call('ZADD', key, now, t[1] .. '.' .. t[2] .. '-' .. seq)
  redis.call('PEXPIRE', key, ARGV[2])
  redis.call('PEXPIRE', key .. ':seq', ARGV[2])
  count = count + 1
  allowed = 1
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
local reset = 0
if oldest[2] then reset = math.ceil((tonumber(oldest[2]) + window - now) / 1000) end
return { allowed, limit - count, reset }
`;
