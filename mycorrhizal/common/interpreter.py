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

``is_empty_function``: tell, from its bytecode, that a function does nothing but return None.

mycelium skips calling a transition's own body when it is only ``pass``, ``...``, a docstring or
``return None``: that saves a coroutine per firing.  Bytecode differs between versions (3.11 loads
None and returns it, 3.12+ returns the constant directly, coroutines start with a generator
prologue), so the check reads the instructions rather than comparing raw bytes: a docstring-only
body loads constant 1 where ``pass`` loads constant 0, and the same bytes would also mean
``return 1`` in a function whose constant 1 is not None.

``compact_json``: strict, compact JSON text of one value, at half the cost of ``json.dumps``.

A durability journal serialises every record it appends, one small value at a time.  ``json.dumps``
builds a new C encoder for each call, which costs more than encoding a small record; CPython's
``json.encoder.c_make_encoder`` (not public) builds one that can be called again and again.  Where it
is missing (another interpreter), a reused ``json.JSONEncoder`` gives the same text.
"""

from __future__ import annotations

import asyncio
import contextvars
import dis
import inspect
import json
import json.encoder
import sys
from collections.abc import Callable, Coroutine, Generator
from typing import Any

__all__ = ["compact_json", "is_empty_function", "start_eager"]

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


# Instructions the interpreter puts before a function's first statement (coroutine set-up, cells).
_PROLOGUE = frozenset({"RESUME", "NOP", "RETURN_GENERATOR", "POP_TOP", "COPY_FREE_VARS", "MAKE_CELL"})
_NOT_PLAIN = inspect.CO_GENERATOR | inspect.CO_ASYNC_GENERATOR | inspect.CO_ITERABLE_COROUTINE


def is_empty_function(fn: object) -> bool:
    """True if calling ``fn`` (or awaiting its coroutine) does nothing and returns None.

    That is a plain or ``async def`` function whose body is only ``pass``, ``...``, a docstring or
    ``return None``.  Anything else (other callables, generators, any other statement) is False:
    a false "not empty" only costs a call, a false "empty" would skip the user's code.
    """
    code = getattr(fn, "__code__", None)
    if code is None or not inspect.iscode(code) or code.co_flags & _NOT_PLAIN:
        return False
    loaded_none = False
    for instruction in dis.get_instructions(code):
        name = instruction.opname
        if name == "RETURN_CONST":  # 3.12+: return a constant in one instruction
            return instruction.argval is None and not loaded_none
        if name == "RETURN_VALUE":  # 3.11: LOAD_CONST None; RETURN_VALUE
            return loaded_none
        if name == "LOAD_CONST" and instruction.argval is None and not loaded_none:
            loaded_none = True
        elif name not in _PROLOGUE or loaded_none:
            return False
    return False


def _not_json(value: Any) -> Any:
    raise TypeError(f"a {type(value).__name__} is not JSON data")


def _compact_json_function() -> Callable[[Any], str]:
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is not None:
        try:
            # markers=None: no cycle check (a value containing itself hits the recursion limit);
            # then default, string encoder, indent, separators, sort_keys, skipkeys, allow_nan.
            chunks = make(
                None, _not_json, json.encoder.encode_basestring, None, ":", ",", False, False, False
            )
        except TypeError:  # its signature changed: fall back below
            pass
        else:

            def compact(value: Any) -> str:
                return "".join(chunks(value, 0))

            return compact
    encoder = json.JSONEncoder(
        ensure_ascii=False, allow_nan=False, separators=(",", ":"), check_circular=False
    )
    return encoder.encode


compact_json: Callable[[Any], str] = _compact_json_function()
"""Strict compact JSON text of ``value`` (no NaN/Infinity, non-ASCII kept); TypeError, ValueError or
RecursionError for what is not JSON data."""
