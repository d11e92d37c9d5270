"""The Lua scripts that make one rate-limit decision atomically inside Redis.

Each script ports one algorithm module of ``reliant.resilience.ratelimit`` step for
step (``gcra.py``, ``token_bucket.py``, ``sliding_window.py``), so a Redis decision
equals the memory backend's for the same sequence of times and costs. Time is the
server's ``TIME`` (so the clocks of the calling processes do not matter) unless the
caller passes ``now`` as the last argument (tests on a virtual clock).

Arithmetic is on integer microseconds held in Lua doubles, exact below 2**53 (about
285 years of microseconds); ``fdiv`` is floor division corrected for the rounding
of ``a / b``. Every script answers ``{allowed, remaining, retry_after_us,
reset_after_us}`` with ``retry_after_us = -1`` for "never" (the cost exceeds what
the key admits at once). Keys get a TTL of the time until their state no longer
matters, so idle keys cost no memory.
"""

from __future__ import annotations

#: Shared prologue: ``now`` in µs and corrected floor division.
_PROLOGUE = """
local now
if ARGV[4] and ARGV[4] ~= '' then
  now = tonumber(ARGV[4])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function fdiv(a, b)
  local q = math.floor(a / b)
  if q * b > a then
    q = q - 1
  elseif (q + 1) * b <= a then
    q = q + 1
  end
  return q
end
local function px(us)
  return math.max(1, math.ceil(us / 1000))
end
"""

#: KEYS[1] = the key (a string: the theoretical arrival time, µs);
#: ARGV = emission_us, tolerance_us, cost[, now_us].
GCRA = (
    _PROLOGUE
    + """
local emission = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]))
local ttl = 0
if tat and tat > now then ttl = tat - now end
local new_ttl = ttl + cost * emission
if new_ttl > tolerance then
  local retry = -1
  if cost * emission <= tolerance then retry = new_ttl - tolerance end
  local remaining = 0
  if ttl < tolerance then remaining = fdiv(tolerance - ttl, emission) end
  return {0, remaining, retry, ttl}
end
if cost > 0 then
  redis.call('SET', KEYS[1], now + new_ttl, 'PX', px(new_ttl))
end
return {1, fdiv(tolerance - new_ttl, emission), 0, new_ttl}
"""
)

#: KEYS[1] = the key (a hash: c = credit µs, t = updated at µs);
#: ARGV = emission_us, capacity, cost[, now_us].
TOKEN_BUCKET = (
    _PROLOGUE
    + """
local emission = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local full = capacity * emission
local need = cost * emission
local state = redis.call('HMGET', KEYS[1], 'c', 't')
local credit
if state[1] then
  credit = tonumber(state[1]) + now - tonumber(state[2])
  if credit > full then credit = full elseif credit < 0 then credit = 0 end
else
  credit = full
end
if credit < need then
  local retry = -1
  if need <= full then retry = need - credit end
  return {0, fdiv(credit, emission), retry, full - credit}
end
credit = credit - need
if cost > 0 then
  redis.call('HSET', KEYS[1], 'c', credit, 't', now)
  redis.call('PEXPIRE', KEYS[1], px(full - credit))
end
return {1, fdiv(credit, emission), 0, full - credit}
"""
)

#: KEYS[1] = the key (a hash: s = window start µs, p = previous count, c = current);
#: ARGV = limit, window_us, cost[, now_us].
SLIDING_WINDOW = (
    _PROLOGUE
    + """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local elapsed = now % window
local start = now - elapsed
local function wait_us(prev, cur, room)
  if cur <= room then
    if prev == 0 then return 0 end
    local e = window - fdiv((room - cur + 1) * window - 1, prev)
    if e <= elapsed then return 0 end
    if e < window then return e - elapsed end
  end
  local to_next = window - elapsed
  if cur <= room then return to_next end
  return to_next + window - fdiv((room + 1) * window - 1, cur)
end
local state = redis.call('HMGET', KEYS[1], 's', 'p', 'c')
local prev, cur = 0, 0
if state[1] then
  local stored = tonumber(state[1])
  if stored == start or stored > start then
    prev, cur = tonumber(state[2]), tonumber(state[3])
  elseif stored == start - window then
    prev = tonumber(state[3])
  end
end
local used = fdiv(prev * (window - elapsed), window) + cur
if used + cost <= limit then
  if cost > 0 then
    cur = cur + cost
    redis.call('HSET', KEYS[1], 's', start, 'p', prev, 'c', cur)
    redis.call('PEXPIRE', KEYS[1], px(start + 2 * window - now))
  end
  return {1, limit - used - cost, 0, wait_us(prev, cur, 0)}
end
local retry = -1
if limit - cost >= 0 then retry = wait_us(prev, cur, limit - cost) end
local remaining = 0
if used < limit then remaining = limit - used end
return {0, remaining, retry, wait_us(prev, cur, 0)}
"""
)

#: The scripts by algorithm name, as the backend's methods are named.
SCRIPTS: dict[str, str] = {
    "gcra": GCRA,
    "token_bucket": TOKEN_BUCKET,
    "sliding_window": SLIDING_WINDOW,
}
