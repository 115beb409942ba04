"""The interpreter-specific helpers, on whichever Python runs the suite (CI runs 3.11, 3.12, 3.13)."""

import asyncio
import contextvars
import dis
import enum
import functools
import gc
import json
import json.encoder
import logging
import math
import sys
import traceback
import types
from collections.abc import Callable
from typing import Any

import pytest

from mycorrhizal.common import eager, interpreter
from mycorrhizal.common.interpreter import (
    called_within,
    compact_json,
    global_names,
    is_empty_function,
    level_cache,
    run_eager,
    start_eager,
    with_constants,
)


def only_pass(a: Any, b: Any) -> None:
    pass


def only_ellipsis(a: Any, b: Any) -> None: ...


def only_docstring(a: Any, b: Any) -> None:
    """Nothing to do here."""


def docstring_and_pass(a: Any, b: Any) -> None:
    """Nothing to do here."""
    pass


def bare_return(a: Any, b: Any) -> None:
    return


def return_none(a: Any, b: Any) -> None:
    return None


async def async_pass(a: Any, b: Any) -> None:
    pass


async def async_docstring(a: Any, b: Any) -> None:
    """Nothing to do here either."""


class Methods:
    def empty(self) -> None:
        """An empty method."""

    def busy(self) -> int:
        return 1


@pytest.mark.parametrize(
    "fn",
    [
        only_pass,
        only_ellipsis,
        only_docstring,
        docstring_and_pass,
        bare_return,
        return_none,
        async_pass,
        async_docstring,
        Methods().empty,
        lambda: None,
    ],
)
def test_functions_that_only_return_none_are_empty(fn: Callable[..., Any]) -> None:
    assert is_empty_function(fn)


def documented_return_one() -> int:
    """The docstring is constant 0 here, so ``return 1`` loads constant 1, as a docstring-only body does."""
    return 1


def return_one() -> int:
    return 1


def return_argument(a: Any) -> Any:
    return a


def calls_something(a: list[Any]) -> None:
    a.append(1)


def reads_a_global() -> None:
    documented_return_one  # noqa: B018 - a statement that loads a name is not empty


def generator() -> Any:
    return
    yield


async def async_generator() -> Any:
    return
    yield


async def awaits_something() -> None:
    await async_pass(1, 2)


def raises() -> None:
    raise ValueError


def closure_reader() -> Callable[[], Any]:
    value = 3

    def inner() -> Any:
        return value

    return inner


@pytest.mark.parametrize(
    "fn",
    [
        documented_return_one,
        return_one,
        return_argument,
        calls_something,
        reads_a_global,
        generator,
        async_generator,
        awaits_something,
        raises,
        closure_reader(),
        Methods().busy,
        functools.partial(only_pass, 1),
        print,
        42,
        lambda: 0,
    ],
)
def test_functions_that_do_anything_else_are_not_empty(fn: Any) -> None:
    assert not is_empty_function(fn)


def test_a_docstring_only_body_with_a_constant_return_elsewhere_is_told_apart() -> None:
    # Same bytes as only_docstring's body on every version: LOAD/RETURN constant 1.
    assert documented_return_one.__code__.co_code == only_docstring.__code__.co_code
    assert is_empty_function(only_docstring) and not is_empty_function(documented_return_one)


# --------------------------------------------- start_eager (3.11: done by hand; 3.12+: eager_start)

where: contextvars.ContextVar[str] = contextvars.ContextVar("where", default="outside")


async def test_a_coroutine_that_does_not_suspend_finishes_within_the_call() -> None:
    async def quick() -> str:
        return "done"

    task, done, value, error = start_eager(quick())
    assert (done, value, error) == (True, "done", None)
    assert await task == "done"  # the task carries the same outcome (on 3.11 after its first step)


@pytest.mark.parametrize("raised", [KeyError("k"), asyncio.CancelledError()], ids=["error", "cancelled"])
async def test_an_exception_before_the_first_suspension_is_handed_back(raised: BaseException) -> None:
    reported: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _, context: reported.append(context))

    async def failing() -> None:
        raise raised

    try:
        task, done, value, error = start_eager(failing())
        assert done and value is None
        assert type(error) is type(raised)
        await asyncio.sleep(0)
        assert task.done()  # nothing left running
        del task
        gc.collect()
        assert reported == []  # and nothing left to retrieve: the caller owns the exception
    finally:
        loop.set_exception_handler(None)


