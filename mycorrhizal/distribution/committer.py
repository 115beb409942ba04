"""Group commit of firings: every firing that finished while the previous commit was on its way
goes to Redis in the next one, as one call of the ``COMMIT`` script (one round trip per batch)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from .connection import redis_failure
from .places_lua import COMMIT

__all__ = ["Committer"]

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
