"""Everything that depends on one interpreter's internals, in one place, tested on every version.

Engines import these helpers instead of reaching into ``sys``, ``asyncio`` or code objects
themselves; a new Python release then means reviewing this one module.

``start_eager`` / ``run_eager`` / ``EagerStarter``: run coroutines up to their first suspension
without (or before) a task; they live in :mod:`.eager` (the same rules apply there) and are
re-exported here.

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

``global_names`` / ``with_constants``: read which global names a function uses, and make a copy of
it whose reads of some of those names load values fixed now, as constants.  septum uses them for
handlers written in a class body, which Python does not let see the class's own names: the names
are resolved once, when a machine is compiled, and the handler then runs exactly as fast as any
function (its other globals stay live in its module).

``level_cache``: a logger's own cache of ``isEnabledFor()`` answers, so that a per-step "is INFO on?"
costs a dict lookup rather than a method call.

``called_within``: whether the current call chain runs inside a given method of a given object
(septum refuses, rather than deadlocks on, a handler that runs its own machine).

``shutting_down``: whether ``asyncio.run()`` (or an ``asyncio.Runner``) is closing its loop - cancelling
the tasks left over, shutting down async generators and the executor - so a timer firing then starts
no new task that would be destroyed pending when the loop closes.

``collector_paused``: the cyclic garbage collector held off while a bulk of long-lived objects is
built or written down at once (a pool of 10^5 ``fsm=`` machines restored from a snapshot): each
burst of allocations otherwise sets off collections that traverse everything built so far, which
took two thirds of such a restore's time.
"""

from __future__ import annotations

import asyncio
import asyncio.runners
import contextlib
import dis
import enum
import gc
import inspect
import json
import json.encoder
import logging
import sys
import types
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

from .eager import LAZY_TASKS, EagerStarter, run_eager, start_eager

__all__ = [
    "LAZY_TASKS",
    "EagerStarter",
    "called_within",
    "collector_paused",
    "compact_json",
    "global_names",
    "is_empty_function",
    "level_cache",
    "run_eager",
    "shutting_down",
    "start_eager",
    "with_constants",
]

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
    # json.dumps's own words, so both encoders say the same inside a StoreError's "is not JSON data (...)"
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


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


# --- global names as constants ----------------------------------------------------------------

_LOAD_GLOBAL = dis.opmap["LOAD_GLOBAL"]
_LOAD_CONST = dis.opmap["LOAD_CONST"]
_PUSH_NULL = dis.opmap["PUSH_NULL"]
_NOP = dis.opmap["NOP"]
_JUMP_FORWARD = dis.opmap["JUMP_FORWARD"]
_EXTENDED_ARG = dis.opmap["EXTENDED_ARG"]
# LOAD_GLOBAL's low oparg bit asks for a NULL next to the value (the callable slot of a call).
# 3.11 and 3.12 push the NULL below the value, 3.13 above it.
_NULL_FIRST = sys.version_info < (3, 13)