async def test_a_suspending_coroutine_runs_on_in_its_own_task() -> None:
    seen: list[Any] = []
    gate = asyncio.get_running_loop().create_future()

    async def patient() -> str:
        seen.append(asyncio.current_task())
        await gate
        seen.append(asyncio.current_task())
        return "later"

    caller = asyncio.current_task()
    task, done, value, error = start_eager(patient())
    assert (done, value, error) == (False, None, None)
    assert asyncio.current_task() is caller  # the caller is current again after the first step
    gate.set_result(None)
    assert await task == "later"
    assert seen == [task, task]  # the same task before and after the suspension


async def test_asyncio_timeout_inside_cancels_the_coroutine_task_not_the_caller() -> None:
    async def bounded() -> str:
        try:
            async with asyncio.timeout(0):
                await asyncio.sleep(10)
        except TimeoutError:
            return "timed out"
        return "slept"  # pragma: no cover

    task, done, _, _ = start_eager(bounded())
    assert not done
    assert await task == "timed out"


async def test_cancelling_the_task_reaches_the_coroutine_at_its_await() -> None:
    log: list[str] = []

    async def sleeper() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            log.append("cancelled")
            raise

    task, done, _, _ = start_eager(sleeper())
    assert not done
    task.cancel()  # before the task ever ran a step of its own
    with pytest.raises(asyncio.CancelledError):
        await task
    assert log == ["cancelled"]


async def test_the_coroutine_runs_in_a_copy_of_the_callers_context() -> None:
    where.set("caller")

    async def change() -> str:
        seen = where.get()
        where.set("inside")
        await asyncio.sleep(0)
        return seen

    task, _, _, _ = start_eager(change())
    assert await task == "caller"
    assert where.get() == "caller"


def test_the_eager_start_of_this_python_is_the_one_expected() -> None:
    """3.12+ uses asyncio's own eager_start; 3.11 has no such parameter and is done by hand."""
    import inspect

    has_eager = "eager_start" in inspect.signature(asyncio.Task).parameters
    assert has_eager == (sys.version_info >= (3, 12))


# ------------------------- run_eager: the task is made only if the coroutine suspends (see the module)


async def test_run_eager_makes_no_task_for_a_coroutine_that_does_not_suspend() -> None:
    async def quick() -> str:
        return "done"

    before = len(asyncio.all_tasks())
    task, done, value, error = run_eager(quick())
    assert (task, done, value, error) == (None, True, "done", None)
    if interpreter.LAZY_TASKS:
        assert len(asyncio.all_tasks()) == before  # no task was made


async def test_a_coroutine_that_does_not_suspend_leaves_its_context_changes_behind() -> None:
    where.set("caller")

    async def change() -> None:
        where.set("inside")

    run_eager(change())
    assert where.get() == "caller"


def test_lazy_tasks_are_used_on_every_supported_cpython() -> None:
    """The C task and asyncio's table of current tasks are what the lazy start relies on (3.11-3.13)."""
    expected = sys.implementation.name == "cpython" and sys.version_info < (3, 14)
    assert interpreter.LAZY_TASKS is expected
    assert run_eager is (eager._start_lazy if expected else eager._run_with_a_task)


@pytest.fixture(params=["lazy", "with a task"])
def start(request: pytest.FixtureRequest) -> Any:
    """Both ways run_eager may work (the one this interpreter does not use is still correct)."""
    if request.param == "lazy" and not interpreter.LAZY_TASKS:
        pytest.skip("needs CPython's C asyncio.Task (3.11-3.13); this interpreter makes a real task")
    return eager._start_lazy if request.param == "lazy" else eager._run_with_a_task


