"""The ``fsm=`` machines of the partitions a worker holds, kept in Redis so that another takes them over.

Each keyed partition has a hash ``<prefix>:{<net>}:machines:<place>:<i>``: key (its codec text) ->
the machine's septum snapshot document (state, stack, retry count, queued messages, the pending
timeout's deadline on the wall clock; not the blackboard, which is each worker's own).

- A firing from a partition writes the document of its key's machine in its own commit, the same
  Lua call that acknowledges the token and appends the outputs, under the partition's lease: the
  machine's state and the tokens it consumed move together, or not at all.
- A machine that changes outside a firing (its timeout fired) is written by a commit of its own,
  under the lease too, as soon as it is between steps and no firing is handing it a token.
- A worker that takes a partition over restores every machine of it before it fires a token: a
  pending timeout is set again for its original deadline (at once if it has passed).
- A worker that loses or gives up a partition closes its machines (their timers stop): the
  partition's next owner restores them from what was committed.
- A firing that does not commit may leave its machine with a change Redis does not have: what it
  changed is not written, and the worker re-takes the partition (closes its machines and restores
  them), see :mod:`.takeover`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from ..common.codecs import CodecRegistry
from ..common.errors import CodecError, ExecutionError, StoreError
from ..common.observers import Event
from ..hypha import Runner
from ..mycelium.machine_pool import MachinePool
from ..septum import StateMachine, durable
from .connection import decoded
from .partitions import Partition
from .shared import Keyed, SharedNet

__all__ = ["KeyedMachines"]

log = logging.getLogger("mycorrhizal.distribution")

Write = list[Any]  # [hash key index, key text, document text]
Commit = Callable[[Partition, list[Write]], Awaitable[bool]]


class KeyedMachines:
    """Writes and restores the machines of one worker's keyed partitions."""

    __slots__ = (
        "_shared", "_runner", "_codecs", "_pass_codecs", "_client", "_index", "_commit",
        "_busy", "_dirty", "_flusher", "_watched",
    )  # fmt: skip

    def __init__(
        self,
        shared: SharedNet,
        runner: Runner,
        codecs: CodecRegistry,
        client: Redis,
        index: dict[str, int],
        commit: Commit,
        *,
        pass_codecs: str | None = None,
    ) -> None:
        """``index``: position of each key in the commit's KEYS; ``commit(part, writes)`` commits
        machine documents alone under the lease on ``part``; ``pass_codecs``: how to give the
        workers a registry, if they were given none (said by an error that needs one)."""
        self._shared = shared
        self._runner = runner
        self._codecs = codecs
        self._pass_codecs = pass_codecs
        self._client = client
        self._index = index
        self._commit = commit
        self._busy: Counter[tuple[Partition, str]] = Counter()  # firings handing a machine a token
        self._dirty: dict[tuple[Partition, str], Any] = {}  # changed outside a firing: -> its key
        self._flusher: asyncio.Task[None] | None = None
        self._watched: dict[tuple[Partition, str], StateMachine] = {}  # the machine observed per key

    # -- firings ------------------------------------------------------------------------------------

    def begin(self, part: Partition, token: Any) -> str:
        """A firing from ``part`` hands ``token`` to its key's machine; the key's codec text."""
        text = self._keyed(part).partition_of(token, self._codecs)[2]
        self._busy[part, text] += 1
        return text

    def end(self, part: Partition, token: Any, *, failed: bool = False) -> None:
        """The firing of ``token`` is over (committed or not); ``failed``: what it changed in its
        machine is not to be written (the machine is restored from Redis)."""
        text = self._keyed(part).partition_of(token, self._codecs)[2]
        if failed:
            self._dirty.pop((part, text), None)
        self._busy[part, text] -= 1
        if not self._busy[part, text]:
            del self._busy[part, text]
            if (part, text) in self._dirty:
                self._schedule()

    def written(self, part: Partition, token: Any) -> list[Write]:
        """The document of the machine ``token`` went to, for the firing's commit."""
        keyed = self._keyed(part)
        _, key, text = keyed.partition_of(token, self._codecs)
        self._dirty.pop((part, text), None)  # the firing's commit carries its latest state
        fsm = self._pool(keyed).living.get(key)
        if fsm is None:  # evicted meanwhile, or the firing failed before the machine was made
            return []
        self._watch(part, key, text, fsm)
        write = self._write(part, key, text, fsm)
        if write is False:  # another firing of the key is in its step (concurrency above 1)
            self._dirty[part, text] = key
            return []
        assert isinstance(write, list)
        return [write]

    def settled(self, part: Partition) -> bool:
        """True if no machine of ``part`` has a change left to write."""
        return not any(p == part for p, _ in self._dirty)

    # -- taking over and letting go ----------------------------------------------------------------

    async def restore(self, part: Partition) -> int:
        """Bring in every machine of ``part`` as committed in Redis; how many."""
        keyed = self._keyed(part)
        documents = await self._client.hgetall(self._shared.keys.machines(*part))
        for raw, document in documents.items():
            text = decoded(raw)
            await self._adopt(part, keyed, self._codecs.loads(text), text, document)
        return len(documents)

    async def _adopt(self, part: Partition, keyed: Keyed, key: Any, text: str, document: Any) -> None:
        spec = keyed.machine
        fsm = StateMachine.restore(
            spec.initial,
            json.loads(decoded(document)),
            codecs=self._codecs,
            common_data=self._runner.blackboard,
            timebase=self._runner.timebase,
            **spec.options,
        )
        replaced = self._pool(keyed).adopt(key, fsm)
        if replaced is not None:
            await replaced.aclose()
        self._watch(part, key, text, fsm)

    async def drop(self, part: Partition) -> None:
        """Close the machines of ``part`` here (another worker owns them now)."""
        keyed = self._keyed(part)
        pool = self._pool(keyed)
        gone = [key for key in pool.living if keyed.partition_of_key(key, self._codecs)[0] == part[1]]
        for key in gone:
            fsm = pool.forget(key)
            if fsm is not None:
                await fsm.aclose()
        self._dirty = {k: v for k, v in self._dirty.items() if k[0] != part}
        self._watched = {k: v for k, v in self._watched.items() if k[0] != part}

    async def flush(self) -> None:
        """Write every machine changed outside a firing now (a stopping worker)."""
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        await self._write_dirty(wait=False)

    async def abort(self) -> None:
        """Write nothing more (an aborted worker): the write on its way is cancelled."""
        flusher, self._flusher = self._flusher, None
        if flusher is not None:
            flusher.cancel()
            await asyncio.gather(flusher, return_exceptions=True)

    # -- changes outside firings -------------------------------------------------------------------

    def _watch(self, part: Partition, key: Any, text: str, fsm: StateMachine) -> None:
        if self._watched.get((part, text)) is fsm:
            return

        def changed(event: Event) -> None:
            self._dirty[part, text] = key
            if (part, text) not in self._busy:
                self._schedule()

        fsm.add_observer(changed)
        self._watched[part, text] = fsm

    def _schedule(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._write_dirty(wait=True))

    async def _write_dirty(self, *, wait: bool) -> None:
        """Commit the documents of machines changed outside a firing, per partition, once each is
        between steps and no firing is handing it a token."""
        while self._dirty:
            writes: dict[Partition, list[Write]] = {}
            stepping = False
            for (part, text), key in list(self._dirty.items()):
                if (part, text) in self._busy:
                    continue  # the firing's own commit writes it (or end() looks again)
                fsm = self._pool(self._keyed(part)).living.get(key)
                write = None if fsm is None else self._write(part, key, text, fsm)
                if write is False:
                    stepping = True
                    continue
                del self._dirty[part, text]
                if isinstance(write, list):
                    writes.setdefault(part, []).append(write)
            for part, batch in writes.items():
                try:
                    written = await self._commit(part, batch)
                except StoreError as exc:  # Redis unreachable: a later firing of the key writes it
                    log.warning("machines of partition %s were not written: %s", part, exc)
                    continue
                if not written:
                    log.warning("machines of partition %s were not written: the partition moved on", part)
            if not wait or not (writes or stepping):
                return
            if not writes:
                await asyncio.sleep(0.005)  # a machine in the middle of a step: look again soon

    def _write(self, part: Partition, key: Any, text: str, fsm: StateMachine) -> Write | bool:
        """What the commit writes for ``fsm``, the machine of ``key`` (its codec ``text``); False
        while it is in the middle of a step."""
        try:
            snapshot = durable.write(fsm, self._codecs, None)  # an error is said of transition and key
        except ExecutionError:
            return False
        except CodecError as exc:  # a queued message: the machine's own fields are plain data
            transition = self._keyed(part).transition
            where = f"transition {transition!r}, the machine of key {key!r}"
            error = exc.at(f"{where} cannot be written down for other workers", pass_as=self._pass_codecs)
            raise ExecutionError(str(error), transition=transition) from exc
        return [self._index[self._shared.keys.machines(*part)], text, json.dumps(snapshot)]

    def _keyed(self, part: Partition) -> Keyed:
        return self._shared.keyed[part[0]]

    def _pool(self, keyed: Keyed) -> MachinePool:
        return MachinePool.in_runner(keyed.machine, self._runner, keyed.transition)