def _codes(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


def global_names(fn: object) -> set[str]:
    """Names ``fn`` (and the functions, lambdas and comprehensions nested in it) read as globals."""
    code = getattr(fn, "__code__", None)
    if not isinstance(code, types.CodeType):
        return set()
    return {
        ins.argval
        for c in _codes(code)
        for ins in dis.get_instructions(c)
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and isinstance(ins.argval, str)
    }


def _with_arg(opcode: int, arg: int) -> bytes:
    prefix = b"".join(bytes((_EXTENDED_ARG, (arg >> shift) & 0xFF)) for shift in (24, 16, 8) if arg >> shift)
    return prefix + bytes((opcode, arg & 0xFF))


def _fold(code: types.CodeType, values: Mapping[str, Any]) -> types.CodeType:
    consts = [_fold(c, values) if isinstance(c, types.CodeType) else c for c in code.co_consts]
    changed = any(new is not old for new, old in zip(consts, code.co_consts, strict=True))
    raw = bytearray(code.co_code)
    instructions = list(dis.get_instructions(code))
    start = None  # where the EXTENDED_ARG prefix of the current instruction begins
    for i, ins in enumerate(instructions):
        if ins.opcode == _EXTENDED_ARG:
            start = ins.offset if start is None else start
            continue
        begin, start = (ins.offset if start is None else start), None
        if ins.opcode != _LOAD_GLOBAL or ins.argval not in values:
            continue
        end = instructions[i + 1].offset if i + 1 < len(instructions) else len(raw)
        value, member = values[ins.argval], _enum_member(values[ins.argval], ins, instructions[i + 1 : i + 3])
        if member is not None:  # ``Events.GO`` on 3.11: the member itself, the attribute load folded too
            value, end = member, (instructions[i + 2].offset if i + 2 < len(instructions) else len(raw))
        consts.append(value)
        load = _with_arg(_LOAD_CONST, len(consts) - 1)
        null = bytes((_PUSH_NULL, 0)) if ins.arg is not None and ins.arg & 1 else b""
        new = (null + load) if _NULL_FIRST else (load + null)
        if len(new) > end - begin:  # LOAD_GLOBAL's inline caches always leave room; stay safe
            raise ValueError(f"no room to fold {ins.argval!r} in {code.co_qualname}")
        # Same length as what it replaces, so jumps, line numbers and exception ranges still hold;
        # the load's inline cache slots left over are jumped over, not run as NOPs.
        spare = (end - begin - len(new)) // 2
        if spare > 1:
            new += bytes((_JUMP_FORWARD, spare - 1))
            raw[begin : begin + len(new)] = new
        else:
            raw[begin:end] = new + bytes((_NOP, 0)) * spare
        changed = True
    return code.replace(co_code=bytes(raw), co_consts=tuple(consts)) if changed else code


def _enum_member(value: Any, load: dis.Instruction, after: list[dis.Instruction]) -> Any:
    """The member if ``load`` (a global fixed to ``value``) is read only as ``value.MEMBER`` of an enum
    class, on 3.11, whose enum classes answer ``Events.GO`` about ten times slower than a constant
    (0.14 us); None otherwise (a later version, a call, another attribute, a jump into the middle)."""
    if sys.version_info >= (3, 12) or not isinstance(value, enum.EnumType) or (load.arg or 0) & 1:
        return None
    attr = after[0] if after else None
    if attr is None or attr.opname != "LOAD_ATTR" or attr.is_jump_target:
        return None
    return value.__members__.get(attr.argval)


def with_constants(fn: types.FunctionType, values: Mapping[str, Any]) -> types.FunctionType:
    """A copy of ``fn`` whose reads of the global names in ``values`` load those values instead.

    The values are fixed now; every other global ``fn`` reads is still looked up in its module, live
    (monkeypatching a module helper still reaches the copy).  Functions nested in ``fn`` are
    covered too.  Names ``fn`` also assigns with ``global`` are left alone.  Returns ``fn`` itself
    when it reads none of the names.
    """
    reads = global_names(fn)  # once: it disassembles fn
    wanted = {name: value for name, value in values.items() if name in reads}
    assigned = {
        ins.argval
        for c in _codes(fn.__code__)
        for ins in dis.get_instructions(c)
        if ins.opname in ("STORE_GLOBAL", "DELETE_GLOBAL")
    }
    for name in assigned:
        wanted.pop(name, None)
    if not wanted:
        return fn
    folded = types.FunctionType(
        _fold(fn.__code__, wanted), fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__
    )
    folded.__kwdefaults__ = fn.__kwdefaults__
    folded.__qualname__ = fn.__qualname__
    folded.__doc__ = fn.__doc__
    folded.__module__ = fn.__module__
    folded.__dict__.update(fn.__dict__)
    return folded


# --- logging -----------------------------------------------------------------------------------


def level_cache(logger: logging.Logger) -> dict[int, bool]:
    """The dict in which ``logger`` caches its ``isEnabledFor(level)`` answers, by level.

    logging fills it as ``isEnabledFor()`` answers and empties it (never replaces it) whenever a
    level changes, so a missing level means "ask ``isEnabledFor()``".  Where a Python has no such
    cache, an empty dict is returned, which always means exactly that.
    """
    found = getattr(logger, "_cache", None)
    return found if isinstance(found, dict) else {}


# --- call chains ------------------------------------------------------------------------------


def called_within(owner: object, codes: Collection[types.CodeType], *, skip: int = 1) -> bool:
    """True if a frame up the current call chain runs one of ``codes`` with ``self`` bound to ``owner``.

    A coroutine's frame links back to the frame awaiting it, so this also sees through ``await``.
    ``skip`` frames above the caller are not looked at (the caller's own frame is always skipped).
    Walking frames costs microseconds: callers use it only on paths that are about to wait.
    """
    frame: types.FrameType | None = sys._getframe(skip + 1)
    while frame is not None:
        if frame.f_code in codes and frame.f_locals.get("self") is owner:
            return True
        frame = frame.f_back
    return False


#: The code of asyncio's loop shutdown: ``Runner.close()`` (asyncio.run ends through it) and the
#: helper cancelling the tasks left over, which it runs the loop for.
_SHUTDOWN_CODES = frozenset(
    (asyncio.runners.Runner.close.__code__, asyncio.runners._cancel_all_tasks.__code__)  # type: ignore[attr-defined]
)


def shutting_down() -> bool:
    """True if the current call runs inside asyncio's shutdown of the loop (``asyncio.run()`` returning).

    A timer callback is called from the loop, which runs inside ``Runner.close()`` while asyncio
    cancels the tasks left over and shuts down async generators and the executor; a task started
    then is never awaited and is destroyed pending when the loop closes.  Walks the frames (a few
    microseconds): callers ask only when about to start a task from a callback.
    """
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_code in _SHUTDOWN_CODES:
            return True
        frame = frame.f_back
    return False


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector off inside the block (left as it was if already off)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
