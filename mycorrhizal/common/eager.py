"""Starting coroutines eagerly: up to their first suspension, with no task unless they suspend.

``start_eager``: run a coroutine up to its first suspension inside its own task (made first).
``run_eager``: the same, but make the task only if the coroutine suspends.

An async leaf that finishes without suspending must cost little more than a plain call: no task,
no trip through the event loop, nothing left behind.  One that suspends must keep running in the
background, in a task, while the tree reports RUNNING.  And code inside the coroutine must see,
from its first line, the task that will carry on its work (``asyncio.timeout()``, ``TaskGroup`` and
``current_task()`` bind to the current task when they are entered).  Even 3.12's ``eager_start``
creates and registers a whole task per call, which costs several times the leaf itself.

So the first step runs with a *task to be* as the current task: an allocated but not initialised
``asyncio.Task`` (``Task.__new__``), put into asyncio's table of current tasks for the loop, with
the coroutine run in a copy of the caller's context as a task would.  If the coroutine finishes,
that object is dropped unused, unless it is held by an :class:`EagerStarter` (below) and nothing
else holds it.  If it
suspends, ``Task.__init__`` turns that very object into a real, scheduled task (same identity,
same context) whose first step hands back what the coroutine's first step yielded.  Before
``__init__`` the C task is inert: the ``cancelling()`` / ``uncancel()`` that ``asyncio.timeout()``
calls work on it, anything else raises ``RuntimeError`` ("uninitialized"), and it is never
scheduled nor registered.  So code that keeps ``current_task()`` beyond a coroutine that
finished without suspending holds an object that never ran (its methods raise); within the
call, and in every coroutine that suspends, it is the task.  This relies on the C
task (CPython's ``_asyncio``) and on ``asyncio.tasks._current_tasks`` being the C module's dict
(3.11 to 3.13); elsewhere ``run_eager`` is ``start_eager``, which creates the task first
(``eager_start`` on 3.12+, by hand on 3.11) and works everywhere at the cost of a task per call.
``start_eager`` stays for callers that want the task in every case (hypha tracks its handlers'
tasks).

``EagerStarter``: ``run_eager`` for a caller that starts many coroutines in one synchronous stretch
(a behaviour-tree tick starts one per async leaf), at about half the cost per coroutine.  Where
``run_eager`` sends into the coroutine itself - so a coroutine that returns costs a
``StopIteration`` raised, caught and unpacked - the starter sends it into a *driver*: a long-lived
generator-based coroutine that awaits it with ``yield from`` (the interpreter's fast path: a
return is a value, not an exception) and yields a marker back, its result kept aside.  The task to
be is made once and kept for the next coroutine as long as nothing else holds it (``sys.getrefcount``
and ``weakref.getweakrefcount`` say so once the coroutine has finished): a coroutine that kept
``current_task()`` - itself or through an ``asyncio.timeout()`` whose timer is still scheduled -
makes the starter take a fresh one, so no two coroutines are ever seen to share a task.  Each
coroutine still runs in its own copy of the caller's context, with the task to be current only
while it runs - or, within a *stretch* (``with_starter(tick, True)``: a run of starts with no
other user code in between), from the stretch's start to its end, the caller's task current
again after it.
If a coroutine suspends, the driver (suspended in its ``yield from``) is what the
task carries on, through the same ``_Resume`` as above, and knows it is detached: when the
coroutine ends it returns the result (or raises) to the task instead of yielding the marker; the
starter makes a new driver and a new task to be for what it starts next.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
import types
import weakref
from asyncio.tasks import _enter_task, _leave_task
from collections.abc import Callable, Coroutine, Generator
from typing import Any

__all__ = ["BUSY", "DONE", "LAZY_TASKS", "RAISED", "EagerStarter", "run_eager", "start_eager", "with_starter"]

_NOTHING: Any = object()

#: (task, finished during the first step, its result, the exception it raised)
Started = tuple[asyncio.Task[Any], bool, Any, BaseException | None]
#: The same, with no task (None) for a coroutine that finished during its first step.
Ran = tuple[asyncio.Task[Any] | None, bool, Any, BaseException | None]


class _Resume(Coroutine[Any, Any, Any]):
    """The coroutine a task runs to continue a coroutine whose first step already ran.

    A future the first step is waiting on has its "blocking" flag set (asyncio's handshake between a
    future and the task step that receives it).  Until the task's own first step takes it, the flag
    is cleared - so another coroutine may await the same future meanwhile - and set again when the
    step receives the future.
    """

    __slots__ = ("_coro", "_first", "_result", "_reblock")

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._coro = coro
        self._first: Any = _NOTHING  # what the first step yielded, until the task picks it up
        self._result: Any = _NOTHING  # the return value, if the first step finished
        self._reblock = False

    def hold(self, first: Any) -> None:
        """Keep what the first step yielded for the task's first step.

        A bare ``yield`` (``asyncio.sleep(0)``) yields None: it only asks to be resumed on the next
        turn of the loop, which is exactly when the new task's first step runs - so that step
        resumes the coroutine at once instead of handing the None to the task to reschedule itself.
        """
        if first is None:
            return
        self._first = first
        if getattr(first, "_asyncio_future_blocking", False):
            first._asyncio_future_blocking = False
            self._reblock = True

    def send(self, value: Any) -> Any:
        first = self._first
        if first is not _NOTHING:
            self._first = _NOTHING
            if self._reblock:
                first._asyncio_future_blocking = True
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


_Task: Any = asyncio.Task
_current_tasks: Any = getattr(asyncio.tasks, "_current_tasks", None)
#: True where a task can be allocated first and initialised later (CPython's C task, 3.11-3.13).
LAZY_TASKS = (
    _Task is getattr(asyncio.tasks, "_CTask", None)
    and isinstance(_current_tasks, dict)
    and _current_tasks is getattr(sys.modules.get("_asyncio"), "_current_tasks", None)
)


def _start_lazy(coro: Coroutine[Any, Any, Any], loop: asyncio.AbstractEventLoop | None = None) -> Ran:
    """Run ``coro``'s first step with a task-to-be as the current task; initialise it on suspension."""
    if loop is None:
        loop = _running_loop()
    task = _new_task(_Task)
    current = _current_tasks
    previous = current.get(loop)
    current[loop] = task
    context = _copy_context()
    try:
        first = context.run(coro.send, None)
    except StopIteration as stop:
        return None, True, stop.value, None
    except BaseException as exc:  # noqa: BLE001 - handed to the caller, who applies the policy
        return None, True, None, exc
    finally:
        if previous is None:
            del current[loop]
        else:
            current[loop] = previous
    resume = _Resume(coro)
    resume.hold(first)
    _Task.__init__(task, resume, loop=loop, context=context)
    return task, False, None, None


