"""``Client``: put tokens into a distributed net's shared places, read them, and see its state.

For programs that feed or watch workers without being one: ``submit`` appends tokens to a shared
place's stream (encoded with the codec registry, all of a call or none), ``tokens`` reads what a
place holds, ``status`` tells per place how many tokens wait and are pending per worker, and which
workers are alive.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

import attrs
from redis.asyncio import Redis
from redis.exceptions import RedisError

from ..common.codecs import CodecRegistry
from ..common.errors import CodecError, RoutingError, did_you_mean
from ..hypha import NetSpec
from .connection import client_for, decoded, redis_failure
from .layout import agree_on_partitions
from .shared import GROUP, Keyed, SharedNet

__all__ = ["Client", "KeyedStatus", "PlaceStatus", "Status", "WorkerStatus"]

_PASS = "Client(..., codecs=registry), and the same to every worker, Worker(..., codecs=registry)"
"""How a client given no registry is given one (the workers must read what it writes)."""

_GLOB = re.compile(r"[\\*?\[\]]")
"""The characters a Redis glob pattern (SCAN MATCH) gives a meaning of their own."""


@attrs.frozen
class PlaceStatus:
    """One shared place: tokens in its stream, and those of them held by workers (pending)."""

    place: str
    depth: int
    """Tokens in the place: waiting for a worker, plus held by one (pending)."""
    pending: dict[str, int]
    """Tokens held per worker (delivered, not yet committed)."""
    dead: int = 0
    """Entries that could not be decoded, moved aside to the place's dead-letter stream."""

    @property
    def waiting(self) -> int:
        """Tokens no worker holds yet."""
        return self.depth - sum(self.pending.values())


@attrs.frozen
class WorkerStatus:
    """A worker as its last heartbeat described it."""

    name: str
    seen: float
    """Seconds since its last heartbeat."""
    alive: bool
    """Its last heartbeat is younger than three leases (a worker renews every third of one)."""
    info: dict[str, str]


@attrs.frozen
class KeyedStatus:
    """A keyed place: who holds its partitions, and its machines as committed in Redis."""

    place: str
    transition: str
    """The ``fsm=`` transition consuming it."""
    partitions: int
    held: dict[str, int]
    """Partitions per worker holding a lease on them."""
    machines: dict[str, int]
    """Machines per state (their state's name)."""

    @property
    def free(self) -> int:
        """Partitions nobody holds (their tokens wait for the next sweep of a live worker)."""
        return self.partitions - sum(self.held.values())


@attrs.frozen
class Status:
    """The shared places and the workers of a distributed net."""

    net: str
    places: tuple[PlaceStatus, ...]
    workers: tuple[WorkerStatus, ...]
    keyed: tuple[KeyedStatus, ...] = ()
    """The keyed places (consumed by ``fsm=`` transitions)."""


