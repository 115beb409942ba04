"""The server-side steps of shared places, as Lua scripts (each one atomic in Redis).

KEYS are the streams of the net's shared places (one hash tag: one cluster slot); ``ARGV[1]`` is
the consumer group, ``ARGV[2]`` this worker's consumer name.  An entry *belongs* to a worker while
it is in the group's pending list under its name: that is the fencing token.  A worker that lost an
entry to another (its lease ran out and the other claimed it) can no longer commit, renew or give it
back.
"""

from __future__ import annotations

__all__ = ["COMMIT", "GIVE_BACK", "RENEW"]

_OWNED = """
local function owned(key, id)
  local p = redis.call('XPENDING', key, ARGV[1], id, id, 1)
  return #p == 1 and p[1][2] == ARGV[2]
end
"""

COMMIT = (
    _OWNED
    + """
local firings = cjson.decode(ARGV[3])
local out = {}
for i, f in ipairs(firings) do
  local ok = 1
  for _, a in ipairs(f[1]) do
    if not owned(KEYS[a[1]], a[2]) then ok = 0 break end
  end
  if ok == 1 then
    for _, a in ipairs(f[1]) do
      redis.call('XACK', KEYS[a[1]], ARGV[1], a[2])
      redis.call('XDEL', KEYS[a[1]], a[2])
    end
    for _, o in ipairs(f[2]) do
      redis.call('XADD', KEYS[o[1]], '*', 't', o[2])
    end
  end
  out[i] = ok
end
return out
"""
)
"""Commit a batch of firings (ARGV[3]: JSON ``[[[[key index, entry id]...], [[key index, token
text]...]]...]``): per firing, if every input entry still belongs to this worker, acknowledge and
delete them and append the outputs; otherwise write nothing for it.  Returns 1 or 0 per firing."""

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
