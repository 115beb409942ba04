"""Client: what it refuses before sending anything to Redis."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError

from mycorrhizal.common import CodecError, CodecRegistry, RoutingError, StoreError
from mycorrhizal.distribution import Client

from .nets import Job, Mixed, Tally


@pytest.mark.parametrize(
    ("codecs", "fix"),
    [
        # No registry passed: registering Job in one would not reach this client; say to pass one.
        (
            None,
            r"make a CodecRegistry, registry\.register\(Job\) \(.*\), and pass it: Client\(\.\.\., "
            r"codecs=registry\), and the same to every worker, Worker\(\.\.\., codecs=registry\)",
        ),
        (CodecRegistry(), r"registry\.register\(Job\) \([^)]*\)"),
    ],
    ids=["no registry", "a registry"],
)
async def test_a_token_of_an_unregistered_type_names_the_place_and_one_fix(
    redis_url: str, redis_prefix: str, codecs: CodecRegistry | None, fix: str
) -> None:
    shared = ["jobs", "done"]
    async with Client(Mixed, redis_url, prefix=redis_prefix, shared=shared, codecs=codecs) as client:
        with pytest.raises(
            CodecError,
            match=rf"^token 1 of the submit to place 'Mixed\.jobs' cannot be encoded: cannot encode a "
            rf"[\w.]*\bJob: its type is not registered\. Fix: {fix}$",
        ) as caught:
            await client.submit("jobs", [3, Job(4)])
        assert str(caught.value).count("Fix:") == 1
        assert await client.depth("jobs") == 0  # nothing of a refused submit was sent


async def test_a_submit_of_many_tokens_is_all_or_none(
    redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection breaks once 10,000 commands went out: nothing of the submit is in Redis (it is
    one transaction), so that submitting it again does not add its first tokens twice."""
    sent = 0
    execute = Pipeline.execute

    async def breaking(self: Pipeline, *args: Any, **kwargs: Any) -> Any:
        nonlocal sent
        sent += len(self)
        if sent > 10_000:
            raise RedisConnectionError("Connection reset by peer")
        return await execute(self, *args, **kwargs)

    async with Client(Mixed, redis_url, prefix=redis_prefix, shared=["jobs", "done"]) as client:
        monkeypatch.setattr(Pipeline, "execute", breaking)
        with pytest.raises(StoreError, match=r"^cannot submit to 'jobs' in Redis at .*\. Fix: check that"):
            await client.submit("jobs", range(10_001))
        monkeypatch.undo()
        assert await client.depth("jobs") == 0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda client: client.submit("jbos", [1]),
            r"^net 'Mixed' has no place 'jbos'; places: \[.*\]\. Fix: did you mean 'jobs'\? If not, "
            r"name one of those places$",
        ),
        (
            lambda client: client.depth("inbox"),
            r"^place 'Mixed\.inbox' is not shared \(shared: \['Mixed\.jobs', 'Mixed\.done'\]\)\. Fix: add "
            r"its tokens to a worker's runner \(worker\.runner\.add_tokens\), or share the place "
            r"\(shared=\[\.\.\.\], --shared\) in every worker and client$",
        ),
        (
            lambda client: client.machines("work"),
            r"^'work' is not an fsm= transition consuming a shared place of net 'Mixed' \(those are: "
            r"\[\]\)\. Fix: only the machines of an fsm= transition whose input place is shared are kept "
            r"in Redis$",
        ),
    ],
    ids=["unknown place", "local place", "no machines"],
)
async def test_a_client_call_naming_what_it_cannot_use_says_the_fix(
    redis_url: str, redis_prefix: str, call: Any, message: str
) -> None:
    async with Client(Mixed, redis_url, prefix=redis_prefix, shared=["jobs", "done"]) as client:
        with pytest.raises(RoutingError, match=message):
            await call(client)


async def test_a_token_whose_key_cannot_be_found_says_the_fix(redis_url: str, redis_prefix: str) -> None:
    async with Client(Tally, redis_url, prefix=redis_prefix) as client:
        with pytest.raises(
            RoutingError,
            match=r"^transition 'Tally\.count': fsm_key raised TypeError: .* on token 5 \(or its key cannot "
            r"be encoded\), so it cannot be routed to the worker of its key\. Fix: make fsm_key return a "
            r"str, a number or a tuple for every token of 'Tally\.jobs'$",
        ):
            await client.submit("jobs", [5])


@pytest.mark.parametrize(
    ("mark", "neighbour"),
    [("[eu]", "e"), ("*", "-other"), ("?", "x"), ("\\", "")],
    ids=["brackets", "star", "question mark", "backslash"],
)
async def test_clear_deletes_its_own_net_whatever_the_prefix_and_nothing_else(
    redis_url: str, redis_prefix: str, mark: str, neighbour: str
) -> None:
    # A prefix holding a character Redis's SCAN MATCH reads as a pattern ("tenant[eu]") named other
    # keys than the net's: clear() left the net's tokens in place, or deleted another prefix's.
    ours, theirs = redis_prefix + mark, redis_prefix + neighbour
    mine, other = Client(Mixed, redis_url, prefix=ours), Client(Mixed, redis_url, prefix=theirs)
    async with mine, other:
        await mine.submit("jobs", [1, 2])
        await other.submit("jobs", [3])
        assert await mine.clear() == 1  # the stream of 'jobs'
        assert (await mine.depth("jobs"), await other.tokens("jobs")) == (0, [3])
        assert await other.clear() == 1
