"""EagerStarter: many coroutines started in a row, each exactly as if it had a task of its own."""

import asyncio
import contextvars
import gc
import weakref
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from mycorrhizal.common import eager
from mycorrhizal.common.eager import EagerStarter

where: contextvars.ContextVar[str] = contextvars.ContextVar("where", default="outside")

Start = Callable[[Coroutine[Any, Any, Any]], Any]

# The task-to-be path exists only where CPython's C asyncio.Task can be initialised after it is
# allocated (3.11 to 3.13, see common.eager.LAZY_TASKS); elsewhere every start makes a real task,
# which the other tests cover.
NO_LAZY_TASKS = "needs CPython's C asyncio.Task (3.11-3.13); this interpreter makes a real task per start"
needs_lazy_tasks = pytest.mark.skipif(not eager.LAZY_TASKS, reason=NO_LAZY_TASKS)


@pytest.fixture(params=["driver", "entered", "run_eager"])
async def starter(request: pytest.FixtureRequest) -> Any:
    """A starter on the running loop, and how it starts: its own way (the driver, where tasks are
    lazy; also within a stretch) or run_eager's (elsewhere) - the one this
    interpreter does not use is still correct."""
    made = EagerStarter(asyncio.get_running_loop())
    if request.param == "run_eager":
        return made, made._alone
    if not eager.LAZY_TASKS:
        pytest.skip(NO_LAZY_TASKS)
    if request.param == "driver":
        return made, made.start

    return made, lambda coro: within(made, lambda _: made.start_entered(coro))


class Host:
    """What with_starter() needs of its host: the starter, in ``eager``."""

    def __init__(self, starter: EagerStarter | None = None) -> None:
        self.eager = starter


def within(made: EagerStarter, call: Callable[[Any], Any]) -> Any:
    """``call(host)`` within a stretch of ``made`` (the starter of a host, on the running loop)."""
    return eager.with_starter(call, True)(Host(made))


async def quick(value: Any) -> Any:
    return value


@needs_lazy_tasks
async def test_finished_coroutines_hand_back_their_results_and_errors(starter: Any) -> None:
    made, start = starter
    assert start(quick("a")) is None and (made.value, made.error) == ("a", None)

    async def failing() -> None:
        raise KeyError("k")

    assert start(failing()) is None and isinstance(made.error, KeyError) and made.value is eager.RAISED
    made.error = None
    assert start(quick("b")) is None and (made.value, made.error) == ("b", None)


@pytest.mark.parametrize("raised", [asyncio.CancelledError(), KeyboardInterrupt()], ids=["cancel", "stop"])
async def test_what_is_not_an_exception_is_handed_back_too(starter: Any, raised: BaseException) -> None:
    made, start = starter

    async def failing() -> None:
        raise raised

    assert start(failing()) is None and made.error is raised and made.value is eager.RAISED


async def test_a_task_to_be_nobody_kept_serves_the_next_coroutine(monkeypatch: pytest.MonkeyPatch) -> None:
    made = EagerStarter(asyncio.get_running_loop())
    made_tasks: list[Any] = []
    monkeypatch.setattr(eager, "_new_task", lambda cls: made_tasks.append(cls) or cls.__new__(cls))

    async def look() -> bool:
        return asyncio.current_task() is not None

    for _ in range(3):
        assert made.start(look()) is None and made.value is True
    assert made_tasks == []  # one task to be served all three: nobody could tell (nobody kept it)
    assert made.start(_keeps_it([])) is None
    assert len(made_tasks) == 1  # this one was kept: the next coroutine gets another


async def _keeps_it(kept: list[Any]) -> None:
    kept.append(asyncio.current_task())


async def _keeps_a_weak_reference(kept: list[Any]) -> None:
    task = asyncio.current_task()
    assert task is not None
    kept.append(weakref.ref(task))


async def _keeps_a_timeout(kept: list[Any]) -> None:
    async with asyncio.timeout(60) as timeout:  # the timeout holds the task it was entered in
        kept.append((timeout, id(asyncio.current_task())))


@pytest.mark.parametrize("keep", [_keeps_it, _keeps_a_weak_reference, _keeps_a_timeout])
async def test_a_task_someone_kept_is_never_seen_by_another_coroutine(starter: Any, keep: Any) -> None:
    made, start = starter
    kept: list[Any] = []
    for _ in range(3):
        assert start(keep(kept)) is None
    # Three live tasks, three weak references (one task would have had one, shared), three ids of
    # tasks their timeouts keep alive: each coroutine saw its own task.
    ids = {item[1] for item in kept} if keep is _keeps_a_timeout else {id(item) for item in kept}
    assert len(ids) == 3


@needs_lazy_tasks
async def test_each_coroutine_runs_in_its_own_copy_of_the_callers_context(starter: Any) -> None:
    made, start = starter
    where.set("caller")

    async def change(to: str) -> str:
        seen = where.get()
        where.set(to)
        return seen

    assert start(change("first")) is None and made.value == "caller"
    assert start(change("second")) is None and made.value == "caller"  # the first's change stayed there
    where.set("changed by the caller")
    assert start(change("third")) is None and made.value == "changed by the caller"
    assert where.get() == "changed by the caller"


