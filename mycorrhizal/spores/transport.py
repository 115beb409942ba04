"""Transports: where encoded records go.  JSON-lines files, synchronous or batched for asyncio.

A transport is any object with ``send(data, content_type)`` and ``close()``, either plain
(:class:`SyncTransport`) or ``async def`` (:class:`AsyncTransport`, alias :class:`Transport`).
spores calls each kind correctly from synchronous and asynchronous code alike (see
:mod:`mycorrhizal.spores.dispatch`), so any transport works with any logger or adapter.

:class:`AsyncFileTransport` keeps records in memory and writes them in batches from a worker
thread, so logging costs the event loop an append.  Nothing is lost: ``close()`` (and, for a
transport never closed, interpreter exit) writes every record.  When the disk cannot keep up and
more than ``max_pending`` records wait, ``overflow="block"`` (the default) makes the caller write
them itself (back-pressure) and ``overflow="drop"`` drops new records, counting them in
``dropped`` and logging a warning.  A batch whose write fails (a full disk, an I/O error) is
counted in ``write_errors``, logged, and kept: the next write (the next batch, ``flush()``,
``close()``, exit) tries it again; ``flush()`` and ``close()`` raise when it still fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from pathlib import Path
from types import TracebackType
from typing import IO, Literal, Protocol, runtime_checkable

from ..common.interpreter import shutting_down
from ..common.numbers import is_count, is_seconds
from . import lifecycle
from .records import RawEvent, RawObject

__all__ = [
    "AsyncFileTransport",
    "AsyncTransport",
    "LineQueue",
    "RecordSink",
    "SyncFileTransport",
    "SyncTransport",
    "Transport",
    "closed_error",
]

log = logging.getLogger("mycorrhizal.spores")


def closed_error(transport: str, path: Path) -> ValueError:
    """The error of a record sent to the closed ``transport`` (a class name) writing ``path``."""
    return ValueError(
        f"{transport}({str(path)!r}) is closed, and a record was sent to it. Fix: close it after the "
        "last record (stop the runtimes spores.observe() watches first), or "
        "spores.configure(transport=...) a new one before logging again"
    )


@runtime_checkable
class SyncTransport(Protocol):
    """A blocking transport: ``send`` has written (or handed on) the record when it returns."""

    def send(self, data: bytes, content_type: str) -> None:
        """Write one encoded record."""
        ...

    def close(self) -> None:
        """Write what is buffered and release the resource."""
        ...


@runtime_checkable
class AsyncTransport(Protocol):
    """A transport whose ``send`` and ``close`` are coroutines; subclass it for your own."""

    async def send(self, data: bytes, content_type: str) -> None:
        """Write one encoded record."""
        ...

    async def close(self) -> None:
        """Write what is buffered and release the resource."""
        ...


Transport = AsyncTransport
"""Upstream's name for :class:`AsyncTransport` (``class ConsoleTransport(Transport)``)."""


@runtime_checkable
class RecordSink(Protocol):
    """A writer that takes records themselves rather than encoded bytes (the OCEL 2.0 writers).

    Called synchronously from any code; it must not block for long (buffer, write in batches).
    """

    def write_event(self, raw: RawEvent) -> None:
        """Take one event."""
        ...

    def write_object(self, raw: RawObject) -> None:
        """Take one object record."""
        ...

    def close(self) -> None:
        """Write everything and release the resource."""
        ...


@runtime_checkable
class LineQueue(Protocol):
    """A ``send_nowait`` transport whose waiting records are a list its senders may append to.

    spores' hot paths (the object cache's lines, ``observe``'s and the adapters' events) append an
    encoded line to :attr:`queue` and call :meth:`queued` only when the list then holds
    :attr:`limit` records or more, as ``send_nowait`` itself does: no call per record.
    :class:`AsyncFileTransport` is one; any other transport with ``send_nowait`` (a subclass
    overriding it, too) is called once per record.
    """

    queue: list[bytes]
    """The records waiting, oldest first: the same list for the transport's whole life."""
    limit: int
    """How many waiting records make a sender call :meth:`queued` (0: every record)."""

    def queued(self) -> None:
        """Called by a sender that appended a record and left :attr:`queue` holding :attr:`limit`
        records or more.  May raise (a closed transport): it then takes that record back first."""
        ...

    def send_nowait(self, data: bytes, content_type: str) -> None:
        """Queue one record: append it to :attr:`queue`, then call :meth:`queued` at :attr:`limit`."""
        ...


