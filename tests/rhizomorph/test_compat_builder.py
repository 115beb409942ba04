"""0.x's TreeBuilder, pictures and import paths (UPSTREAM-API.md §0, §3.6, §3.7)."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

import mycorrhizal
from mycorrhizal.common import DefinitionError
from mycorrhizal.rhizomorph import Decorator, Registry, Runner, Status, TreeBuilder, bt, load_tree
from mycorrhizal.rhizomorph.util import to_mermaid


def risky(bb: dict[str, Any]) -> Status:
    bb["risky"] = bb.get("risky", 0) + 1
    return Status.SUCCESS


def ok(bb: dict[str, Any]) -> bool:
    return bool(bb.get("ok", True))


def test_leaves_in_either_argument_order() -> None:
    b = TreeBuilder("T")
    assert b.action("go", risky).name == "go"
    assert b.action(risky).name == "risky"
    assert b.condition("is_ok", lambda bb: True).name == "is_ok"
    assert b.condition(ok, name="ready").name == "ready"
    with pytest.raises(DefinitionError, match="was given a name but no function"):
        b.action("lonely")


def test_fluent_wrappers_nest_the_opposite_way_from_chains() -> None:
    b = TreeBuilder("T")
    node = b.action("risky", risky).gate(b.condition("ok", ok)).retry(max_attempts=3).timeout(seconds=1.0)
    assert isinstance(node, Decorator) and node.decorator_kind == "timeout"
    assert node.child.decorator_kind == "retry" and node.child.child.decorator_kind == "guard"
    assert node.spec is node


@pytest.mark.parametrize(
    ("method", "kind"),
    [
        (lambda n: n.succeeder(), "succeeder"),
        (lambda n: n.failer(), "failer"),
        (lambda n: n.inverter(), "inverter"),
        (lambda n: n.ratelimit(hz=2), "rate_limit"),
        (lambda n: n.when(ok), "when"),
        (lambda n: n.gate(ok), "guard"),
        (lambda n: n.retry(2, retry_on=[Status.FAILURE]), "retry"),
    ],
)
def test_every_fluent_wrapper(method: Any, kind: str) -> None:
    node = method(TreeBuilder("T").action("risky", risky))
    assert node.decorator_kind == kind


async def test_composites_without_a_name_and_build_with_the_root() -> None:
    b = TreeBuilder("Fluent")
    seq = b.sequence(
        b.action("risky", risky).gate(b.condition("ok", ok)), b.action("again", risky), memory=False
    )
    assert seq.name == "sequence(guard(risky), again)" and not seq.memory
    par = b.parallel(b.action("p1", risky), b.action("p2", risky), success_threshold=1)
    tree = b.build(b.selector(seq, par))
    bb: dict[str, Any] = {}
    assert await Runner(tree, bb=bb).tick() is Status.SUCCESS
    assert bb == {"risky": 2}
    assert tree.root.name == "selector(sequence(guard(risky), again), parallel(p1, p2))"


def test_builder_to_mermaid_to_dict_and_from_dict() -> None:
    b = TreeBuilder("Pic")
    b.root(b.sequence(b.condition("ok", ok), b.action("risky", risky)))
    assert b.to_mermaid() == b.build().to_mermaid() == to_mermaid(b.build()) == to_mermaid(b)
    data = b.to_dict()
    again = TreeBuilder.from_dict(data, {"ok": ok, "risky": risky})
    assert again.to_dict() == data
    assert TreeBuilder.from_dict(data, Registry({"ok": ok, "risky": risky})).build().name == "Pic"


async def test_a_bt_decorated_function_is_a_function_for_the_builder_and_the_registry() -> None:
    """In 0.x ``@bt.action`` returned the function itself, so programs pass it where a function goes."""
    decorated = bt.action(risky)
    b = TreeBuilder("Reuse")
    b.root(b.sequence(b.condition("ok", bt.condition(ok)), b.action("risky", decorated)))
    again = TreeBuilder.from_dict(b.to_dict(), {"ok": bt.condition(ok), "risky": decorated}).build()
    for tree in (b.build(), again):
        bb: dict[str, Any] = {}
        assert await Runner(tree, bb=bb).tick() is Status.SUCCESS and bb == {"risky": 1}
    assert next(again.leaves()).fn is ok


def test_util_to_mermaid_refuses_what_cannot_draw_itself() -> None:
    with pytest.raises(ValueError, match="has no to_mermaid"):
        to_mermaid(42)


def test_new_node_kinds_round_trip_through_the_declarative_form() -> None:
    def key(bb: Any) -> Any:
        return bb["mode"]

    def positive(value: Any) -> bool:
        return isinstance(value, int) and value > 0

    @bt.tree
    def Everything() -> None:
        a = bt.action(risky)
        c = bt.condition(ok)
        bt.root(
            bt.sequence(
                bt.when(c)(a),
                bt.do_while(c)(a),
                bt.try_catch(a)(bt.retry(2, retry_on=[Status.ERROR])(a)),
                bt.match(key)(
                    bt.case(int)(a),
                    bt.case(positive)(a),
                    bt.case("x")(a),
                    bt.case(None)(a),
                    bt.defaultcase(a),
                ),
            )
        )

    data = Everything.to_dict()
    again = load_tree(data, Registry.of(Everything))
    assert again.to_dict() == data
    assert data["root"]["sequence"][3]["cases"][0] == {"type": "int", "do": {"action": "risky"}}


def test_declarative_match_and_try_catch_problems() -> None:
    registry = Registry({"a": risky, "key": lambda bb: 1})
    with pytest.raises(DefinitionError, match="tree 'Bad' has 6 problems") as err:
        load_tree(
            {
                "tree": "Bad",
                "root": {
                    "sequence": [
                        {"try_catch": {"action": "a"}},
                        {"match": "key", "cases": [{"value": 1}]},
                        {"match": "nope", "cases": []},
                        {"when": {"action": "a"}},
                        {"retry": {"action": "a"}, "attempts": 2, "retry_on": ["bogus"]},
                    ]
                },
            },
            registry,
        )
    text = str(err.value)
    for expected in (
        "try_catch has no catch block",
        "cases[0]: is {'value': 1}",
        '"cases" is []',
        "when has no condition",
        "\"retry_on\" is ['bogus']",
    ):
        assert expected in text


@pytest.mark.parametrize(
    "name",
    [
        "bt",
        "Runner",
        "Status",
        "TreeBuilder",
        "ExceptionPolicy",
        "Node",
        "Timebase",
        "WallClock",
        "UTCClock",
        "MonotonicClock",
        "CycleClock",
        "DictatedClock",
    ],
)
@pytest.mark.parametrize("module", ["mycorrhizal", "mycorrhizal.rhizomorph", "mycorrhizal.rhizomorph.core"])
def test_the_0x_import_paths(module: str, name: str) -> None:
    assert getattr(importlib.import_module(module), name) is getattr(mycorrhizal.rhizomorph, name)


@pytest.mark.parametrize("method", ["to_mermaid", "to_dict", "build"])
def test_a_builder_without_a_root_raises_a_value_error_as_in_0x(method: str) -> None:
    with pytest.raises(ValueError, match=r"tree 'Bare': has no root\. Fix: call builder.root\(node\)"):
        getattr(TreeBuilder("Bare"), method)()


def test_subtree_of_something_without_a_root_raises_a_value_error_as_in_0x() -> None:
    with pytest.raises(ValueError, match="bt.subtree.. got 42, not a tree"):
        bt.subtree(42)  # type: ignore[arg-type]