async def test_a_coroutine_that_suspends_goes_on_in_the_task_it_saw(starter: Any) -> None:
    made, start = starter
    caller = asyncio.current_task()
    gate = asyncio.get_running_loop().create_future()
    seen: list[Any] = []
    where.set("caller")

    async def patient() -> str:
        seen.append(asyncio.current_task())
        where.set("patient")
        async with asyncio.timeout(60):
            await gate
        seen.append(asyncio.current_task())
        return where.get()

    task = start(patient())
    assert task is not None and asyncio.current_task() is caller and where.get() == "caller"
    assert start(quick("after")) is None and made.value == "after"  # the starter goes on meanwhile
    other = start(patient())
    assert other is not None and other is not task
    gate.set_result(None)
    assert await task == "patient" and await other == "patient"
    assert seen.count(task) == 2 and seen.count(other) == 2


async def test_a_suspended_coroutine_raising_or_cancelled_fails_its_task(starter: Any) -> None:
    made, start = starter
    log: list[str] = []

    async def raising() -> None:
        await asyncio.sleep(0)
        raise KeyError("later")

    async def sleeper() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            log.append("cancelled")
            raise

    failing, sleeping = start(raising()), start(sleeper())
    assert failing is not None and sleeping is not None
    sleeping.cancel()  # before the task ever ran a step of its own
    with pytest.raises(KeyError, match="later"):
        await failing
    with pytest.raises(asyncio.CancelledError):
        await sleeping
    assert log == ["cancelled"]
    assert start(quick(1)) is None and made.value == 1


class Result:
    """A coroutine's result."""


async def test_a_suspended_coroutine_that_returns_after_its_cancellation_hands_its_task_the_result(
    starter: Any,
) -> None:
    made, start = starter

    async def stubborn() -> Result:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            return Result()  # (thrown in through the task: its driver, if any, hands this back)
        raise AssertionError("not cancelled")  # pragma: no cover

    task = start(stubborn())
    assert task is not None
    await asyncio.sleep(0)  # (its task's first step, which takes the sleep over)
    task.cancel()
    result = await task
    assert isinstance(result, Result) and not task.cancelled()
    assert made.value is not result  # (the starter does not keep it)
    assert start(quick(1)) is None and made.value == 1


@needs_lazy_tasks
async def test_a_coroutine_finishing_in_its_task_never_makes_the_task_to_be_current() -> None:
    made = EagerStarter(asyncio.get_running_loop())
    gate = asyncio.get_running_loop().create_future()

    async def patient() -> Any:
        await gate
        return asyncio.current_task()

    task = made.start(patient())
    held = made._task  # held, as a coroutine that kept it would: whoever takes a fresh one ...
    gate.set_result(None)
    assert await task is task  # ... must not make it current while this task's step runs
    assert made.start(quick(2)) is None and made.value == 2 and held is not made._task


async def test_a_start_inside_a_start_of_the_same_starter_works(starter: Any) -> None:
    made, start = starter
    gate = asyncio.get_running_loop().create_future()
    inner_tasks: list[Any] = []

    async def inner() -> str:
        inner_tasks.append(asyncio.current_task())
        await gate
        return "inner"

    async def outer() -> Any:
        me = asyncio.current_task()
        assert start(quick("nested")) is None and made.value == "nested"
        task = start(inner())
        assert task is not None and task is not me and asyncio.current_task() is me
        return task

    assert start(outer()) is None
    task = made.value
    assert inner_tasks == [task]
    gate.set_result(None)
    assert await task == "inner"


async def test_ten_thousand_quick_coroutines_leave_no_task_behind(starter: Any) -> None:
    made, start = starter
    before = len(asyncio.all_tasks())
    for n in range(10_000):
        assert start(quick(n)) is None and made.value == n
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == before


async def test_a_dropped_starter_is_collected_with_its_driver() -> None:
    made = EagerStarter(asyncio.get_running_loop())
    made.start(quick(1))
    gone = weakref.ref(made._driver)
    del made
    gc.collect()
    assert gone() is None


@needs_lazy_tasks
async def test_within_a_stretch_the_task_to_be_is_current_and_each_coroutine_sees_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = EagerStarter(asyncio.get_running_loop())
    made_tasks: list[Any] = []
    monkeypatch.setattr(eager, "_new_task", lambda cls: made_tasks.append(cls) or cls.__new__(cls))
    caller = asyncio.current_task()
    kept: list[Any] = []
    gate = asyncio.get_running_loop().create_future()

    async def suspends() -> str:
        kept.append(asyncio.current_task())
        await gate
        return "done"

    def stretch(_: object) -> Any:
        assert asyncio.current_task() is made._task
        for n in range(3):
            assert made.start_entered(quick(n)) is None and made.value == n
        assert made_tasks == []  # nobody kept it: one task to be served all three
        assert made.start_entered(_keeps_it(kept)) is None
        assert len(made_tasks) == 1 and kept[0] is not made._task  # kept: the next one gets another
        assert asyncio.current_task() is made._task
        made.step_out()
        assert asyncio.current_task() is caller  # (what an error policy's log handler sees)
        made.step_in()
        task = made.start_entered(suspends())
        assert task is not None and kept[1] is task and asyncio.current_task() is made._task is not task
        return task

    task = within(made, stretch)
    assert asyncio.current_task() is caller
    gate.set_result(None)
    assert await task == "done"


@needs_lazy_tasks
async def test_a_stretch_that_raises_makes_the_callers_task_current_again() -> None:
    made = EagerStarter(asyncio.get_running_loop())
    caller = asyncio.current_task()

    def fails(_: object) -> None:
        raise KeyError("inside")

    with pytest.raises(KeyError, match="inside"):
        within(made, fails)
    assert asyncio.current_task() is caller
    assert within(made, lambda _: within(made, lambda _: asyncio.current_task())) is made._task
    assert asyncio.current_task() is caller  # (stretches nest)