async def test_the_task_seen_inside_is_the_task_that_carries_on_for_both_ways(start: Any) -> None:
    seen: list[Any] = []
    gate = asyncio.get_running_loop().create_future()

    async def patient() -> str:
        seen.append(asyncio.current_task())
        async with asyncio.timeout(60):
            await gate
        seen.append(asyncio.current_task())
        return "later"

    caller = asyncio.current_task()
    task, done, _, _ = start(patient())
    assert not done and asyncio.current_task() is caller
    gate.set_result(None)
    assert await task == "later" and seen == [task, task]


async def test_starts_nest_each_with_its_own_task(start: Any) -> None:
    inner_tasks: list[Any] = []
    gate = asyncio.get_running_loop().create_future()

    async def inner() -> str:
        inner_tasks.append(asyncio.current_task())
        await gate
        return "inner"

    async def outer() -> str:
        me = asyncio.current_task()
        task, done, _, _ = start(inner())  # started from within the outer's first step
        assert not done and task is not me and asyncio.current_task() is me
        await gate
        assert asyncio.current_task() is me
        return str(await task)

    task, done, _, _ = start(outer())
    assert not done and inner_tasks[0] is not task
    gate.set_result(None)
    assert await task == "inner"


async def test_the_running_loop_may_be_given_instead_of_looked_up(start: Any) -> None:
    loop = asyncio.get_running_loop()
    gate = loop.create_future()

    async def quick() -> str:
        return "now"

    async def patient() -> str:
        await gate
        return "later"

    assert start(quick(), loop) == (None, True, "now", None)
    task, done, _, _ = start(patient(), loop)
    assert not done and task.get_loop() is loop and task in asyncio.all_tasks()
    gate.set_result(None)
    assert await task == "later"


async def test_ten_thousand_quick_coroutines_leave_no_task_behind(start: Any) -> None:
    async def quick(n: int) -> int:
        return n

    before = len(asyncio.all_tasks())
    for n in range(10_000):
        task, done, value, _ = start(quick(n))
        assert task is None and done and value == n
    if start is eager._start_lazy:
        assert len(asyncio.all_tasks()) == before  # not even until the loop runs
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == before


# --- compact_json: the reused C encoder and its fallback write the same text ------------------------

SAMPLES: list[Any] = [
    None,
    [1, 2.5, -0.0, 1e300, "naïve ✓", True, {"a": [None]}],
    ("fire", {"in": [[1, "job"]], "out": {}}),
    {"nested": {"deeper": [{"x": '\x00\n"'}]}},
]


