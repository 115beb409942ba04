"""The server-side steps of :class:`~.store.RedisStore`, as Lua scripts (each one atomic in Redis).

Keys of one run (``K`` = the run's hash-tagged prefix, so all of them sit in one cluster slot):

- ``K:meta``  hash ``epoch`` (the current writer's fencing token) and ``seq`` (last committed record);
- ``K:log``   stream of records, entry id ``0-<seq>``, field ``r`` = ``[kind, payload]`` as JSON;
- ``K:snaps`` list of the kept snapshots' seqs, oldest first; ``K:docs`` hash seq -> document JSON.
"""

from __future__ import annotations

__all__ = ["COMMIT", "LOAD", "OPEN", "SUMMARY"]

OPEN = """
local epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
local seq = redis.call('HGET', KEYS[1], 'seq') or '0'
return {epoch, tonumber(seq)}
"""
"""Become the run's writer: raise its epoch, and tell the last committed seq."""

COMMIT = """
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if epoch ~= ARGV[1] then return {0, epoch or '0'} end
local keep = tonumber(ARGV[2])
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
for i = 3, #ARGV, 3 do
  if ARGV[i] == 'r' then
    seq = seq + 1
    if tonumber(ARGV[i + 1]) ~= seq then return {-1, tostring(seq)} end
  end
end
local snapped = false
for i = 3, #ARGV, 3 do
  local at = ARGV[i + 1]
  if ARGV[i] == 'r' then
    redis.call('XADD', KEYS[2], '0-' .. at, 'r', ARGV[i + 2])
  else
    if redis.call('LINDEX', KEYS[3], -1) ~= at then redis.call('RPUSH', KEYS[3], at) end
    redis.call('HSET', KEYS[4], at, ARGV[i + 2])
    while redis.call('LLEN', KEYS[3]) > keep do
      redis.call('HDEL', KEYS[4], redis.call('LPOP', KEYS[3]))
    end
    snapped = true
  end
end
redis.call('HSET', KEYS[1], 'seq', seq)
if snapped then
  local oldest = tonumber(redis.call('LINDEX', KEYS[3], 0))
  redis.call('XTRIM', KEYS[2], 'MINID', '0-' .. (oldest + 1))
end
return {1, tostring(seq)}
"""
"""Commit a group of a run's records and snapshots (ARGV: epoch, keep, then ``r|s, seq, text``
triples in order), all or nothing: refused when the epoch moved on (fenced) or a seq is not the next
one (which only a damaged store or a bug could cause)."""

LOAD = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local at = redis.call('LINDEX', KEYS[3], -1)
local doc = false
local after = 0
if at then
  doc = redis.call('HGET', KEYS[4], at)
  after = tonumber(at)
end
return {at or '', doc or '', redis.call('XRANGE', KEYS[2], '0-' .. (after + 1), '+')}
"""
"""The latest snapshot and the records after it, read at one moment."""

SUMMARY = """
local info = redis.call('HMGET', KEYS[1], 'epoch', 'seq')
return {info[1] or '0', info[2] or '0', redis.call('LINDEX', KEYS[3], -1) or '', redis.call('XLEN', KEYS[2])}
"""
"""epoch, last seq, latest snapshot seq ('' for none) and the number of records kept."""
