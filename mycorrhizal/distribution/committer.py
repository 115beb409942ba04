"""Group commit of firings: every firing that finished while the previous commit was on its way
goes to Redis in the next one, as one call of the ``COMMIT`` script (one round trip per batch)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from .connection import decoded, redis_failure
from .places_lua import COMMIT
from .shared import GROUP

__all__ = ["Committer", "refusal"]

Firing = list[Any]  # [[[key index, entry id]...], [[key index, token text]...], fence, machines]


class Committer:
    """Batches the commits of one worker; at most one commit call is in flight at a time."""

    __slots__ = (
        "_script",
        "_keys",
        "_args",
        "_url",
        "_pending",
        "_task",
        "_closed",
        "max_batch",
        "calls",
        "firings",
    )

    def __init__(
        self, client: Redis, keys: list[str], group: str, consumer: str, url: str, max_batch: int = 1000
    ) -> None:
        """Commit to the streams ``keys`` as ``consumer`` of ``group`` (``url`` names the server)."""
        self._script = client.register_script(COMMIT)
        self._url = url
        self._keys = keys
        self._args = [group, consumer]
        self._pending: list[tuple[Firing, asyncio.Future[bool]]] = []
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.max_batch = max_batch
        self.calls = 0
        """Commit calls sent (round trips)."""
        self.firings = 0
        """Firings they carried."""

    def commit(self, firing: Firing) -> asyncio.Future[bool]:
        """Queue ``firing``; the future says whether Redis committed it (False: fenced)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if self._closed:  # an aborted worker sends nothing more: as if cancelled
            future.cancel()
            return future
        self._pending.append((firing, future))
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._send())
        return future

    async def abort(self) -> None:
        """Send nothing more, as if the process had died: the commit on its way is cancelled (Redis
        applied it or not), and the firings waiting for one are cancelled."""
        self._closed = True
        for _, future in self._pending:
            future.cancel()
        self._pending = []
        task = self._task
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _send(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
                try:
                    results = await self._script(
                        keys=self._keys, args=[*self._args, json.dumps([firing for firing, _ in batch])]
                    )
                except (RedisError, OSError) as exc:
                    error = redis_failure(f"cannot commit {len(batch)} firing(s) in Redis", self._url, exc)
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                self.calls += 1
                self.firings += len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(int(result) == 1)
        finally:
            self._task = None


async def refusal(
    client: Redis, worker: str, entry: tuple[str, str, str], part: tuple[str, int] | None
) -> str:
    """Why Redis refused ``worker``'s commit of ``entry`` (stream, entry id, its shared place), read
    after the fact as the refusal is rare: it was committed already, another worker took it over, or
    the lease on ``part`` (the keyed partition it came from, if any) moved on."""
    stream, entry_id, place = entry
    what = f"entry {entry_id} of shared place {place!r}"
    try:
        pending = await client.xpending_range(stream, GROUP, entry_id, entry_id, 1)
    except (RedisError, OSError):
        pending = None  # (whatever the reason, the firing is dropped: only the message is vaguer)
    if pending == []:  # acknowledged and deleted: committed (entries do not come back)
        return (
            f"{what} was committed already (by this worker's earlier commit whose reply was lost, "
            "or by a worker that took the entry over): nothing is left to do, its token was consumed once"
        )
    owner = None if not pending else decoded(pending[0]["consumer"])
    if owner is not None and owner != worker:
        return (
            f"{what} was refused: worker {owner!r} took the entry over (this worker's lease on it "
            "ran out) and fires it"
        )
    if part is None:
        return f"{what} was refused: the entry was taken over meanwhile"
    return (
        f"{what} was refused: the lease on partition {part[1]} moved on before the commit (or an "
        "entry of it is pending under another worker); it is fired again once the partition is taken "
        "over from Redis (by this worker or another)"
    )
