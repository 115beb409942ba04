"""0.x's leaf contract (UPSTREAM-API.md §3.2, §5.3): ``bb``/``tb`` keywords, None/bool results, views."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import pytest

from mycorrhizal.common import DefinitionError, InvalidStatusError, ManualClock
from mycorrhizal.common.interface_builder import blackboard_interface, readonly, readwrite
from mycorrhizal.common.wrappers import AccessControlError
from mycorrhizal.rhizomorph import ExceptionPolicy, Runner, Status, Tree, bt


def single(kind: str, fn: Any) -> Tree:
    @bt.tree
    def One() -> None:
        bt.root(bt.action(fn) if kind == "action" else bt.condition(fn))

    return One


async def test_a_leaf_asking_for_tb_gets_the_timebase() -> None:
    clock = ManualClock(start=7.0)
    seen: list[Any] = []

    def look(bb: Any, tb: Any) -> bool:
        seen.append((bb, tb.now()))
        return True

    bb = object()
    assert await Runner(single("action", look), bb=bb, tb=clock).tick() is Status.SUCCESS
    assert seen == [(bb, 7.0)]


async def test_keyword_only_parameters_are_passed_by_name() -> None:
    seen: list[Any] = []

    async def strict(*, tb: Any, bb: Any) -> Status:
        seen.append((bb, tb))
        return Status.SUCCESS

    clock = ManualClock()
    assert await Runner(single("action", strict), bb="board", tb=clock).tick() is Status.SUCCESS
    assert seen == [("board", clock)]


@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("action", None, Status.SUCCESS),
        ("action", True, Status.SUCCESS),
        ("action", False, Status.FAILURE),
        ("condition", None, Status.FAILURE),
        ("condition", True, Status.SUCCESS),
        ("condition", False, Status.FAILURE),
    ],
)
async def test_none_and_bool_results_map_to_statuses(
    is_async: bool, kind: str, value: Any, expected: Status
) -> None:
    def plain(bb: Any) -> Any:
        return value

    async def coroutine(bb: Any) -> Any:
        return value

    assert await Runner(single(kind, coroutine if is_async else plain), {}).tick() is expected


@pytest.mark.parametrize("kind", ["action", "condition"])
@pytest.mark.parametrize("value", [1, "ok", 0.5, object(), [1], []])
async def test_any_other_result_is_still_an_error(kind: str, value: Any) -> None:
    # 0.x: SUCCESS for an action, the value's truthiness for a condition
    def odd(bb: Any) -> Any:
        return value

    with pytest.raises(InvalidStatusError, match=f"{kind} 'odd' in tree 'One' returned"):
        await Runner(single(kind, odd), {}).tick()


@blackboard_interface
class RobotView:
    battery: Annotated[int, readonly]
    trips: Annotated[int, readwrite]


class Board:
    def __init__(self) -> None:
        self.battery = 80
        self.trips = 0
        self.secret = "hidden"


async def test_a_leaf_annotated_with_an_interface_gets_a_view() -> None:
    seen: list[Any] = []

    def drive(bb: RobotView) -> Status:
        seen.append(bb)
        bb.trips += 1
        return Status.SUCCESS

    board = Board()
    runner = Runner(single("action", drive), board)
    await runner.tick()
    await runner.tick()
    assert board.trips == 2
    assert seen[0] is seen[1] and seen[0] is not board  # one view per blackboard and interface
    with pytest.raises(
        AttributeError,
        match=r"'RobotView' has no field 'secret' \(its fields: .*\)\. Fix: add 'secret' to the interface",
    ):
        _ = seen[0].secret


async def test_a_view_refuses_writes_to_read_only_fields() -> None:
    def cheat(bb: RobotView) -> Status:
        bb.battery = 100
        return Status.SUCCESS

    with pytest.raises(
        AccessControlError,
        match=r"'RobotView' may not write 'battery': the field is read-only here\. Fix: mark it readwrite",
    ) as err:
        await Runner(single("action", cheat), Board()).tick()
    assert err.value.field_name == "battery" and err.value.operation == "write"


@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize("kind", ["action", "condition"])
async def test_a_views_refusal_names_the_leaf_that_made_it(kind: str, is_async: bool) -> None:
    # Only a traceback named the leaf; the message and .node now do, and the error keeps its type.
    def cheat(bb: RobotView) -> bool:
        bb.battery = 100
        return True

    async def cheat_async(bb: RobotView) -> bool:
        bb.battery = 100
        return True

    cheat_async.__name__ = "cheat"
    with pytest.raises(
        AccessControlError,
        match=rf"^{kind} 'cheat' in tree 'One': 'RobotView' may not write 'battery': the field is "
        r"read-only here\. Fix: mark it readwrite in the interface if this handler should$",
    ) as err:
        await Runner(single(kind, cheat_async if is_async else cheat), Board()).tick()
    assert (err.value.node, err.value.field_name, err.value.operation) == ("cheat", "battery", "write")
    assert isinstance(err.value.__cause__, AccessControlError)  # the view's own refusal


async def test_unannotated_leaves_keep_the_blackboard_itself() -> None:
    seen: list[Any] = []

    def look(bb: Board) -> Status:
        seen.append(bb)
        return Status.SUCCESS

    board = Board()
    await Runner(single("action", look), board).tick()
    assert seen == [board]


def test_an_unresolvable_annotation_is_a_definition_error_naming_the_leaf() -> None:
    def broken(bb: NoSuchInterface) -> Status:  # type: ignore[name-defined]  # noqa: F821
        return Status.SUCCESS

    with pytest.raises(DefinitionError, match=r"action 'broken': the annotation 'NoSuchInterface'"):
        bt.action(broken)


@pytest.mark.parametrize("policy", [ExceptionPolicy.LOG_AND_CONTINUE, ExceptionPolicy.PROPAGATE])
@pytest.mark.parametrize("is_async", [False, True])
async def test_a_leaf_raising_cancelled_error_reports_cancelled(
    policy: ExceptionPolicy, is_async: bool
) -> None:
    """0.x: ``asyncio.CancelledError`` from a leaf is CANCELLED under either policy (it is no fault)."""

    def give_up(bb: Any) -> Status:
        raise asyncio.CancelledError()

    async def give_up_later(bb: Any) -> Status:
        raise asyncio.CancelledError()

    tree = single("action", give_up_later if is_async else give_up)
    assert await Runner(tree, {}, exception_policy=policy).tick() is Status.CANCELLED


async def test_a_composite_may_yield_leaves_declared_after_it_in_the_tree_body() -> None:
    @bt.tree
    def Later() -> None:
        @bt.root
        @bt.sequence
        def root() -> Any:
            yield first  # declared below: children are listed when the tree is built
            yield second

        @bt.action
        def first(bb: list[str]) -> None:
            bb.append("first")

        @bt.action
        def second(bb: list[str]) -> None:
            bb.append("second")

    bb: list[str] = []
    assert await Runner(Later, bb).tick() is Status.SUCCESS and bb == ["first", "second"]
