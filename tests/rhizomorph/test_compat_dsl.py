"""0.x's ``bt`` vocabulary (UPSTREAM-API.md §3.1, §3.3, §3.4): every name and form, from its description."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from mycorrhizal.common import DefinitionError, ManualClock
from mycorrhizal.rhizomorph import (
    Chain,
    Decorator,
    ExceptionPolicy,
    Match,
    Node,
    Runner,
    Status,
    Tree,
    TryCatch,
    bt,
)

S, F, R, E = Status.SUCCESS, Status.FAILURE, Status.RUNNING, Status.ERROR


def counter(name: str, result: Any = Status.SUCCESS) -> Node:
    """An action counting its calls in ``bb[name]`` and returning ``bb.get(name + '_result', result)``."""

    def fn(bb: dict[str, Any]) -> Any:
        bb[name] = bb.get(name, 0) + 1
        return bb.get(f"{name}_result", result)

    fn.__name__ = name
    return bt.action(fn)


def tree_of(node: Node, name: str = "T") -> Tree:
    @bt.tree
    def T() -> None:
        bt.root(node)

    return T


# ------------------------------------------------------------------------------------ tree namespace


def test_a_tree_declares_nodes_and_offers_them_as_attributes_and_the_leaf_stays_callable() -> None:
    @bt.tree
    def Patrol() -> None:
        @bt.condition
        def low(bb: Any) -> bool:
            return bool(bb["battery"] < 20)

        @bt.action
        async def charge(bb: Any) -> Status:
            bb["battery"] = 100
            return Status.SUCCESS

        @bt.root
        @bt.selector(memory=False)
        def root() -> Any:
            yield bt.failer()(low)
            yield charge

    assert isinstance(Patrol.root, Node) and Patrol.root.name == "root"
    assert Patrol.low({"battery": 5}) is True  # a decorated leaf is still its function
    assert Patrol.low.node_spec is Patrol.low and bt.as_spec(Patrol.low) is Patrol.low
    with pytest.raises(AttributeError, match="declares no node named 'nothing'"):
        _ = Patrol.nothing
    assert "flowchart" in Patrol.to_mermaid()


def test_as_spec_refuses_what_is_not_a_node() -> None:
    with pytest.raises(TypeError, match="is not a behaviour-tree node"):
        bt.as_spec(42)


def test_a_declared_but_unused_node_is_a_warning_and_check_reports_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.rhizomorph"):

        @bt.tree
        def Spare() -> None:
            bt.root(counter("used"))

            @bt.sequence
            def charge_sequence() -> Any:
                yield counter("never")

    assert "sequence 'charge_sequence' is declared but the root never reaches it" in caplog.text
    assert (False, "declared but never reached from the root: sequence 'charge_sequence'") in (
        Spare.analysis_report()
    )


async def test_a_composite_may_yield_a_list_or_tuple_of_children() -> None:
    """0.x: composites yield nodes, lists/tuples of nodes, or wrapper results; a list is its children
    in order, nested lists included."""

    @bt.tree
    def Batches() -> None:
        a, b, c, d = counter("a"), counter("b"), counter("c"), counter("d")

        @bt.root
        @bt.sequence
        def root() -> Any:
            yield [a, b]
            yield (c, [bt.inverter()(counter("e", F))])
            yield d

    bb: dict[str, Any] = {}
    assert await Runner(Batches, bb).tick() is S
    assert bb == {"a": 1, "b": 1, "c": 1, "e": 1, "d": 1}


def test_a_list_holding_something_else_is_still_named_in_the_error() -> None:
    with pytest.raises(DefinitionError, match=r"sequence 'root': child 1 is 42, not a behaviour-tree node"):

        @bt.tree
        def Bad() -> None:
            @bt.root
            @bt.sequence
            def root() -> Any:
                yield [counter("a"), 42]


def test_a_built_tree_answers_to_the_0x_private_names() -> None:
    tree = tree_of(counter("a"))
    assert tree._spec is tree.root and tree._name == tree._tree_name == tree.name == "T"


# ------------------------------------------------------------------------------------------ inline


@pytest.mark.parametrize("memory", [True, False])
async def test_inline_sequence_and_selector(memory: bool) -> None:
    a, b, c = counter("a"), counter("b", F), counter("c")
    seq = bt.sequence(a, b, memory=memory)
    assert seq.name == "sequence(a, b)" and seq.memory is memory
    bb: dict[str, Any] = {}
    assert await Runner(tree_of(bt.selector(seq, c)), bb).tick() is S
    assert bb == {"a": 1, "b": 1, "c": 1}


async def test_inline_composites_yielded_from_a_generator_and_decorator_forms_still_work() -> None:
    @bt.tree
    def Mixed() -> None:
        one, two = counter("one"), counter("two")

        @bt.root
        @bt.sequence()
        def root() -> Any:
            yield bt.selector(bt.inverter(one), two)
            yield bt.parallel(one, two, success_threshold=2)

    bb: dict[str, Any] = {}
    assert await Runner(Mixed, bb).tick() is S
    assert bb == {"one": 2, "two": 2}


# ------------------------------------------------------------------------------------------ chains


def test_a_chain_nests_leftmost_outermost_and_is_data() -> None:
    engage = counter("engage")
    ok = counter("ok")
    chain = bt.failer().gate(ok).timeout(0.12)
    assert isinstance(chain, Chain) and [w.kind for w in chain.steps] == ["failer", "guard", "timeout"]
    node = chain(engage)
    assert isinstance(node, Decorator) and node.decorator_kind == "failer"
    assert node.child.decorator_kind == "guard" and node.child.condition is ok
    assert node.child.child.decorator_kind == "timeout" and node.child.child.arg == 0.12
    assert node.child.child.child is engage
    assert (bt.failer().gate(ok).timeout(0.12) >> engage).child.child.child is engage


@pytest.mark.parametrize(
    ("start", "kind"),
    [
        (lambda: bt.inverter(), "inverter"),
        (lambda: bt.succeeder(), "succeeder"),
        (lambda: bt.failer(), "failer"),
        (lambda: bt.timeout(1.0), "timeout"),
        (lambda: bt.retry(3), "retry"),
        (lambda: bt.ratelimit(hz=5.0), "rate_limit"),
        (lambda: bt.gate(lambda bb: True), "guard"),
        (lambda: bt.when(lambda bb: True), "when"),
    ],
)
def test_every_wrapper_starts_a_chain_with_all_eight_methods(start: Any, kind: str) -> None:
    chain = start()
    longer = (
        chain.failer().succeeder().inverter().timeout(2).retry(2).ratelimit(period=1).gate(bool).when(bool)
    )
    assert [w.kind for w in longer.steps][0] == kind
    assert [w.kind for w in longer.steps][1:] == [
        "failer",
        "succeeder",
        "inverter",
        "timeout",
        "retry",
        "rate_limit",
        "guard",
        "when",
    ]


async def test_succeeder_retry_timeout_chain_runs() -> None:
    flaky = counter("flaky", F)
    bb: dict[str, Any] = {}
    assert await Runner(tree_of(bt.succeeder().retry(3).timeout(1.0)(flaky)), bb, ManualClock()).tick() is S
    assert bb["flaky"] == 3  # three attempts (in one tick here), then the succeeder


@pytest.mark.parametrize(("hz", "period", "expected"), [(5.0, None, 0.2), (None, 0.5, 0.5)])
def test_ratelimit_takes_hz_or_period(hz: float | None, period: float | None, expected: float) -> None:
    node = bt.ratelimit(hz=hz, period=period)(counter("x"))
    assert node.decorator_kind == "rate_limit" and node.arg == pytest.approx(expected)


@pytest.mark.parametrize(("hz", "period"), [(None, None), (5.0, 0.2), (0, None), (-1.0, None)])
def test_ratelimit_needs_exactly_one_positive_setting(hz: Any, period: Any) -> None:
    with pytest.raises(DefinitionError, match="ratelimit"):
        bt.ratelimit(hz=hz, period=period)


async def test_ratelimit_starts_the_child_at_most_once_per_period() -> None:
    clock = ManualClock()
    bb: dict[str, Any] = {}
    runner = Runner(tree_of(bt.ratelimit(hz=5.0)(counter("ping"))), bb, clock)
    assert await runner.tick() is S
    assert await runner.tick() is S  # too soon: the last result, the child not ticked
    assert bb["ping"] == 1
    clock.advance(0.2)
    await runner.tick()
    assert bb["ping"] == 2


async def test_retry_on_chooses_which_statuses_are_retried() -> None:
    errs = bt.action(lambda bb: Status.ERROR, name="errs")
    bb: dict[str, Any] = {}
    only_failure = tree_of(bt.retry(3, retry_on=(Status.FAILURE,))(errs))
    assert await Runner(only_failure, bb).tick() is E  # ERROR is not in retry_on: not retried
    with pytest.raises(DefinitionError, match=r"retry_on="):
        tree_of(bt.retry(3, retry_on=(Status.RUNNING,))(counter("x")))


async def test_retry_on_one_status_given_alone_is_that_status() -> None:
    errs = bt.action(lambda bb: Status.ERROR, name="errs")
    attempts = counter("attempts", Status.FAILURE)
    assert await Runner(tree_of(bt.retry(3, retry_on=Status.FAILURE)(errs)), {}).tick() is E
    bb: dict[str, Any] = {}
    assert await Runner(tree_of(bt.retry(3, retry_on=Status.FAILURE)(attempts)), bb).tick() is F
    assert bb["attempts"] == 3


def test_retry_on_that_is_no_status_is_named_on_the_retry_node() -> None:
    with pytest.raises(DefinitionError, match=r"retry.*retry_on=\[3\].*Fix: list one or more of Status"):
        tree_of(bt.retry(3, retry_on=3)(counter("x")))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------- gate / when


@pytest.mark.parametrize(("allowed", "expected", "ran"), [(True, S, 1), (False, F, 0)])
async def test_gate_ticks_the_child_only_when_the_condition_succeeds(
    allowed: bool, expected: Status, ran: int
) -> None:
    bb: dict[str, Any] = {"allowed": allowed}
    gate = bt.gate(lambda bb: bb["allowed"])(counter("work"))
    assert await Runner(tree_of(gate), bb).tick() is expected
    assert bb.get("work", 0) == ran


@pytest.mark.parametrize(("allowed", "ran"), [(True, 1), (False, 0)])
async def test_when_skips_the_child_and_succeeds_when_the_condition_fails(allowed: bool, ran: int) -> None:
    bb: dict[str, Any] = {"allowed": allowed}
    optional = bt.when(lambda bb: bb["allowed"])(counter("work"))
    assert await Runner(tree_of(optional), bb).tick() is S
    assert bb.get("work", 0) == ran


async def test_when_halts_a_running_child_when_its_condition_stops_holding() -> None:
    halted: list[str] = []
    drive = bt.action(lambda: Status.RUNNING, name="drive", on_halt=lambda: halted.append("drive"))
    bb = {"go": True}
    runner = Runner(tree_of(bt.when(lambda bb: bb["go"])(drive)), bb)
    assert await runner.tick() is R
    bb["go"] = False
    assert await runner.tick() is S
    assert halted == ["drive"]


# -------------------------------------------------------------------------------------------- match


class Cat:
    pass


def is_big(key: Any) -> bool:
    return isinstance(key, int) and key > 100


@pytest.fixture
def matched() -> Tree:
    @bt.tree
    def Dispatch() -> None:
        bt.root(
            bt.match(lambda bb: bb["key"], name="dispatch")(
                bt.case(Cat)(counter("cat")),
                bt.case(is_big)(counter("big")),
                bt.case("stop")(counter("stop", F)),
                bt.defaultcase(counter("other")),
            )
        )

    return Dispatch


@pytest.mark.parametrize(
    ("key", "ran", "expected"),
    [(Cat(), "cat", S), (500, "big", S), ("stop", "stop", F), (7, "other", S), ("x", "other", S)],
)
async def test_match_ticks_the_first_case_that_accepts_the_key(
    matched: Tree, key: Any, ran: str, expected: Status
) -> None:
    bb: dict[str, Any] = {"key": key}
    assert await Runner(matched, bb).tick() is expected
    assert [k for k in ("cat", "big", "stop", "other") if k in bb] == [ran]


async def test_match_without_a_matching_case_fails_and_resumes_a_running_case() -> None:
    bb: dict[str, Any] = {"key": 1, "slow_result": R}
    tree = tree_of(bt.match(lambda bb, tb: bb["key"])(bt.case(1)(counter("slow"))))
    runner = Runner(tree, bb, ManualClock())
    assert await runner.tick() is R
    bb["key"] = 2  # a RUNNING case is resumed without computing the key again
    bb["slow_result"] = S
    assert await runner.tick() is S and bb["slow"] == 2
    assert await runner.tick() is F  # key 2 matches no case


async def test_a_match_key_that_raises_follows_the_error_policy() -> None:
    def key(bb: Any) -> Any:
        raise KeyError("mode")

    tree = tree_of(bt.match(key)(bt.defaultcase(counter("x"))))
    assert await Runner(tree, {}, exception_policy=ExceptionPolicy.LOG_AND_CONTINUE).tick() is E


def test_match_definition_problems() -> None:
    with pytest.raises(DefinitionError, match=r"match 'match\(key\)': has no cases"):

        def key(bb: Any) -> int:
            return 1

        tree_of(bt.match(key)())
    with pytest.raises(DefinitionError, match=r"case 0 is 42, not a case"):
        tree_of(bt.match(lambda bb: 1)(42))  # type: ignore[arg-type]
    with pytest.raises(DefinitionError, match=r"asks for parameter 'robot'"):
        tree_of(bt.match(lambda robot: 1)(bt.defaultcase(counter("x"))))
    assert isinstance(bt.match(lambda bb: 1, name="m")(bt.defaultcase(counter("y"))), Match)


# ----------------------------------------------------------------------------------------- do_while


async def test_do_while_runs_one_iteration_per_tick_while_the_condition_holds() -> None:
    bb: dict[str, Any] = {"n": 0}

    def step(bb: dict[str, Any]) -> Status:
        bb["n"] += 1
        return S

    loop = bt.do_while(lambda bb: bb["n"] < 3)(bt.action(step))
    runner = Runner(tree_of(loop), bb)
    assert [await runner.tick() for _ in range(4)] == [R, R, R, S]
    assert bb["n"] == 3


async def test_do_while_stops_on_a_failing_body_and_runs_to_completion_unattended() -> None:
    assert await Runner(tree_of(bt.do_while(lambda bb: True)(counter("body", F))), {}).tick() is F
    bb: dict[str, Any] = {"n": 0}

    def step(bb: dict[str, Any]) -> bool:
        bb["n"] += 1
        return True

    done = await Runner(
        tree_of(bt.do_while(lambda bb: bb["n"] < 5)(bt.action(step))), bb
    ).tick_until_complete()
    assert done is S and bb["n"] == 5


# ---------------------------------------------------------------------------------------- try_catch


@pytest.mark.parametrize(("body", "expected", "caught"), [(S, S, 0), (F, S, 1), (E, S, 1)])
async def test_try_catch_runs_the_catch_block_when_the_try_block_fails(
    body: Status, expected: Status, caught: int
) -> None:
    node = bt.try_catch(counter("try_it", body))(counter("recover"))
    assert isinstance(node, TryCatch) and node.name == "try_catch(try_it, recover)"
    bb: dict[str, Any] = {}
    assert await Runner(tree_of(node), bb).tick() is expected
    assert bb.get("recover", 0) == caught


async def test_try_catch_resumes_a_running_catch_block_and_reports_its_status() -> None:
    bb: dict[str, Any] = {"recover_result": R}
    runner = Runner(tree_of(bt.try_catch(counter("try_it", F))(counter("recover"))), bb)
    assert await runner.tick() is R
    bb["recover_result"] = F
    assert await runner.tick() is F
    assert bb == {"try_it": 1, "recover": 2, "recover_result": F}  # the try block did not run again


# ------------------------------------------------------------------------------- doc-only forms (§3.8)


def test_the_doc_only_class_form_is_refused_saying_to_write_a_function() -> None:
    with pytest.raises(DefinitionError, match=r"@bt.tree was applied to a class\. Fix: .*`def Name\(\):`"):

        @bt.tree
        class Patrol:  # 0.x's documents showed this form; 0.x did not run it either
            pass

    with pytest.raises(DefinitionError, match=r"@bt.root: used outside .* \(not a class body\)"):

        class Guarded:  # the class body runs before @bt.tree could see it
            @bt.root
            @bt.sequence
            def root() -> Any:
                yield counter("a")


def test_the_doc_only_runner_keywords_are_refused() -> None:
    tree = tree_of(counter("a"))
    assert Runner(tree=tree, timebase=ManualClock()).tree is tree  # our names of the first and third
    with pytest.raises(TypeError, match="blackboard"):
        Runner(tree=tree, blackboard={}, timebase=ManualClock())  # type: ignore[call-arg]
