//! The Lua scripts of the Redis lock. Each runs atomically on the server:
//! a check and the write it guards can never be split by another client —
//! which is the whole point of using scripts rather than two commands.

/// Sets the lock KEYS[1] to ARGV[1] (our owner id) for ARGV[2] ms if it is
/// free, and then returns the next fencing token from the counter KEYS[2]
/// with the counter's epoch, KEYS[3]: a random id (ARGV[3]) stored when the
/// counter starts afresh — at 1, as after a restart without persistence or
/// an expiry (both keys live ARGV[4] ms past the last lock). `false` (nil)
/// if the lock is taken.
pub(in crate::lock) const ACQUIRE_SCRIPT: &str = r#"
if redis.call("SET", KEYS[1], ARGV[1], "NX", "PX", ARGV[2]) then
    local token = redis.call("INCR", KEYS[2])
    if token == 1 or redis.call("EXISTS", KEYS[3]) == 0 then
        redis.call("SET", KEYS[3], ARGV[3])
    end
    redis.call("PEXPIRE", KEYS[2], ARGV[4])
    redis.call("PEXPIRE", KEYS[3], ARGV[4])
    return {token, redis.call("GET", KEYS[3])}
end
return false
"#;

/// How long a SKU's fencing counter and epoch outlive its last lock: a day.
/// They must not pile up forever (every load-test SKU has a pair), and one
/// that expires is safe to lose — the next counter starts a new epoch.
pub(in crate::lock) const FENCE_KEYS_LIVE_MS: u64 = 86_400_000;

/// Extends KEYS[1] to ARGV[2] ms only if its value is still ARGV[1] (our
/// owner id): the watchdog's compare-and-`PEXPIRE`. 0 if it is not ours.
pub(in crate::lock) const EXTEND_SCRIPT: &str = r#"
if redis.call("GET", KEYS[1]) == ARGV[1] then
    return redis.call("PEXPIRE", KEYS[1], ARGV[2])
else
    return 0
end
"#;

/// Deletes KEYS[1] only if its value is still ARGV[1] (our owner id).
pub(in crate::lock) const RELEASE_SCRIPT: &str = r#"
if redis.call("GET", KEYS[1]) == ARGV[1] then
    return redis.call("DEL", KEYS[1])
else
    return 0
end
"#;
