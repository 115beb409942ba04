"""The commit protocol under random interleavings: whatever workers read, commit, lose to others
(leases running out), renew or give back, a token's outputs are appended at most once, and once
the survivors finish, exactly once."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import redis.asyncio as aioredis
from hypothesis import given, settings
from hypothesis import strategies as st

from mycorrhizal.distribution.committer import Committer
from mycorrhizal.distribution.places_lua import GIVE_BACK, RENEW

from ..redis_server import RedisServer

GROUP = "workers"
WORKERS = ("a", "b", "c")
TOKENS = 12

steps = st.lists(
    st.tuples(
        st.sampled_from(["read", "commit", "steal", "give back", "renew"]),
        st.sampled_from(WORKERS),
        st.integers(0, 5),
    ),
    min_size=10,
    max_size=40,
)


class World:
    """Three workers on one stream, driven step by step, and what each believes it holds."""

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.client = client
        self.source, self.sink = f"{prefix}:in", f"{prefix}:out"
        self.held: dict[str, list[str]] = {w: [] for w in WORKERS}  # may be stale: lost to another
        keys = [self.source, self.sink]
        self.committers = {w: Committer(client, keys, GROUP, w, url=repr(client)) for w in WORKERS}
        self.renew = client.register_script(RENEW)
        self.give_back = client.register_script(GIVE_BACK)

    async def owner(self, entry: str) -> str | None:
        found = await self.client.xpending_range(self.source, GROUP, entry, entry, 1)
        return found[0]["consumer"] if found else None

    async def step(self, op: str, who: str, n: int) -> None:
        held = self.held[who]
        if op == "read":
            reply = await self.client.xreadgroup(GROUP, who, {self.source: ">"}, count=n + 1)
            held += [entry for _, entries in reply for entry, _ in entries]
        elif op == "steal":  # another worker's lease ran out and ``who`` claims one of its entries
            pending = await self.client.xpending_range(self.source, GROUP, "-", "+", 100)
            if pending:
                entry = pending[n % len(pending)]["message_id"]
                await self.client.xclaim(self.source, GROUP, who, 0, [entry], justid=True)
                if entry not in held:
                    held.append(entry)
        elif held and op == "commit":
            entry = held.pop(n % len(held))
            token = (await self.client.xrange(self.source, entry, entry) or [(entry, {"t": "gone"})])[0][1][
                "t"
            ]
            expected = await self.owner(entry) == who
            assert await self.committers[who].commit([[[1, entry]], [[2, token]]]) is expected
        elif held and op == "give back":
            entry = held.pop(n % len(held))
            expected = await self.owner(entry) == who
            assert await self.give_back(keys=[self.source], args=[GROUP, who, 1, entry]) == int(expected)
        elif held and op == "renew":
            lost = await self.renew(keys=[self.source], args=[GROUP, who, *[x for e in held for x in (1, e)]])
            assert set(lost) == {entry for entry in held if await self.owner(entry) != who}

    async def outputs(self) -> list[str]:
        return [fields["t"] for _, fields in await self.client.xrange(self.sink)]

    async def finish(self) -> None:
        """A surviving worker takes over everything left and commits it."""
        while True:
            reply = await self.client.xreadgroup(GROUP, "a", {self.source: ">"}, count=100)
            await self.client.xautoclaim(self.source, GROUP, "a", 0, "0-0", count=100, justid=True)
            pending = await self.client.xpending_range(self.source, GROUP, "-", "+", 100)
            if not pending and not reply:
                return
            for item in pending:
                entry = item["message_id"]
                token = (await self.client.xrange(self.source, entry, entry))[0][1]["t"]
                assert await self.committers["a"].commit([[[1, entry]], [[2, token]]])


async def play(url: str, ops: list[tuple[str, str, int]]) -> None:
    client = aioredis.Redis.from_url(url, decode_responses=True)
    world = World(client, f"protocol-{uuid.uuid4().hex}")
    try:
        for n in range(TOKENS):
            await client.xadd(world.source, {"t": f"token-{n}"})
        await client.xgroup_create(world.source, GROUP, id="0")
        for op, who, n in ops:
            await world.step(op, who, n)
            outputs = await world.outputs()
            assert len(outputs) == len(set(outputs)), f"a token was produced twice: {outputs}"
        await world.finish()
        assert sorted(await world.outputs()) == sorted(f"token-{n}" for n in range(TOKENS))
        assert await client.xlen(world.source) == 0
    finally:
        await client.aclose()


@settings(max_examples=50, deadline=None)
@given(ops=steps)
def test_random_interleavings_produce_every_token_exactly_once(ops: Any, redis_service: RedisServer) -> None:
    asyncio.run(play(redis_service.url, ops))