def _start_by_hand(coro: Coroutine[Any, Any, Any]) -> Started:
    """``start_eager`` on 3.11: the task is created first and made current by hand."""
    loop = asyncio.get_running_loop()
    resume = _Resume(coro)
    context = contextvars.copy_context()
    task: asyncio.Task[Any] = loop.create_task(resume, context=context)
    previous = asyncio.current_task(loop)
    if previous is not None:
        _leave_task(loop, previous)
    _enter_task(loop, task)
    try:
        resume.hold(context.run(coro.send, None))
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


def _start_eager_task(coro: Coroutine[Any, Any, Any]) -> Started:
    """``start_eager`` on 3.12+: asyncio's own ``eager_start``."""
    task = asyncio.Task(coro, loop=asyncio.get_running_loop(), eager_start=True)  # type: ignore[call-arg]
    if not task.done():
        return task, False, None, None
    if task.cancelled():
        return task, True, None, asyncio.CancelledError()
    exc = task.exception()
    return task, True, (None if exc is not None else task.result()), exc


def _run_with_a_task(coro: Coroutine[Any, Any, Any], loop: asyncio.AbstractEventLoop | None = None) -> Ran:
    """``run_eager`` where tasks cannot be initialised late: ``start_eager``, forgetting a finished task
    (``loop``: the running loop, which ``start_eager`` finds itself)."""
    task, done, value, exc = start_eager(coro)
    return (None if done else task), done, value, exc


_running_loop = asyncio.get_running_loop
_copy_context = contextvars.copy_context
_new_task = _Task.__new__

start_eager: Callable[[Coroutine[Any, Any, Any]], Started] = (
    _start_eager_task if sys.version_info >= (3, 12) else _start_by_hand
)
"""Run ``coro`` to its first suspension inside its own task, made first; (the task, finished, result,
exception).  A task exists even when the coroutine finished (it carries the outcome)."""

