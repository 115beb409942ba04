"""The declarative form: dict/JSON through a registry of named leaves, and the round trip."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from mycorrhizal.common import DefinitionError, ManualClock
from mycorrhizal.rhizomorph import Registry, Runner, Status, Tree, TreeBuilder, bt, load_tree, tree_to_dict

S, F, R = Status.SUCCESS, Status.FAILURE, Status.RUNNING


@bt.tree
def Dock() -> None:
    @bt.action
    def dock(bb: dict[str, Any]) -> Status:
        bb["log"].append("dock")
        return Status.SUCCESS

    bt.root(dock)


def stop_motors(bb: dict[str, Any]) -> None:
    bb["log"].append("stop")


@bt.tree
def Robot() -> None:
    @bt.condition
    def battery_low(bb: dict[str, Any]) -> bool:
        return bool(bb["battery"] < 20)

    @bt.condition
    def obstacle(bb: dict[str, Any]) -> bool:
        return bool(bb["obstacle"])

    @bt.action(on_halt=stop_motors)
    async def drive(bb: dict[str, Any], timebase: ManualClock) -> Status:
        bb["log"].append(f"drive@{timebase.now():g}")
        await timebase.sleep(bb["drive_time"])
        bb["battery"] -= 15
        return Status.SUCCESS

    @bt.action(on_error="failure")
    def beep(bb: dict[str, Any]) -> Status:
        bb["log"].append("beep")
        if bb["battery"] < 0:
            raise RuntimeError("no power")
        return Status.SUCCESS

    @bt.action
    def scan(bb: dict[str, Any]) -> Status:
        bb["scans"] += 1
        return Status.SUCCESS if bb["scans"] % 3 == 0 else Status.FAILURE

    @bt.sequence
    def recharge() -> Any:
        yield battery_low
        yield bt.subtree(Dock)
        yield bt.succeeder(bt.repeat(2)(beep))

    @bt.parallel(success_threshold=1)
    def patrol() -> Any:
        yield bt.timeout(3)(drive)
        yield bt.rate_limit(2)(bt.retry(2)(scan))

    @bt.root
    @bt.selector(memory=False)
    def main() -> Any:
        yield recharge
        yield bt.guard(bt.inverter(obstacle))(patrol)
        yield bt.failer(beep)


def fresh_bb() -> dict[str, Any]:
    return {"battery": 50, "obstacle": False, "scans": 0, "drive_time": 2, "log": []}


# A blackboard script: (seconds to advance before the tick, changes to make before it)
SCRIPT: list[tuple[float, dict[str, Any]]] = [
    (0, {}),
    (1, {}),
    (1, {"obstacle": True}),  # the guard halts the patrol while it drives
    (1, {}),
    (1, {"obstacle": False}),
    (1, {}),
    (1, {}),
    (0.5, {"drive_time": 5}),
    (1, {}),
    (3, {}),  # the drive times out
    (1, {"battery": 10}),
    (1, {"battery": -5}),  # beep raises: reported as FAILURE by its policy
    (3, {"battery": 60}),
    (5, {}),
]


async def play(tree: Tree) -> list[Any]:
    clock = ManualClock()
    bb = fresh_bb()
    runner = Runner(tree, bb, clock)
    seen: list[Any] = []
    for seconds, changes in SCRIPT:
        await clock.run_for(seconds)
        bb.update(changes)
        status = await runner.tick()
        seen.append((clock.now(), status, runner.last_tick(), dict(bb, log=list(bb["log"]))))
    runner.reset()
    await runner.settle()
    seen.append(list(bb["log"]))
    return seen


async def test_a_loaded_tree_behaves_exactly_like_the_original() -> None:
    data = tree_to_dict(Robot)
    text = json.dumps(data)  # it really is plain data
    loaded = load_tree(text, Registry.of(Robot))
    assert loaded.to_dict() == data
    original, copy = await play(Robot), await play(loaded)
    assert copy == original
    statuses = {status for _, status, _, _ in original[:-1]}
    assert statuses >= {S, R}  # the script really exercises the tree
    assert "stop" in original[-1]  # ... including a halt


def test_the_dict_form_names_leaves_and_subtrees() -> None:
    data = tree_to_dict(Robot)
    assert data["tree"] == "Robot"
    recharge = data["root"]["selector"][0]
    assert recharge == {
        "sequence": [
            {"condition": "battery_low"},
            {"subtree": "Dock"},
            {
                "succeeder": {
                    "repeat": {"action": "beep", "on_error": "failure"},
                    "times": 2,
                    "name": "repeat(beep)",
                },
                "name": "succeeder(repeat(beep))",
            },
        ],
        "name": "recharge",
    }
    assert data["root"]["memory"] is False


def test_registry_of_a_tree_holds_its_leaves_hooks_and_subtrees() -> None:
    registry = Registry.of(Robot)
    assert registry.names == ("battery_low", "beep", "drive", "obstacle", "scan", "stop_motors")
    assert registry.tree("Dock") is Dock
    assert registry.function("nope") is None


def test_registry_refuses_two_functions_under_one_name() -> None:
    registry = Registry({"check": lambda bb: True})
    with pytest.raises(DefinitionError, match="registry name 'check': already names"):
        registry.add("check", lambda bb: False)


def test_registry_leaf_decorator() -> None:
    registry = Registry()

    @registry.leaf
    def ping() -> Status:
        return Status.SUCCESS

    tree = load_tree({"tree": "P", "root": {"action": "ping"}}, registry)
    assert [leaf.fn for leaf in tree.leaves()] == [ping]


async def test_loaded_trees_are_built_from_data_only() -> None:
    registry = Registry(
        {"ready": lambda bb: bb["ready"], "go": lambda bb: Status.SUCCESS},
    )
    tree = load_tree(
        {
            "tree": "Go",
            "root": {
                "sequence": [{"condition": "ready"}, {"retry": {"action": "go"}, "attempts": 2}],
                "name": "main",
            },
        },
        registry,
    )
    assert await Runner(tree, {"ready": True}).tick() is S
    assert await Runner(tree, {"ready": False}).tick() is F


@pytest.mark.parametrize(
    ("data", "messages"),
    [
        ('{"tree": "X", "root": ', ["tree JSON: is not valid JSON"]),
        ([1, 2], ["tree data: is list, not an object"]),
        ({"root": {"action": "go"}}, ['tree data: has no "tree" key, which names the tree. Fix: write the']),
        ({"root": {"action": "launch"}}, ["- root: action 'launch' is not in the registry"]),  # (no "tree.")
        ({"tree": "X"}, ["tree 'X': has no root"]),
        ({"tree": "X", "root": {"action": "go"}, "extra": 1}, ["tree 'X': has unknown keys ['extra']"]),
        (
            {"tree": "X", "root": {"action": "launch"}},
            ["X.root: action 'launch' is not in the registry (known: bad, go)"],
        ),
        ({"tree": "X", "root": {"dance": "go"}}, ["X.root: names 0 node types (none)"]),
        # A misspelt type is named, and the nearest type offered, not only the list of right ones.
        (
            {"tree": "X", "root": {"squence": [{"action": "go"}], "name": "s"}},
            [
                "X.root: names 0 node types (none); 'squence' is not a node type. Fix: did you mean "
                "'sequence'? If not, give exactly one of"
            ],
        ),
        ({"tree": "X", "root": {"action": "go", "condition": "go"}}, ["X.root: names 2 node types"]),
        ({"tree": "X", "root": {"action": "go", "speed": 3}}, ["X.root: action has unknown keys ['speed']"]),
        ({"tree": "X", "root": {"sequence": {"action": "go"}}}, ["X.root: sequence children are"]),
        ({"tree": "X", "root": {"timeout": {"action": "go"}}}, ['X.root: timeout has no "seconds"']),
        ({"tree": "X", "root": {"guard": {"action": "go"}}}, ["X.root: guard has no condition"]),
        (
            {"tree": "X", "root": {"subtree": "Elsewhere"}},
            ["X.root: subtree 'Elsewhere' is not in the registry"],
        ),
        ({"tree": "X", "root": {"action": "go", "on_halt": "cleanup"}}, ["halt hook 'cleanup' is not in"]),
        (
            {"tree": "X", "root": {"action": "bad"}},
            ["X.root: action 'bad': the action asks for parameter 'robot'"],
        ),
        (
            {"tree": "X", "root": {"selector": [{"action": "nope1"}, {"condition": 7}], "name": "pick"}},
            [
                "X.root(pick).selector[0]: action 'nope1' is not in the registry",
                "X.root(pick).selector[1]: the condition is 7, not a registered name",
            ],
        ),
        (
            {"tree": "X", "root": {"parallel": [{"action": "go"}], "success_threshold": 2, "name": "p"}},
            ["parallel 'p': success_threshold=2 but it has 1 child"],
        ),
    ],
)
def test_every_problem_in_the_data_is_reported_with_where_it_is(data: Any, messages: list[str]) -> None:
    registry = Registry({"go": lambda: Status.SUCCESS, "bad": lambda robot: Status.SUCCESS})
    with pytest.raises(DefinitionError, match=re.escape(messages[0])) as info:
        load_tree(data, registry)
    text = str(info.value)
    for message in messages:
        assert message in text
    assert f"{len(messages)} problem" in text or len(messages) == 1


def test_loading_never_evaluates_code() -> None:
    registry = Registry({"go": lambda: Status.SUCCESS})
    with pytest.raises(DefinitionError, match=r"action '__import__\(\"os\"\).system' is not in the registry"):
        load_tree({"tree": "X", "root": {"action": '__import__("os").system'}}, registry)


async def test_lambdas_round_trip_under_their_leaf_names() -> None:
    halted: list[str] = []
    b = TreeBuilder("Lambdas")
    b.root(
        b.parallel(
            "both",
            b.action(lambda: Status.RUNNING, name="spin", on_halt=lambda: halted.append("spin")),
            b.action(lambda bb: Status.FAILURE if bb["stop"] else Status.RUNNING, name="watch"),
        )
    )
    tree = b.build()
    data = tree_to_dict(tree)
    assert data["root"]["parallel"][0] == {"action": "spin", "on_halt": "halt_spin"}
    loaded = load_tree(data, Registry.of(tree))
    for candidate in (tree, loaded):
        bb = {"stop": False}
        runner = Runner(candidate, bb)
        assert await runner.tick() is R
        bb["stop"] = True
        assert await runner.tick() is F
    assert halted == ["spin", "spin"]


def test_two_leaves_with_one_name_but_different_functions_cannot_share_a_registry() -> None:
    b = TreeBuilder("Clash")
    b.root(b.sequence("s", b.action(lambda: S, name="same"), b.action(lambda: F, name="same")))
    with pytest.raises(DefinitionError, match="registry name 'same': already names"):
        Registry.of(b.build())


@pytest.mark.parametrize(
    ("root", "problem"),
    [
        (
            {"action": "fech"},
            "X.root: action 'fech' is not in the registry (known: fetch, go). Fix: did you mean 'fetch'? "
            "If not, register it: registry.add('fech', fn)",
        ),
        (
            {"subtree": "Patrl"},
            "X.root: subtree 'Patrl' is not in the registry. Fix: did you mean 'Patrol'? If not, register it",
        ),
        (
            {"selectr": [{"action": "go"}]},
            "X.root: names 0 node types (none); 'selectr' is not a node type. Fix: did you mean 'selector'? "
            "If not, give exactly one of: action, ",
        ),
        (
            {"action": "go", "nmae": "step"},
            "X.root: action has unknown keys ['nmae']. Fix: did you mean 'name'? If not, allowed: ['name', ",
        ),
    ],
    ids=["function", "subtree", "node_type", "key"],
)
def test_a_misspelt_name_in_the_data_is_answered_with_the_nearest(root: dict[str, Any], problem: str) -> None:
    patrol = TreeBuilder("Patrol")
    registry = Registry({"go": lambda: Status.SUCCESS, "fetch": lambda: Status.SUCCESS})
    registry.add_tree(patrol.build(patrol.action("go", lambda: Status.SUCCESS)))
    # Before: each fix said what to register or use, never which name was meant.
    with pytest.raises(DefinitionError, match=re.escape(problem)):
        load_tree({"tree": "X", "root": root}, registry)
