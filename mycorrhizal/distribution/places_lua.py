"""The server-side steps of shared places, as Lua scripts (each one atomic in Redis).

KEYS are the streams of the net's shared places (one hash tag: one cluster slot); ``ARGV[1]`` is
the consumer group, ``ARGV[2]`` this worker's consumer name.  An entry *belongs* to a worker while
it is in the group's pending list under its name: that is the fencing token.  A worker that lost an
entry to another (its lease ran out and the other claimed it) can no longer commit, renew or give it
back.
"""

from __future__ import annotations

__all__ = ["ACQUIRE", "BURY", "COMMIT", "GIVE_BACK", "REFENCE", "RELEASE", "RENEW"]

_OWNED = """
local function owned(key, id)
  local p = redis.call('XPENDING', key, ARGV[1], id, id, 1)
  return #p == 1 and p[1][2] == ARGV[2]
end
"""

_ALONE = """
local function alone(key)
  local s = redis.call('XPENDING', key, ARGV[1])
  for _, c in ipairs(s[4] or {}) do
    if c[1] ~= ARGV[2] then return false end
  end
  return true
end
"""

COMMIT = (
    _OWNED
    + _ALONE
    + """
local firings = cjson.decode(ARGV[3])
local out = {}
for i, f in ipairs(firings) do
  local ok = 1
  local fence = f[3]
  local fenced = fence and #fence == 2
  if fenced and redis.call('GET', KEYS[fence[1]]) ~= fence[2] then ok = 0 end
  if ok == 1 then
    for _, a in ipairs(f[1]) do
      if not owned(KEYS[a[1]], a[2]) or (fenced and not alone(KEYS[a[1]])) then ok = 0 break end
    end
  end
  if ok == 1 then
    for _, a in ipairs(f[1]) do
      redis.call('XACK', KEYS[a[1]], ARGV[1], a[2])
      redis.call('XDEL', KEYS[a[1]], a[2])
    end
    for _, o in ipairs(f[2]) do
      redis.call('XADD', KEYS[o[1]], '*', 't', o[2])
    end
    for _, m in ipairs(f[4] or {}) do
      redis.call('HSET', KEYS[m[1]], m[2], m[3])
    end
  end
  out[i] = ok
end
return out
"""
)
"""Commit a batch of firings (ARGV[3]: JSON ``[[[[key index, entry id]...], [[key index, token
text]...], fence, machines]...]``): per firing, if every input entry still belongs to this worker
and the fence (if any: ``[lease key index, "<worker> <epoch>"]``) still holds, acknowledge and
delete the entries, append the outputs and write the machines' documents (``[[hash key index,
key text, document]...]``); otherwise write nothing for it.  A fenced firing (from a partition)
also needs no entry of its stream pending under another worker: a former owner that read on after
its lease moved holds entries the partition's owner must fire first, in their order (it re-takes
the partition, which claims them).  Returns 1 or 0 per firing."""

RENEW = (
    _OWNED
    + """
local lost = {}
for i = 3, #ARGV, 2 do
  local key, id = KEYS[tonumber(ARGV[i])], ARGV[i + 1]
  if owned(key, id) then
    redis.call('XCLAIM', key, ARGV[1], ARGV[2], 0, id, 'JUSTID')
  else
    lost[#lost + 1] = id
  end
end
return lost
"""
)
"""Renew the lease of entries this worker holds (ARGV: ``key index, entry id`` pairs): each that
still belongs to it has its idle time reset.  Returns the ids it lost."""

GIVE_BACK = (
    _OWNED
    + """
local n = 0
for i = 3, #ARGV, 2 do
  local key, id = KEYS[tonumber(ARGV[i])], ARGV[i + 1]
  if owned(key, id) then
    local entry = redis.call('XRANGE', key, id, id)
    redis.call('XACK', key, ARGV[1], id)
    redis.call('XDEL', key, id)
    if #entry == 1 then
      redis.call('XADD', key, '*', unpack(entry[1][2]))
      n = n + 1
    end
  end
end
return n
"""
)
"""Give entries this worker holds but will not fire back to the group at once (a stopping worker):
each that still belongs to it is moved to the end of its stream as a new, undelivered entry."""

BURY = (
    _OWNED
    + """
if not owned(KEYS[1], ARGV[3]) then return 0 end
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 4))
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
redis.call('XDEL', KEYS[1], ARGV[3])
return 1
"""
)
"""Move an entry that cannot be decoded (KEYS: its stream, the place's dead stream; ARGV[3]: its id,
then the dead entry's field/value pairs) to the dead stream, only if it still belongs to this worker:
a worker whose lease on it ran out and the one that reclaimed it would both move it.  Returns 1 if
moved, 0 if not."""

ACQUIRE = """
local out = {}
for i = 2, #KEYS do
  local held = redis.call('GET', KEYS[i])
  if not held then
    local epoch = redis.call('HINCRBY', KEYS[1], KEYS[i], 1)
    redis.call('SET', KEYS[i], ARGV[1] .. ' ' .. epoch, 'PX', ARGV[2])
    out[i - 1] = epoch
  elseif held == ARGV[1] .. ' ' .. ARGV[i + 1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[2])
    out[i - 1] = tonumber(ARGV[i + 1])
  else
    out[i - 1] = 0
  end
end
return out
"""
"""Take or renew partition leases (KEYS[1]: the epochs hash, then lease keys; ARGV: worker, lease in
ms, then per lease key the epoch the worker holds, 0 for none): a free lease is taken with the next
epoch, one held with the given epoch is renewed, one held by another (or under another epoch) is
left alone.  Returns per lease key its epoch now held by this worker, or 0."""

RELEASE = """
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[i] then redis.call('DEL', KEYS[i]) end
end
return 0
"""
"""Give up partition leases (ARGV per lease key: ``"<worker> <epoch>"``), each only if still held so."""

REFENCE = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
local epoch = redis.call('HINCRBY', KEYS[1], KEYS[2], 1)
redis.call('SET', KEYS[2], ARGV[2] .. ' ' .. epoch, 'PX', ARGV[3])
return epoch
"""
"""Move a partition lease this worker holds on to the next epoch (KEYS: the epochs hash, the lease
key; ARGV: the value held, the worker, the lease in ms), so that no commit read under the old one
goes through.  Returns the new epoch, or 0 if the lease is no longer held so."""