run_eager: Callable[[Coroutine[Any, Any, Any], asyncio.AbstractEventLoop | None], Ran] = (
    _start_lazy if LAZY_TASKS else _run_with_a_task
)
"""Run ``coro`` to its first suspension, making its task only if it suspends; (the task - None if it
finished -, finished, result, exception).  ``loop``: the running loop, if the caller has it at hand
(a caller starting many coroutines in one synchronous stretch asks for it once); None: look it up."""


DONE: Any = object()
"""What :attr:`EagerStarter.send` returns when the coroutine it was given finished."""
RAISED: Any = object()
""":attr:`EagerStarter.value` after a coroutine raised (the exception is in ``error``)."""
BUSY: Any = object()
"""What stands for the first yield of a coroutine the starter's driver could not take (it was busy:
a start inside a start); :meth:`EagerStarter.carry_on` starts that coroutine alone."""
_refcount = sys.getrefcount
_weakrefs = weakref.getweakrefcount
#: sys.getrefcount of a task to be nothing else holds, in the driver once its coroutine finished
#: (the starter's attribute, the table of current tasks, the call's argument); the tests of a task
#: to be that nobody kept (tests/common/test_eager.py) check it on every version.
_SOLE = 3


@types.coroutine
def _drive(starter: EagerStarter) -> Generator[Any, Any, Any]:
    """The driver of ``starter``: awaits each coroutine it is sent, yields ``DONE`` when it finished.

    It runs while the task to be is current (in the table of current tasks): when a coroutine has
    finished and something else holds the task to be (the coroutine kept ``current_task()``, or an
    ``asyncio.timeout()`` did), the starter takes a fresh one, current from then on.
    Once it is no longer the starter's driver (its coroutine suspended and a task carries it on),
    it returns the coroutine's result, or raises its exception, to that task.
    """
    me = yield
    coro = yield
    refcount, weakrefs, sole, done = _refcount, _weakrefs, _SOLE, DONE  # (locals: read per coroutine)
    while True:
        try:
            value = yield from coro
        except BaseException as exc:
            if starter._driver is not me:
                raise
            starter.value, starter.error = RAISED, exc
        else:
            if starter._driver is not me:
                return value
            starter.value = value
        if refcount(starter._task) > sole or weakrefs(starter._task):
            starter._renew_task()
        coro = yield done


