"""Everything that depends on one interpreter's internals, in one place, tested on every version.

Engines import these helpers instead of reaching into ``sys``, ``asyncio`` or code objects
themselves; a new Python release then means reviewing this one module.

``start_eager``: start a coroutine eagerly, running it up to its first suspension inside its own task.

An async leaf that finishes without suspending must not pay for a trip through the event loop, and
one that does suspend must keep running in the background while the tree reports RUNNING.  Python
3.12 has ``eager_start`` for exactly this.  On 3.11 we do the same by hand: the task is created
first, made the *current* task while the coroutine runs its first step (so ``asyncio.timeout()``,
``TaskGroup`` and ``current_task()`` inside the leaf see the task that will carry on its work), and
the task's own first step then just hands back what that first step produced.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
from collections.abc import Coroutine, Generator
from typing import Any

__all__ = ["start_eager"]

_NOTHING: Any = object()

#: (task, finished during the first step, its result, the exception it raised)
Started = tuple[asyncio.Task[Any], bool, Any, BaseException | None]


class _Resume(Coroutine[Any, Any, Any]):
    """The coroutine a task runs to continue a coroutine whose first step already ran."""

    __slots__ = ("_coro", "_first", "_result")

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._coro = coro
        self._first: Any = _NOTHING  # what the first step yielded, until the task picks it up
        self._result: Any = _NOTHING  # the return value, if the first step finished

    def send(self, value: Any) -> Any:
        first = self._first
        if first is not _NOTHING:
            self._first = _NOTHING
            return first
        if self._result is not _NOTHING:
            raise StopIteration(self._result)
        return self._coro.send(value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        self._first = _NOTHING
        if self._result is not _NOTHING:
            # Nothing left to interrupt: the coroutine already finished during its first step.
            raise StopIteration(self._result)
        if val is None and tb is None:
            return self._coro.throw(typ)
        return self._coro.throw(typ, val, tb)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, None, Any]:
        raise TypeError("_Resume is driven by its task only")


if sys.version_info >= (3, 12):

    def start_eager(coro: Coroutine[Any, Any, Any]) -> Started:
        """Run ``coro`` to its first suspension; return (task, finished, result, exception)."""
        task = asyncio.Task(coro, loop=asyncio.get_running_loop(), eager_start=True)  # type: ignore[call-arg]
        if not task.done():
            return task, False, None, None
        if task.cancelled():
            return task, True, None, asyncio.CancelledError()
        exc = task.exception()
        return task, True, (None if exc is not None else task.result()), exc

else:
    from asyncio.tasks import _enter_task, _leave_task

    def start_eager(coro: Coroutine[Any, Any, Any]) -> Started:
        """Run ``coro`` to its first suspension; return (task, finished, result, exception)."""
        loop = asyncio.get_running_loop()
        resume = _Resume(coro)
        context = contextvars.copy_context()
        task: asyncio.Task[Any] = loop.create_task(resume, context=context)
        previous = asyncio.current_task(loop)
        if previous is not None:
            _leave_task(loop, previous)
        _enter_task(loop, task)
        try:
            resume._first = context.run(coro.send, None)
        except StopIteration as stop:
            resume._result = stop.value
            return task, True, stop.value, None
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, who applies the policy
            resume._result = None
            return task, True, None, exc
        finally:
            _leave_task(loop, task)
            if previous is not None:
                _enter_task(loop, previous)
        return task, False, None, None