@pytest.fixture(params=["c-encoder", "fallback"])
def dumps(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    if request.param == "fallback":
        monkeypatch.setattr(json.encoder, "c_make_encoder", None)
    return interpreter._compact_json_function()


@pytest.mark.parametrize("value", SAMPLES)
def test_text_is_what_json_dumps_writes_compactly(dumps: Any, value: Any) -> None:
    expected = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    assert dumps(value) == expected


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (math.nan, ValueError, "Out of range float values are not JSON compliant"),
        ([math.inf], ValueError, "Out of range float values are not JSON compliant"),
        ({1j: 1}, TypeError, "keys must be str, int, float, bool or None, not complex"),
        # both encoders say what json.dumps says (a StoreError quotes it after "is not JSON data")
        ([object()], TypeError, "^Object of type object is not JSON serializable$"),
    ],
)
def test_what_is_not_strict_json_raises(dumps: Any, value: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        dumps(value)


def test_a_value_containing_itself_hits_the_recursion_limit(dumps: Any) -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(RecursionError, match="maximum recursion depth exceeded"):
        dumps(loop)


def test_this_interpreter_uses_the_c_encoder() -> None:
    assert json.encoder.c_make_encoder is not None
    assert compact_json.__name__ == "compact"  # not the fallback's JSONEncoder.encode


# --- with_constants, global_names, level_cache, called_within (septum's handlers and turns) ---


class Events:
    GO = "go"


def helper() -> str:
    return "module helper"


def _compiled(source: str, name: str, namespace: dict[str, Any] | None = None) -> types.FunctionType:
    namespace = {} if namespace is None else namespace
    exec(compile(source, f"<{name}>", "exec"), namespace)
    fn: types.FunctionType = namespace[name]
    return fn


def test_global_names_covers_nested_functions_lambdas_and_comprehensions() -> None:
    def handler(ctx: Any) -> Any:
        inner = lambda: Events  # noqa: E731
        return [helper() for _ in range(1)], inner, {len(x) for x in "ab"}

    assert {"Events", "helper", "len", "range"} <= global_names(handler)
    assert global_names(len) == set()


def test_with_constants_fixes_the_given_names_and_leaves_the_module_live(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Other:
        GO = "other"

    def handler() -> tuple[str, str, int]:
        return Events.GO, helper(), len("abc")

    fixed = with_constants(handler, {"Events": Other, "len": lambda s: -1})
    assert fixed() == ("other", "module helper", -1)
    monkeypatch.setitem(globals(), "helper", lambda: "patched")
    assert fixed() == ("other", "patched", -1)  # a name not fixed is still read from the module
    assert handler() == ("go", "patched", 3)  # the original is untouched
    assert fixed.__name__ == handler.__name__ and fixed.__qualname__ == handler.__qualname__


class Colour(enum.Enum):
    RED = 1
    GREEN = 2

    def shade(self) -> str:
        return f"light {self.name.lower()}"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("return Colour.RED", "RED"),
        ("return Colour.GREEN.value", 2),
        ("return (Colour if flag else Other).GREEN", "GREEN"),  # the attribute load is a jump target
        ("return Colour.RED.shade()", "light red"),
        ("return Colour.__members__['GREEN']", "GREEN"),
        ("return [Colour.RED for _ in range(1)][0]", "RED"),
    ],
)
def test_an_enum_member_read_off_a_fixed_name_is_the_member(body: str, expected: Any) -> None:
    # On 3.11 ``Colour.RED`` off a fixed enum class is folded to the member itself (an enum class
    # answers attribute reads slowly there); everything else reads as before, on every version.
    class Other(enum.Enum):
        GREEN = 9

    source = f"def f(flag=True):\n    {body}\n"
    fixed = with_constants(_compiled(source, "f"), {"Colour": Colour, "Other": Other})
    result = fixed()
    assert (result.name if isinstance(result, enum.Enum) else result) == expected
    if body == "return Colour.RED":
        assert result is Colour.RED
        loads = [i for i in dis.get_instructions(fixed) if i.opname == "LOAD_CONST"]
        loads_member = any(i.argval is Colour.RED for i in loads)
        assert loads_member == (sys.version_info < (3, 12))


def test_with_constants_returns_the_function_itself_when_it_reads_none_of_the_names() -> None:
    def handler() -> str:
        return helper()

    assert with_constants(handler, {"Events": object()}) is handler


@pytest.mark.parametrize("as_call", [True, False], ids=["called", "read"])
def test_folded_names_work_as_callables_and_as_values(as_call: bool) -> None:
    # A call needs the NULL LOAD_GLOBAL pushes next to the callable, on the side each version expects.
    source = "def f():\n    return target()\n" if as_call else "def f():\n    return target\n"
    f = _compiled(source, "f")
    fixed = with_constants(f, {"target": (lambda: "called") if as_call else "read"})
    assert fixed() == ("called" if as_call else "read")


def test_nested_functions_lambdas_and_comprehensions_see_the_fixed_names() -> None:
    source = (
        "def f():\n"
        "    def inner():\n"
        "        return target\n"
        "    return inner(), (lambda: target)(), [target for _ in range(2)], sum(target for _ in range(2))\n"
    )
    fixed = with_constants(_compiled(source, "f"), {"target": 5})
    assert fixed() == (5, 5, [5, 5], 10)


async def test_coroutines_and_loops_keep_working() -> None:
    # The loop's jump lands on the first instruction of the rewritten load.
    source = (
        "async def f(n):\n"
        "    total = 0\n"
        "    while n:\n"
        "        total += step\n"
        "        n -= 1\n"
        "    return total\n"
    )
    fixed = with_constants(_compiled(source, "f"), {"step": 3})
    assert await fixed(4) == 12