class EagerStarter:
    """Starts coroutines on ``loop`` one after another, each up to its first suspension.

    :meth:`start` returns None
    when the coroutine finished (its result in :attr:`value`, or what it raised in :attr:`error`,
    which the caller clears), else the task that carries it on.

    Within a stretch (:func:`with_starter`), a caller that starts many coroutines may do what
    :meth:`start_entered` does itself, one call fewer per coroutine (where :data:`LAZY_TASKS`)::

        context = contextvars.copy_context()
        try:
            first = context.run(starter.send, coro)
        except ValueError:  # the driver is busy: a start inside a start
            first = BUSY
        task = None if first is DONE else starter.carry_on(first, coro, context)
    """

    __slots__ = ("loop", "value", "error", "send", "_driver", "_task", "_outer")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        #: The result of the last coroutine that finished during start() (RAISED if it raised: a
        #: caller expecting results of some types may test only the type of this one).
        self.value: Any = None
        #: What the last coroutine that finished during start() raised (None: it returned).
        self.error: BaseException | None = None
        #: The driver's send: runs a coroutine to its first suspension while the task to be is
        #: current; DONE if it finished (where tasks are lazy; elsewhere start() alone).
        self.send: Callable[[Any], Any] = self._alone
        self._driver: Any = None
        self._task: Any = None
        self._outer: Any = None  # the task current outside a stretch (with_starter())
        if LAZY_TASKS:
            self._new_driver()
            self._task = _new_task(_Task)

    def _new_driver(self) -> None:
        driver = _drive(self)
        driver.send(None)
        driver.send(driver)  # its own identity: how it tells that it has been detached
        self._driver = driver
        self.send = driver.send

    def start(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
        """Run ``coro`` to its first suspension; None if it finished there, else its task."""
        loop = self.loop
        current = _current_tasks
        previous = current.get(loop)
        current[loop] = self._task
        context = _copy_context()
        try:
            first = context.run(self.send, coro)
        except ValueError:  # only the driver raises here: it is busy (a start inside a start)
            first = BUSY
        finally:
            if previous is None:
                del current[loop]
            else:
                current[loop] = previous
        if first is DONE:
            return None
        return self.carry_on(first, coro, context)

    def carry_on(self, first: Any, coro: Coroutine[Any, Any, Any], context: Any) -> asyncio.Task[Any] | None:
        """After :attr:`send` returned ``first`` (not DONE) for ``coro`` run in ``context``: the task
        that carries the suspended coroutine on (or, if the driver was BUSY, ``coro`` started alone)."""
        if first is BUSY:
            return self._alone(coro)
        task: asyncio.Task[Any] = self._task
        driver = self._driver
        self._new_driver()  # the old one is detached from now on, and goes on in the task
        self._task = _new_task(_Task)
        if _current_tasks.get(self.loop) is task:  # within a stretch: the new task to be is current
            _current_tasks[self.loop] = self._task
        resume = _Resume(driver)
        resume.hold(first)
        _Task.__init__(task, resume, loop=self.loop, context=context)
        return task

    def _renew_task(self) -> None:
        """Take a fresh task to be (the one held became a task, or something else holds it); it is
        current instead of the old one if that was current (within a stretch), and only then."""
        old = self._task
        self._task = _new_task(_Task)
        if _current_tasks.get(self.loop) is old:
            _current_tasks[self.loop] = self._task

    def step_out(self) -> None:
        """Within a stretch (:func:`with_starter`), make the task current outside it current again
        (before user code that is not a coroutine being started: a log handler); :meth:`step_in`
        after."""
        if LAZY_TASKS:
            if self._outer is None:
                _current_tasks.pop(self.loop, None)
            else:
                _current_tasks[self.loop] = self._outer

    def step_in(self) -> None:
        """Back into the stretch after :meth:`step_out`."""
        if LAZY_TASKS:
            _current_tasks[self.loop] = self._task

    def start_entered(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
        """:meth:`start` within a stretch (:func:`with_starter`): the task to be is current already."""
        context = _copy_context()
        try:
            first = context.run(self.send, coro)
        except ValueError:  # only the driver raises here: it is busy (a start inside a start)
            first = BUSY
        return None if first is DONE else self.carry_on(first, coro, context)

    def _alone(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
        """``run_eager``, with the outcome where :meth:`start` puts it."""
        task, _, value, error = run_eager(coro, self.loop)
        if task is None:
            self.value, self.error = (value, None) if error is None else (RAISED, error)
        return task


def _start_alone(self: EagerStarter, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
    return self._alone(coro)


if not LAZY_TASKS:  # no task to be here: every start is run_eager's
    EagerStarter.start = _start_alone  # type: ignore[method-assign]
    EagerStarter.start_entered = _start_alone  # type: ignore[method-assign]


def with_starter(tick: Callable[[Any], Any], stretch: bool) -> Callable[[Any], Any]:
    """``tick(host)`` made to run with ``host.eager`` the host's starter for the running loop (made,
    and kept there, when the host has none yet or one of another loop); if ``stretch``, within a
    *stretch* of it: the task to be current meanwhile, for a run of :meth:`EagerStarter.start_entered`
    calls with nothing else in between that could look at the current task (no user code), and
    the task that was current current again after it.  Stretches nest.

    One function, not a call of a method of the starter: it is once per tick of a tree."""
    running_loop, current = asyncio.get_running_loop, _current_tasks

    def starting(host: Any) -> Any:
        loop = running_loop()
        starter = host.eager
        if starter is None or starter.loop is not loop:
            host.eager = EagerStarter(loop)
        return tick(host)

    def stretched(host: Any) -> Any:
        loop = running_loop()
        starter = host.eager
        if starter is None or starter.loop is not loop:
            starter = host.eager = EagerStarter(loop)
        saved = starter._outer
        outer = starter._outer = current.get(loop)
        current[loop] = starter._task
        try:
            return tick(host)
        finally:
            if outer is None:
                current.pop(loop, None)
            else:
                current[loop] = outer
            starter._outer = saved

    return stretched if stretch and LAZY_TASKS else starting
