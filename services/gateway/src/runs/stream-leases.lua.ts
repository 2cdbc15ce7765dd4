/**
 * Takes one of `cap` stream slots of a holder, atomically across gateways: the slots are a
 * sorted set of lease ids scored by their expiry (Redis's own TIME, in ms), so the slots of
 * a gateway that died free themselves once their leases run out.
 *
 * KEYS[1] the holder's sorted set. ARGV[1] cap; ARGV[2] lease id; ARGV[3] lease length in ms.
 * Returns 1 when the slot is taken, 0 when the holder already has `cap` live leases.
 */
export const ACQUIRE_STREAM_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

/**
 * Extends a live lease (never re-creates one that expired or was released).
 * KEYS[1] the holder's sorted set. ARGV[1] lease id; ARGV[2] lease length in ms.
 */
export const RENEW_STREAM_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[2]), ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return n
`;