def test_many_names_and_many_constants_need_extended_arguments() -> None:
    # 300 globals: the late ones have a name index past 255; their constants too.
    names = [f"g{i}" for i in range(300)]
    namespace = dict.fromkeys(names, 1)
    f = _compiled(f"def f():\n    return {' + '.join(names)}\n", "f", namespace)
    fixed = with_constants(f, {"g0": 1000, "g299": 2000})
    assert f() == 300 and fixed() == 1000 + 2000 + 298


def test_exceptions_and_line_numbers_are_unchanged() -> None:
    source = (
        "def f():\n"
        "    try:\n"
        "        return target.missing\n"
        "    except AttributeError:\n"
        "        raise KeyError(marker)\n"
    )
    fixed = with_constants(_compiled(source, "f", {"marker": "m"}), {"target": object()})
    with pytest.raises(KeyError, match="m") as info:
        fixed()
    frames = traceback.extract_tb(info.value.__traceback__)
    assert frames[-1].lineno == 5 and frames[-1].name == "f"


def test_names_the_function_assigns_with_global_are_left_alone() -> None:
    namespace: dict[str, Any] = {"counter": 0}
    f = _compiled("def f():\n    global counter\n    counter += 1\n    return counter\n", "f", namespace)
    fixed = with_constants(f, {"counter": 100})
    assert fixed() == 1 and fixed() == 2 and namespace["counter"] == 2


def test_level_cache_holds_the_loggers_own_answers() -> None:
    log = logging.getLogger("mycorrhizal.tests.interpreter")
    cache = level_cache(log)
    log.setLevel(logging.INFO)
    assert log.isEnabledFor(logging.INFO)
    assert cache.get(logging.INFO) is True  # filled as the logger answers
    log.setLevel(logging.WARNING)
    assert logging.INFO not in cache  # emptied (not replaced) when a level changes
    assert level_cache(log) is cache


class _Owner:
    def outer(self, codes: set[types.CodeType]) -> bool:
        return self.inner(codes)

    def inner(self, codes: set[types.CodeType]) -> bool:
        return called_within(self, codes)


def test_called_within_finds_a_method_of_the_same_object_up_the_call_chain() -> None:
    owner, other = _Owner(), _Owner()
    outer = {_Owner.outer.__code__}
    assert owner.outer(outer) is True
    assert owner.inner(outer) is False  # outer is not on the chain
    assert other.inner({_Owner.inner.__code__}) is False  # the caller's own frame is skipped


async def test_called_within_sees_through_await() -> None:
    class Driver:
        async def run(self, inner: Any) -> bool:
            return bool(await inner())

    driver = Driver()
    codes = {Driver.run.__code__}

    async def handler() -> bool:
        await asyncio.sleep(0)
        return called_within(driver, codes)

    assert await driver.run(handler) is True
    assert await Driver().run(handler) is False


def test_shutting_down_is_true_only_while_asyncio_run_closes_its_loop() -> None:
    seen: dict[str, bool] = {}

    async def left_over() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            seen["cancelled at shutdown"] = interpreter.shutting_down()
            asyncio.get_running_loop().call_soon(
                lambda: seen.setdefault("callback", interpreter.shutting_down())
            )
            await asyncio.sleep(0)

    async def main() -> None:
        seen["running"] = interpreter.shutting_down()
        asyncio.get_running_loop().call_soon(
            lambda: seen.setdefault("callback while running", interpreter.shutting_down())
        )
        asyncio.get_running_loop().create_task(left_over())
        await asyncio.sleep(0)

    asyncio.run(main())
    assert seen == {
        "running": False,
        "callback while running": False,
        "cancelled at shutdown": True,
        "callback": True,
    }
    assert interpreter.shutting_down() is False


def test_the_collector_is_paused_inside_the_block_only() -> None:
    assert gc.isenabled()
    with pytest.raises(ValueError, match="inside"):
        with interpreter.collector_paused():
            assert not gc.isenabled()
            raise ValueError("inside")
    assert gc.isenabled()
    gc.disable()
    try:
        with interpreter.collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # it was off: it stays off
    finally:
        gc.enable()