def _open_append(filepath: str | Path, buffering: int = -1) -> tuple[Path, IO[bytes]]:
    path = Path(filepath)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path, open(path, "ab", buffering=buffering)  # noqa: SIM115 - closed by the transport's close()


class SyncFileTransport:
    """Appends each record as one line to ``filepath`` and flushes it before returning."""

    def __init__(self, filepath: str | Path) -> None:
        self.path, self._file = _open_append(filepath)
        self._lock = threading.Lock()
        self.written = 0
        """Records written so far."""

    def send(self, data: bytes, content_type: str = "application/json") -> None:
        """Write ``data`` and a newline; the line is in the file when this returns."""
        with self._lock:
            if self._file.closed:
                raise closed_error("SyncFileTransport", self.path)
            self._file.write(data + b"\n")
            self._file.flush()
            self.written += 1

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            self._file.close()

    def __enter__(self) -> SyncFileTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncFileTransport:
    """Appends records as lines to ``filepath`` in batches written by a worker thread.

    ``batch_size`` records make a batch; a partial batch is written ``flush_interval`` seconds
    after the first record an event loop sent to it (wall time, while that loop runs), when
    ``asyncio.run()`` shuts that loop down first, on :meth:`flush`, on :meth:`close` and at
    interpreter exit.  See the module documentation for ``max_pending`` and ``overflow``.
    """

    def __init__(
        self,
        filepath: str | Path,
        *,
        batch_size: int = 1024,
        flush_interval: float = 0.5,
        max_pending: int = 100_000,
        overflow: Literal["block", "drop"] = "block",
    ) -> None:
        if not (is_count(batch_size) and is_count(max_pending) and max_pending >= batch_size):
            raise ValueError(
                f"AsyncFileTransport: batch_size={batch_size!r}, max_pending={max_pending!r} are not sizes. "
                "Fix: use ints, batch_size >= 1 and max_pending >= batch_size"
            )
        if not is_seconds(flush_interval):  # (math.inf: a partial batch waits for flush() or close())
            raise ValueError(
                f"AsyncFileTransport: flush_interval={flush_interval!r} is not a time to wait. Fix: use "
                "seconds >= 0 (how long a partial batch waits before it is written), e.g. 0.5"
            )
        if overflow not in ("block", "drop"):
            raise ValueError(
                f"AsyncFileTransport: overflow={overflow!r} is not a policy. Fix: use 'block' or 'drop'"
            )
        # Unbuffered: each write says how much of a batch reached the file (see _write_batches).
        self.path, self._file = _open_append(filepath, buffering=0)
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._max_pending = max_pending
        self._overflow = overflow
        self.queue: list[bytes] = []
        """The records not yet in a batch (see :class:`LineQueue`; :attr:`pending` counts them all)."""
        self.limit = 1
        """Records in :attr:`queue` that make a sender call :meth:`queued`: 1 while it is empty or
        no event loop has sent to the batch yet (the first record a loop sends to a batch arms the
        flush timer on that loop), ``batch_size`` while a batch fills, 0 once closed (every record:
        refused)."""
        self._batches: deque[list[bytes]] = deque()
        self._head_written = 0  # bytes of the oldest batch already in the file (a write failed after)
        self._lock = threading.Lock()  # one writer at a time, batches in order
        self._writer: asyncio.Task[None] | None = None
        # The flush timer: a task, so that asyncio.run() cancels it when it shuts its loop down.
        self._timer: asyncio.Task[None] | None = None
        self._sealed = 0  # records moved into batches (event-loop side)
        self.written = 0
        """Records written to the file so far."""
        self.dropped = 0
        """Records dropped by ``overflow="drop"`` (always 0 with ``"block"``)."""
        self.write_errors = 0
        """Batch writes that failed (each logged; its records stay queued and are written again)."""
        self._closed = False
        lifecycle.register(self, self.close_now)

    # -- sending ------------------------------------------------------------------------------------

    def send_nowait(self, data: bytes, content_type: str = "application/json") -> None:
        """Queue one record; never awaits (spores' hot paths do the same without the call: see
        :class:`LineQueue`)."""
        queue = self.queue
        queue.append(data)
        if len(queue) >= self.limit:
            self.queued()

    def queued(self) -> None:
        """What a sender calls when :attr:`queue` reached :attr:`limit` (see :class:`LineQueue`):
        a full batch is sealed, a loop's first record of a batch arms the flush timer, a closed
        transport takes the record back and raises."""
        if self._closed:
            self.queue.pop()
            raise closed_error("AsyncFileTransport", self.path)
        if len(self.queue) >= self._batch_size:
            self._seal()
            return
        loop = asyncio._get_running_loop()
        if loop is None:
            # No loop to arm a timer on: the limit stays 1, so that the first record a loop sends
            # to this batch comes here and arms one (a record sent with no loop pays this call).
            return
        # A batch begins on this loop, or a loop's first record joins one begun with none: the
        # timer is armed here, once per batch, and senders only append until the batch is full.
        self.limit = self._batch_size
        self._arm_timer(loop)

    async def send(self, data: bytes, content_type: str = "application/json") -> None:
        """Queue one record (the :class:`AsyncTransport` form of :meth:`send_nowait`)."""
        self.send_nowait(data, content_type)

    @property
    def pending(self) -> int:
        """Records accepted but not yet written."""
        return len(self.queue) + self._sealed - self.written - self.dropped

    # -- flushing -----------------------------------------------------------------------------------

    async def flush(self) -> None:
        """Write every record queued so far (in a worker thread) and wait until it is on disk.

        Raises :class:`OSError`, naming the file, when they cannot be written (they are kept)."""
        self._seal(start=False)  # written below: one try, not a writer's and then this one's
        while (writer := self._live_writer(asyncio.get_running_loop())) is not None:
            await asyncio.shield(writer)
        if self._batches:
            await asyncio.to_thread(self._write_batches)

    async def close(self) -> None:
        """Write everything, then close the file (idempotent).  When the records cannot be written
        this raises :class:`OSError` naming the file, and the transport stays open with them."""
        if self._closed:
            return
        await self.flush()
        self.close_now()

    def close_now(self) -> None:
        """Write everything from this thread, then close the file (used at exit; idempotent).
        Raises like :meth:`close` when the records cannot be written."""
        timer, self._timer = self._timer, None  # forgotten first: its end writes nothing now
        if timer is not None and timer.get_loop() is asyncio._get_running_loop():
            timer.cancel()  # (one of another loop finishes, or is cancelled, there: not from here)
        self._seal(start=False)
        self._write_batches()
        with self._lock:
            self._file.close()
        if not self._closed:
            self._closed = True
            self.limit = 0  # every record sent from now on reaches queued(), which refuses it
            lifecycle.unregister(self)
            if self.dropped:
                log.warning("%s: %d records were dropped (overflow='drop')", self.path, self.dropped)

    async def __aenter__(self) -> AsyncFileTransport:
        return self

    async def __aexit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- internals ----------------------------------------------------------------------------------

    def _arm_timer(self, loop: asyncio.AbstractEventLoop) -> None:
        """Arm the flush timer on ``loop`` for the batch its first record joined, unless one is
        armed on this loop already.  A timer armed on another loop is dead when that loop closed
        before it fired (it never will), and no help to this loop if it is not: this loop gets its
        own."""
        if self._timer is not None and self._timer.get_loop() is loop:
            return
        if shutting_down():
            # asyncio.run() is closing this loop: a timer started now would never run, and the
            # next loop's records would join this batch with no timer of theirs.  Written here.
            self._seal(start=False)
            self._write_here()
            return
        self._timer = timer = loop.create_task(self._flush_at(loop.time() + self._flush_interval))
        # A loop closed by hand leaves it pending (the batch stays queued: nothing lost): not an
        # error for asyncio to log when it is collected, as it does for a task of the user's.
        timer._log_destroy_pending = False  # type: ignore[attr-defined]
        timer.add_done_callback(self._timer_ended)

    async def _flush_at(self, deadline: float) -> None:
        # The deadline is taken when the batch begins, not when this task first runs.
        await asyncio.sleep(deadline - asyncio.get_running_loop().time())
        if self._timer is asyncio.current_task():  # (not a timer of a loop since replaced)
            self._timer = None
        if self.queue and not self._closed:
            self._seal()

    def _timer_ended(self, timer: asyncio.Task[None]) -> None:
        """A flush timer cancelled (before it fired, or before it even ran) by asyncio.run()
        shutting its loop down: its batch is written here, not left for a later loop, whose
        records would join it with no timer of theirs.  One that fired, one replaced by a later
        loop's and one forgotten by close_now() did their part already."""
        if timer is not self._timer or not timer.cancelled():
            return
        self._timer = None
        if self.queue and not self._closed:
            self._seal(start=False)
            self._write_here()

    def _seal(self, start: bool = True) -> None:
        """Move the pending records into the batch queue and get a writer going."""
        if self.queue:
            # A copy: senders hold the queue itself (see LineQueue).
            batch = self.queue.copy()
            self.queue.clear()
            if not self._closed:
                self.limit = 1
            self._sealed += len(batch)
            if self._sealed - self.written - self.dropped <= self._max_pending:
                self._batches.append(batch)
            elif self._overflow == "block":
                self._batches.append(batch)
                self._write_here()  # the caller waits for the disk: back-pressure
            else:
                # Dropped before it is queued: once queued, the writer thread may be writing it.
                self._drop(batch)
        if start and self._batches:
            self._start_writer()

    def _drop(self, batch: list[bytes]) -> None:
        if not self.dropped:
            log.warning(
                "%s: more than %d records wait for the disk; dropping new ones (overflow='drop')",
                self.path,
                self._max_pending,
            )
        self.dropped += len(batch)

    def _start_writer(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._write_here()  # no event loop: write right here
            return
        if self._live_writer(loop) is None:
            self._writer = loop.create_task(self._write_in_thread())

    def _live_writer(self, loop: asyncio.AbstractEventLoop) -> asyncio.Task[None] | None:
        """The writer task still to finish on ``loop``, if any.  A task cancelled before it ran (its
        loop shut down right after making it) never ran its ``finally``, and one of a loop closed
        since never finishes: neither is waited for, nor keeps a new writer from starting."""
        writer = self._writer
        if writer is None or writer.done() or writer.get_loop() is not loop:
            return None
        return writer

    async def _write_in_thread(self) -> None:
        try:
            # A failed write was logged and counted where it happened, and its batch stays queued
            # for the next writer: nobody awaits this task to be told again.
            with contextlib.suppress(OSError):
                while self._batches:
                    await asyncio.to_thread(self._write_batches)
        finally:
            if self._writer is asyncio.current_task():
                self._writer = None

    def _write_here(self) -> None:
        """Write the queued batches in the sender's thread (no event loop, or back-pressure).  A
        failure is logged and counted (see :meth:`_write_batches`) and not raised: the record was
        taken and stays queued, written again with the next batch, on flush(), close() or at exit
        (which raise if it still cannot be); a sender that raised would have an observer detached."""
        with contextlib.suppress(OSError):
            self._write_batches()

    def _write_batches(self) -> None:
        """Write every queued batch, oldest first (any thread; batches stay queued until written).
        A write that fails is logged and counted here, once, and raised naming the file."""
        with self._lock:
            try:
                while self._batches:
                    self._write_oldest()
            except OSError as error:
                raise self._write_failed(error) from error

    def _write_oldest(self) -> None:
        """Write the oldest batch and take it off the queue (holding the lock)."""
        batch = self._batches[0]
        data = b"\n".join(batch) + b"\n"
        # A write may take part of the batch (a short write) and the next one fail (the disk
        # full): the batch stays queued, and its retry goes on from where it stopped.
        done = self._head_written
        try:
            while done < len(data):
                done += self._file.write(data if not done else memoryview(data)[done:])
        finally:
            self._head_written = done if done < len(data) else 0
        self._batches.popleft()
        self.written += len(batch)

    def _write_failed(self, error: OSError) -> OSError:
        """Count and log a failed write (holding the lock); the error to raise, naming the file."""
        self.write_errors += 1
        waiting = sum(map(len, self._batches))
        log.warning(
            "%s: writing %d records failed (%s); they stay queued and are written again with the "
            "next batch, on flush(), on close() or at exit",
            self.path,
            waiting,
            error,
        )
        return OSError(
            error.errno,
            f"AsyncFileTransport({str(self.path)!r}): {waiting} records could not be written "
            f"({error.strerror or error}); they are kept. Fix: call flush() or close() again once "
            "the file can be written",
        )