class Client:
    """Talks to the Redis of a distributed net: ``submit``, ``tokens``, ``status``, ``close``."""

    def __init__(
        self,
        net: NetSpec,
        redis: str | Redis = "redis://127.0.0.1:6379/0",
        *,
        shared: list[str] | None = None,
        prefix: str = "mycorrhizal",
        codecs: CodecRegistry | None = None,
        partitions: int = 16,
    ) -> None:
        """The same ``net``, ``shared``, ``prefix`` and ``partitions`` as the workers' (they name the
        streams)."""
        self.shared = SharedNet(net, shared, prefix=prefix, partitions=partitions)
        self.codecs = codecs if codecs is not None else CodecRegistry()
        self._codecs_given = codecs is not None
        self._client, self._own = client_for(redis)
        self.url = redis if isinstance(redis, str) else repr(redis)
        self._agreed = False  # on the keyed places' partitions, with Redis (at the first call)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection (if this client made it)."""
        if self._own:
            await self._client.aclose()

    async def _agree(self) -> None:
        """Refuse (StoreError) to use the net's keyed places with another partition count than the
        one in Redis (written by the net's first worker or client): tokens would be stranded."""
        if not self._agreed:
            await self._call(agree_on_partitions(self._client, self.shared, "client"), "agree on partitions")
            self._agreed = True

    def _streams(self, place: str) -> tuple[str, tuple[str, ...]]:
        try:
            qname = self.shared.qname(place)
        except KeyError as exc:
            raise RoutingError(str(exc.args[0]), place=str(place)) from None
        if qname not in self.shared.streams:
            raise RoutingError(
                f"place {qname!r} is not shared (shared: {list(self.shared.shared)}). Fix: add its tokens "
                "to a worker's runner (worker.runner.add_tokens), or share the place (shared=[...], "
                "--shared) in every worker and client",
                place=qname,
            )
        return qname, self.shared.streams[qname]

    async def submit(self, place: str, tokens: Iterable[Any]) -> list[str]:
        """Append ``tokens`` to shared ``place`` (all or none); returns their stream entry ids.

        A token of a keyed place goes to the partition of its ``fsm_key``; RoutingError (before
        anything is sent) if the key function fails on one."""
        qname, _ = self._streams(place)
        texts = self._encoded(qname, tokens)  # every one encodes and is routed, or none is sent
        await self._agree()
        # One MULTI/EXEC, however many tokens: a submit cut in parts could fail after its first
        # part went in, and submitting it again would add those tokens twice.
        async with self._client.pipeline(transaction=True) as pipe:
            for key, text in texts:
                pipe.xadd(key, {"t": text})
            return [decoded(i) for i in await self._call(pipe.execute(), f"submit to {place!r}")]

    def _encoded(self, qname: str, tokens: Iterable[Any]) -> list[tuple[str, str]]:
        """(stream, text) of each of ``tokens`` for place ``qname``; a CodecError names the token."""
        texts = []
        for i, token in enumerate(tokens):
            try:
                texts.append((self.shared.stream_of(qname, token, self.codecs), self.codecs.dumps(token)))
            except CodecError as exc:
                where = f"token {i} of the submit to place {qname!r} cannot be encoded"
                raise exc.at(where, pass_as=None if self._codecs_given else _PASS) from exc
        return texts

    async def clear(self) -> int:
        """Delete every key of this net under the prefix (streams, workers, dead letters): all its
        tokens are gone.  Only for a net no worker runs any more; returns how many keys went."""
        # The prefix is the user's text: escaped, so that a `*`, `?`, `[` or backslash in it matches itself
        # rather than other prefixes' keys (SCAN's MATCH is a glob pattern).
        pattern = _GLOB.sub(r"\\\g<0>", self.shared.keys.base) + ":*"
        keys = [key async for key in self._client.scan_iter(match=pattern, count=1000)]
        if not keys:
            return 0
        return int(await self._call(self._client.delete(*keys), "delete the net's keys"))

    async def depth(self, place: str) -> int:
        """Tokens in shared ``place`` now: waiting, plus held by workers (one round trip)."""
        _, keys = self._streams(place)
        await self._agree()
        async with self._client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.xlen(key)
            return sum(int(n) for n in await self._call(pipe.execute(), f"read the depth of {place!r}"))

    async def tokens(self, place: str) -> list[Any]:
        """Every token in shared ``place`` (waiting or held by a worker), oldest first (per
        partition, partition after partition, for a keyed place)."""
        _, keys = self._streams(place)
        await self._agree()
        out: list[Any] = []
        for key in keys:
            start = "-"
            while True:
                read = self._client.xrange(key, start, "+", count=10_000)
                entries = await self._call(read, f"read {place!r}")
                out += [
                    self.codecs.loads(decoded(fields.get("t", fields.get(b"t")))) for _, fields in entries
                ]
                if len(entries) < 10_000:
                    break
                start = "(" + decoded(entries[-1][0])
        return out

    async def machines(self, transition: str) -> dict[Any, dict[str, Any]]:
        """The state machines of ``transition`` (an ``fsm=`` transition consuming a shared place) as
        committed in Redis: key -> its septum snapshot document (``document["state"]`` names its
        state).  A key appears once its machine handled a token or was written after a timeout."""
        keyed = next(
            (
                k
                for k in self.shared.keyed.values()
                if transition in (k.transition, k.transition.split(".")[-1])
            ),
            None,
        )
        if keyed is None:
            known = [k.transition for k in self.shared.keyed.values()]
            fix = (
                did_you_mean(transition, known, "name one of those transitions")
                if known
                else "only the machines of an fsm= transition whose input place is shared are kept in Redis"
            )
            raise RoutingError(
                f"{transition!r} is not an fsm= transition consuming a shared place of net "
                f"{self.shared.flat.name!r} (those are: {known}). Fix: {fix}",
                transition=str(transition),
            )
        await self._agree()
        found: dict[Any, dict[str, Any]] = {}
        for index in range(keyed.partitions):
            read = self._client.hgetall(self.shared.keys.machines(keyed.place, index))
            for text, document in (await self._call(read, f"read the machines of {transition!r}")).items():
                found[self.codecs.loads(decoded(text))] = json.loads(decoded(document))
        return found

    async def status(self) -> Status:
        """Per shared place its depth and pending tokens per worker; the workers and their liveness."""
        await self._agree()
        places = []
        for q in self.shared.shared:
            depth, pending = 0, Counter[str]()
            for key in self.shared.streams[q]:
                length = int(await self._call(self._client.xlen(key), "read depths"))
                depth += length
                if length and q in self.shared.fed:
                    summary = await self._pending(key)
                    for c in summary.get("consumers") or ():
                        pending[decoded(c["name"])] += int(c["pending"])
            dead = await self._call(self._client.xlen(self.shared.keys.dead(q)), "read depths")
            places.append(PlaceStatus(q, depth, dict(pending), int(dead)))
        keyed = tuple([await self._keyed(k) for k in self.shared.keyed.values()])
        return Status(self.shared.flat.name, tuple(places), await self._workers(), keyed)

    async def _keyed(self, keyed: Keyed) -> KeyedStatus:
        keys = self.shared.keys
        leases = [keys.lease(keyed.place, i) for i in range(keyed.partitions)]
        held = Counter(
            decoded(v).split()[0] for v in await self._call(self._client.mget(leases), "read leases") if v
        )
        states: Counter[str] = Counter()
        for index in range(keyed.partitions):
            documents = await self._call(
                self._client.hvals(keys.machines(keyed.place, index)), "read machines"
            )
            states.update(str(json.loads(decoded(d)).get("state")) for d in documents)
        return KeyedStatus(keyed.place, keyed.transition, keyed.partitions, dict(held), dict(states))

    async def _pending(self, key: str) -> dict[str, Any]:
        try:
            return await self._client.xpending(key, GROUP)
        except RedisError as exc:
            if "NOGROUP" in str(exc):
                return {}
            raise redis_failure(f"cannot read the pending entries of {key!r}", self.url, exc) from exc

    async def _workers(self) -> tuple[WorkerStatus, ...]:
        keys = self.shared.keys
        seen = await self._call(self._client.zrange(keys.workers, 0, -1, withscores=True), "read workers")
        now = time.time()
        workers = []
        for name, score in seen:
            info = await self._call(self._client.hgetall(keys.worker(decoded(name))), "read workers")
            info = {decoded(k): decoded(v) for k, v in info.items()}
            age = max(0.0, now - float(score) / 1000)
            lease = float(info.get("lease", "0") or 0)
            workers.append(WorkerStatus(decoded(name), age, bool(info) and age < 3 * lease, info))
        return tuple(workers)

    async def _call(self, awaitable: Any, what: str) -> Any:
        try:
            return await awaitable
        except RedisError as exc:
            raise redis_failure(f"cannot {what} in Redis at {self.url}", self.url, exc) from exc
