/**
 * Ban check, sliding-window log and auto-ban in one atomic script: the clock is Redis's
 * own TIME (never a replica's), and the check and the increment happen together, so any
 * number of gateways sharing this Redis admit exactly `limit` requests per window and ban
 * a caller exactly once.
 *
 * KEYS[1] the bucket's sorted set of admissions; KEYS[2] the bucket's sorted set of
 * rejections (429s); KEYS[3] the bucket's ban; KEYS[4] the client IP's ban (may be KEYS[3]).
 * ARGV[1] limit (0 = unlimited: only the bans are checked); ARGV[2] window in ms;
 * ARGV[3] ban threshold (0 = never ban); ARGV[4] ban window in ms; ARGV[5] ban TTL in ms;
 * ARGV[6] the evidence to record with a new ban (JSON object: subject, ip, route, ...);
 * ARGV[7] '1' to look without counting: a request that fits is not added to the window
 * (one that does not is still a 429 towards the ban).
 *
 * Returns { allowed (1 | 0 | -1 banned | -2 banned by this request), remaining,
 * seconds until a slot frees (for -1/-2: ms until the ban expires), the ban (JSON) }.
 */
export const SLIDING_WINDOW_LUA = `
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2]) * 1000
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
for i = 3, 4 do
  local ban = redis.call('GET', KEYS[i])
  if ban then return { -1, 0, redis.call('PTTL', KEYS[i]), ban } end
end
if limit == 0 then return { 1, 0, 0, '' } end
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
local allowed = 0
if count < limit and ARGV[7] == '1' then return { 1, limit - count, 0, '' } end
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
local threshold = tonumber(ARGV[3])
if allowed == 0 and threshold > 0 then
  local rej = KEYS[2]
  local banWindow = tonumber(ARGV[4]) * 1000
  redis.call('ZREMRANGEBYSCORE', rej, '-inf', now - banWindow)
  local seq = redis.call('INCR', rej .. ':seq')
  redis.call('ZADD', rej, now, t[1] .. '.' .. t[2] .. '-' .. seq)
  redis.call('PEXPIRE', rej, ARGV[4])
  redis.call('PEXPIRE', rej .. ':seq', ARGV[4])
  local n = redis.call('ZCARD', rej)
  if n >= threshold then
    local first = redis.call('ZRANGE', rej, 0, 0, 'WITHSCORES')
    local ttl = tonumber(ARGV[5])
    local ban = cjson.decode(ARGV[6])
    local nowMs = math.floor(now / 1000)
    ban['count'] = n
    ban['windowMs'] = tonumber(ARGV[4])
    ban['firstAt'] = math.floor(tonumber(first[2]) / 1000)
    ban['lastAt'] = nowMs
    ban['bannedAt'] = nowMs
    ban['until'] = nowMs + ttl
    local encoded = cjson.encode(ban)
    redis.call('SET', KEYS[3], encoded, 'PX', ttl)
    redis.call('DEL', rej, rej .. ':seq')
    return { -2, 0, ttl, encoded }
  end
end
return { allowed, limit - count, reset, '' }
`;
