//! The Lua scripts of the Redis lock. Each runs atomically on the server:
//! a check and the write it guards can never be split by another client —
//! which is the whole point of using scripts rather than two commands.

/// The grant, shared by both acquire scripts once the `SET NX` succeeded:
/// the next fencing token from the counter KEYS[2] with the counter's
/// epoch, KEYS[3] — a random id (ARGV[3]) stored when the counter starts
/// afresh, at 1, as after a restart without persistence or an expiry (both
/// keys live ARGV[4] ms past the last lock).
macro_rules! grant {
    () => {
        r#"
    local token = redis.call("INCR", KEYS[2])
    if token == 1 or redis.call("EXISTS", KEYS[3]) == 0 then
        redis.call("SET", KEYS[3], ARGV[3])
    end
    redis.call("PEXPIRE", KEYS[2], ARGV[4])
    redis.call("PEXPIRE", KEYS[3], ARGV[4])
    return {token, redis.call("GET", KEYS[3])}
"#
    };
}

/// Sets the lock KEYS[1] to ARGV[1] (our owner id) for ARGV[2] ms if it is
/// free, and grants it ([`grant`]). If the lock is taken, its remaining
/// time to live in ms instead (`PTTL`: -1 for a key a foreign client set
/// without one): how long a waiter may sleep at most. Redlock's, on each
/// master: whoever asks first when the lock is free gets it.
pub(in crate::lock) const ACQUIRE_SCRIPT: &str = concat!(
    r#"
if redis.call("SET", KEYS[1], ARGV[1], "NX", "PX", ARGV[2]) then"#,
    grant!(),
    r#"end
return redis.call("PTTL", KEYS[1])
"#
);

/// [`ACQUIRE_SCRIPT`] with a line, as Redisson's fair lock keeps one: the
/// lock goes to the first in line, not to whoever asks first after a
/// release (which, from the releasing instance, is always its own next
/// order). KEYS[4] is the line (a list of owner ids), KEYS[5] when each
/// waiter in it must have asked again (a sorted set, by the server's
/// clock): a waiter that stops asking — it gave up, or its instance died —
/// leaves the line ARGV[5] ms after its last attempt (or at once, if its
/// deadline lies further ahead than that: a clock that stepped back). A waiter not yet in
/// line joins its end. The answer when the lock is taken, or free but
/// promised to the first in line, is the lock's `PTTL` (-2: free).
pub(in crate::lock) const FAIR_ACQUIRE_SCRIPT: &str = concat!(
    r#"
local now = redis.call("TIME")
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local first = redis.call("LINDEX", KEYS[4], 0)
while first do
    local ask_by = redis.call("ZSCORE", KEYS[5], first)
    -- (A deadline further ahead than anyone sets one came from a clock
    -- that has since stepped back, as after a failover: not trusted.)
    if ask_by and tonumber(ask_by) > now_ms
        and tonumber(ask_by) <= now_ms + tonumber(ARGV[5]) then
        break
    end
    redis.call("LPOP", KEYS[4])
    redis.call("ZREM", KEYS[5], first)
    first = redis.call("LINDEX", KEYS[4], 0)
end
if (not first or first == ARGV[1])
    and redis.call("SET", KEYS[1], ARGV[1], "NX", "PX", ARGV[2]) then
    if first then
        redis.call("LPOP", KEYS[4])
        redis.call("ZREM", KEYS[5], ARGV[1])
    end"#,
    grant!(),
    r#"end
if not redis.call("ZSCORE", KEYS[5], ARGV[1]) then
    redis.call("RPUSH", KEYS[4], ARGV[1])
end
redis.call("ZADD", KEYS[5], now_ms + tonumber(ARGV[5]), ARGV[1])
redis.call("PEXPIRE", KEYS[4], ARGV[5])
redis.call("PEXPIRE", KEYS[5], ARGV[5])
return redis.call("PTTL", KEYS[1])
"#
);

/// Takes ARGV[1] out of the line KEYS[1] and its deadlines KEYS[2]: a
/// waiter that gave up, so that the next in line need not wait for it to
/// go stale.
pub(in crate::lock) const LEAVE_LINE_SCRIPT: &str = r#"
redis.call("LREM", KEYS[1], 0, ARGV[1])
return redis.call("ZREM", KEYS[2], ARGV[1])
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

/// Deletes KEYS[1] only if its value is still ARGV[1] (our owner id), and
/// then, if ARGV[2] names a channel, announces it there: the wake-up of the
/// waiters (`wakeup.rs`). Redlock's masters are released without one.
pub(in crate::lock) const RELEASE_SCRIPT: &str = r#"
if redis.call("GET", KEYS[1]) == ARGV[1] then
    local deleted = redis.call("DEL", KEYS[1])
    if ARGV[2] then
        redis.call("PUBLISH", ARGV[2], KEYS[1])
    end
    return deleted
else
    return 0
end
"#;

/// What [`ACQUIRE_SCRIPT`] answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::lock) enum SetReply {
    /// The lock is ours, with the next fencing token and its epoch.
    Granted { token: i64, epoch: String },
    /// Someone holds it, for at most this long (`None`: for ever, a key a
    /// foreign client set without a TTL).
    Taken { expires_in: Option<std::time::Duration> },
}

impl redis::FromRedisValue for SetReply {
    fn from_redis_value(value: redis::Value) -> Result<Self, redis::ParsingError> {
        match value {
            redis::Value::Int(ms) => Ok(SetReply::Taken {
                expires_in: u64::try_from(ms).ok().map(std::time::Duration::from_millis),
            }),
            granted => {
                let (token, epoch) = redis::from_redis_value(granted)?;
                Ok(SetReply::Granted { token, epoch })
            }
        }
    }
}
