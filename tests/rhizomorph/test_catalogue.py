# ruff: noqa: E501 - the catalogue compares whole messages; they are longer than a line
"""The catalogue: every bad tree definition we know of, with the exact error it raises.

Each case is a small function that defines something wrong.  Every one must raise a
:class:`DefinitionError` (never a bare TypeError/ValueError/AttributeError) whose problems name the
user's node, tree, leaf or registry entry and end with what to do ("Fix: ...").  Memory addresses
in reprs are left out of the comparison.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from mycorrhizal.common import DefinitionError
from mycorrhizal.rhizomorph import Registry, Runner, Status, Tree, TreeBuilder, bt, load_tree
from mycorrhizal.rhizomorph.nodes import Composite
from mycorrhizal.rhizomorph.tree import Subtree

S = Status.SUCCESS


def ok(bb: Any) -> Status:
    return S


def good_tree() -> Tree:
    b = TreeBuilder("Good")
    b.root(b.action(ok))
    return b.build()


# ------------------------------------------------------------------------------------------- leaves


def unknown_parameter() -> None:
    @bt.condition
    def too_curious(bb, robot):  # type: ignore[no-untyped-def]
        return True


def star_args() -> None:
    bt.action(lambda *args: S, name="spread")


def star_kwargs() -> None:
    bt.action(lambda **kw: S, name="keywords")


def generator_leaf() -> None:
    @bt.action
    def yielding(bb: Any) -> Any:
        yield S


def async_generator_leaf() -> None:
    @bt.action
    async def streaming(bb: Any) -> Any:
        yield S


def async_halt_hook() -> None:
    async def cleanup() -> None:
        pass

    bt.action(on_halt=cleanup)(ok)


def halt_hook_bad_parameter() -> None:
    bt.action(on_halt=lambda robot: None)(ok)


def unknown_error_policy() -> None:
    bt.action(name="x", on_error="ignore")(ok)


def leaf_not_a_function() -> None:
    TreeBuilder("T").action(42, name="answer")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------- composites


def composite_with_parameters() -> None:
    @bt.tree
    def T() -> None:
        @bt.root
        @bt.sequence
        def steps(bb):  # type: ignore[no-untyped-def]
            yield ok_leaf

        ok_leaf = bt.action(ok)


def composite_returning() -> None:
    @bt.tree
    def T() -> None:
        @bt.root
        @bt.selector
        def choose():  # type: ignore[no-untyped-def]
            return None


def composite_raising() -> None:
    @bt.tree
    def T() -> None:
        @bt.root
        @bt.sequence
        def steps() -> Any:
            raise KeyError("plan")
            yield


def composite_yielding_a_misspelt_node() -> None:
    @bt.tree
    def T() -> None:
        @bt.action
        def move(bb: Any) -> Status:
            return S

        @bt.root
        @bt.sequence
        def steps() -> Any:
            yield move
            yield mvoe  # type: ignore[name-defined]  # noqa: F821 - the beginner's typo


def yields_a_plain_function() -> None:
    @bt.tree
    def T() -> None:
        def forgot(bb: Any) -> Status:
            return S

        @bt.root
        @bt.sequence
        def steps() -> Any:
            yield forgot


def yields_a_number() -> None:
    @bt.tree
    def T() -> None:
        @bt.root
        @bt.sequence
        def steps() -> Any:
            yield 42


def no_children() -> None:
    b = TreeBuilder("T")
    b.root(b.sequence("empty"))
    b.build()


def composite_on_a_number() -> None:
    bt.sequence(42)  # type: ignore[arg-type]


def node_contains_itself() -> None:
    @bt.tree
    def T() -> None:
        @bt.root
        @bt.sequence
        def loop() -> Any:
            yield loop


def subtree_embeds_itself() -> None:
    holder: list[Tree] = []
    inner = Composite(
        name="inner", composite_kind="sequence", source=lambda: iter([Subtree(name="again", tree=holder[0])])
    )
    loop = Tree("Loop", inner)
    holder.append(loop)
    Runner(Tree("Outer", Subtree(name="first", tree=loop)))


def parallel_threshold_too_high() -> None:
    b = TreeBuilder("T")
    b.root(b.parallel("both", b.action(ok), b.action(ok, name="ok2"), success_threshold=3))
    b.build()


def parallel_threshold_not_whole() -> None:
    b = TreeBuilder("T")
    b.root(b.parallel("both", b.action(ok), failure_threshold=0.5))  # type: ignore[arg-type]
    b.build()


# --------------------------------------------------------------------------------------- decorators


def decorator_on_plain_function() -> None:
    @bt.tree
    def Forgetful() -> None:
        @bt.root
        @bt.timeout(5)
        def slow() -> Status:
            return S


def retry_zero() -> None:
    b = TreeBuilder("T")
    b.root(b.retry(0, b.action(ok)))
    b.build()


def repeat_not_whole() -> None:
    b = TreeBuilder("T")
    b.root(b.repeat(1.5, b.action(ok)))  # type: ignore[arg-type]
    b.build()


def retry_bool() -> None:
    b = TreeBuilder("T")
    b.root(b.retry(True, b.action(ok)))
    b.build()


def retry_node_first() -> None:
    b = TreeBuilder("T")
    b.root(b.retry(b.action(ok), 3))  # type: ignore[arg-type]
    b.build()


def timeout_node_first() -> None:
    b = TreeBuilder("T")
    b.root(b.timeout(b.action(ok), 2.5))  # type: ignore[arg-type]
    b.build()


def retry_of_a_node() -> None:
    @bt.tree
    def T() -> None:
        done = bt.action(ok)
        bt.root(bt.retry(done)(done))  # type: ignore[arg-type]


def timeout_of_a_node() -> None:
    @bt.tree
    def T() -> None:
        done = bt.action(ok)
        bt.root(bt.timeout(done)(done))  # type: ignore[arg-type]


def timeout_zero() -> None:
    b = TreeBuilder("T")
    b.root(b.timeout(0, b.action(ok)))
    b.build()


def rate_limit_text() -> None:
    b = TreeBuilder("T")
    b.root(b.rate_limit("5", b.action(ok)))  # type: ignore[arg-type]
    b.build()


def guard_condition_not_a_node() -> None:
    b = TreeBuilder("T")
    b.root(b.guard(42, b.action(ok)))  # type: ignore[arg-type]
    b.build()


def allowed(bb: Any) -> bool:
    return True


def guard_child_first() -> None:
    # read as 0.x's work.gate(allowed): the action became the condition, run on every tick, unguarded
    b = TreeBuilder("T")
    b.root(b.guard(b.action(ok, name="work"), b.condition(allowed)))
    b.build()


def guard_child_first_with_a_function() -> None:
    b = TreeBuilder("T")
    b.root(b.guard(b.action(ok, name="work"), allowed))  # type: ignore[arg-type]
    b.build()


def guard_composite_first() -> None:
    b = TreeBuilder("T")
    b.root(b.guard(b.sequence("steps", b.condition(allowed), b.failer(b.action(ok))), b.condition(allowed)))
    b.build()


def guard_condition_bad_parameter() -> None:
    @bt.tree
    def Guarded() -> None:
        bt.root(bt.guard(lambda robot: True)(bt.action(ok)))


# ------------------------------------------------------------------------------------- @bt.tree body


def no_root() -> None:
    @bt.tree
    def Rootless() -> None:
        bt.action(ok)


def two_roots() -> None:
    @bt.tree
    def Twice() -> None:
        bt.root(bt.action(ok))
        bt.root(bt.action(lambda: S, name="other"))


def root_on_a_function() -> None:
    @bt.tree
    def Plain() -> None:
        @bt.root
        def plain() -> Status:
            return S

        bt.root(bt.action(ok))


def root_outside_a_tree() -> None:
    bt.root(bt.action(ok))


def unreachable_node() -> None:
    @bt.tree(strict=True)  # (without strict: a WARNING, see test_tree.py)
    def Forgetful() -> None:
        bt.action(lambda: S, name="forgotten")
        bt.root(bt.action(ok))


def tree_function_with_parameters() -> None:
    @bt.tree
    def Params(bb):  # type: ignore[no-untyped-def]
        bt.root(bt.action(ok))


def tree_on_a_number() -> None:
    bt.tree(42)  # type: ignore[arg-type]


def tree_body_raising() -> None:
    @bt.tree
    def Broken() -> None:
        {}["missing"]


def subtree_of_a_number() -> None:
    bt.subtree(42)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ builder, Tree, Runner


def builder_without_root() -> None:
    TreeBuilder("Nothing").build()


def builder_root_twice() -> None:
    b = TreeBuilder("Twice")
    b.root(b.action(ok))
    b.root(b.action(lambda: S, name="other"))


def builder_child_not_a_node() -> None:
    b = TreeBuilder("T")
    b.root(b.sequence("steps", ok))  # type: ignore[arg-type]
    b.build()


def builder_subtree_of_a_number() -> None:
    TreeBuilder("T").subtree(42)  # type: ignore[arg-type]


def tree_root_not_a_node() -> None:
    Tree("T", "oops")  # type: ignore[arg-type]


def runner_of_a_number() -> None:
    Runner(42)  # type: ignore[arg-type]


def runner_error_policy_text() -> None:
    Runner(good_tree(), on_error="failure")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ declarative


def registry() -> Registry:
    return Registry({"ok": ok}, trees=[good_tree()])


def json_not_valid() -> None:
    load_tree("{not json", registry())


def data_not_a_mapping() -> None:
    load_tree("[1, 2]", registry())


def tree_name_missing() -> None:
    load_tree({"root": {"action": "ok"}}, registry())


def tree_name_not_text() -> None:
    load_tree({"tree": 7, "root": {"action": "ok"}}, registry())


def tree_named_by_name() -> None:
    load_tree({"name": "T", "root": {"action": "ok"}}, registry())


def unknown_top_keys() -> None:
    load_tree({"tree": "T", "root": {"action": "ok"}, "version": 2}, registry())


def no_root_in_data() -> None:
    load_tree({"tree": "T"}, registry())


def node_not_a_mapping() -> None:
    load_tree({"tree": "T", "root": ["action", "ok"]}, registry())


def node_with_two_types() -> None:
    load_tree({"tree": "T", "root": {"action": "ok", "condition": "ok"}}, registry())


def node_name_not_text() -> None:
    load_tree({"tree": "T", "root": {"action": "ok", "name": 7}}, registry())


def node_unknown_keys() -> None:
    load_tree({"tree": "T", "root": {"action": "ok", "retries": 3}}, registry())


def unregistered_function() -> None:
    load_tree({"tree": "T", "root": {"action": "__import__('os').system"}}, registry())


def function_ref_not_text() -> None:
    load_tree({"tree": "T", "root": {"action": 42}}, registry())


def unregistered_halt_hook() -> None:
    load_tree({"tree": "T", "root": {"action": "ok", "on_halt": "tidy"}}, registry())


def unregistered_subtree() -> None:
    load_tree({"tree": "T", "root": {"subtree": "Elsewhere"}}, registry())


def children_not_a_list() -> None:
    load_tree({"tree": "T", "root": {"sequence": {"action": "ok"}}}, registry())


def memory_not_bool() -> None:
    load_tree({"tree": "T", "root": {"selector": [{"action": "ok"}], "memory": "yes"}}, registry())


def guard_without_if() -> None:
    load_tree({"tree": "T", "root": {"guard": {"action": "ok"}}}, registry())


def retry_without_attempts() -> None:
    load_tree({"tree": "T", "root": {"retry": {"action": "ok"}}}, registry())


def declarative_threshold() -> None:
    load_tree({"tree": "T", "root": {"parallel": [{"action": "ok"}], "success_threshold": 2}}, registry())


def declarative_error_policy() -> None:
    load_tree({"tree": "T", "root": {"action": "ok", "on_error": "ignore"}}, registry())


def registry_name_taken() -> None:
    Registry({"ok": ok}).add("ok", lambda bb: S)


def registry_tree_taken() -> None:
    r = Registry(trees=[good_tree()])
    r.add_tree(good_tree())


def registry_not_a_function() -> None:
    Registry({"answer": 42})  # type: ignore[dict-item]


def registry_leaf_without_name() -> None:
    class Anonymous:
        def __call__(self) -> Status:
            return S

        def __repr__(self) -> str:
            return "<anonymous leaf>"

    Registry().leaf(Anonymous())


def registry_of_a_number() -> None:
    Registry.of(42)  # type: ignore[arg-type]


def registry_tree_not_a_tree() -> None:
    Registry().add_tree(42)  # type: ignore[arg-type]


def runner_timebase_not_a_clock() -> None:
    b = TreeBuilder("Clockless")
    Runner(b.build(b.action(ok)), {}, "clock")  # type: ignore[arg-type]


def load_without_registry() -> None:
    load_tree({"tree": "T", "root": {"action": "ok"}}, {"ok": ok})  # type: ignore[arg-type]


def yielding(*items: Any) -> None:
    """A tree whose root sequence yields ``ok`` and then ``items``."""

    @bt.tree
    def Unfinished() -> None:
        @bt.root
        @bt.sequence
        def steps() -> Any:
            yield bt.action(ok)
            yield from items


def chain_not_applied() -> None:
    yielding(bt.failer().gate(bt.condition(ok)))


def match_without_cases() -> None:
    yielding(bt.match(ok))


def case_outside_a_match() -> None:
    yielding(bt.case(1))


def case_without_its_child() -> None:
    yielding(bt.match(ok)(bt.case(1), bt.defaultcase(bt.action(ok))))


def try_catch_without_its_handler() -> None:
    yielding(bt.try_catch(bt.action(ok)))


EXPECTED: dict[Any, tuple[str, list[str]]] = {
    unknown_parameter: (
        "condition 'too_curious'",
        [
            "condition 'too_curious': the condition asks for parameter 'robot', which a behaviour tree cannot supply. Fix: use only these parameter names: bb, timebase, tb, ctx",
        ],
    ),
    star_args: (
        "action 'spread'",
        [
            "action 'spread': the action takes *args. Fix: name each parameter it needs (bb, timebase, tb, ctx)",
        ],
    ),
    star_kwargs: (
        "action 'keywords'",
        [
            "action 'keywords': the action takes *kw. Fix: name each parameter it needs (bb, timebase, tb, ctx)",
        ],
    ),
    generator_leaf: (
        "action 'yielding'",
        [
            "action 'yielding': is a generator function, but a leaf returns its status. Fix: return a Status (or a bool for a condition); only composites yield (their children)",
        ],
    ),
    async_generator_leaf: (
        "action 'streaming'",
        [
            "action 'streaming': is a generator function, but a leaf returns its status. Fix: return a Status (or a bool for a condition); only composites yield (their children)",
        ],
    ),
    async_halt_hook: (
        "action 'ok'",
        [
            "action 'ok': the halt hook is async, but halting happens synchronously. Fix: make it a plain function; cleanup that must await belongs in the leaf's `except asyncio.CancelledError` / `finally` block",
        ],
    ),
    halt_hook_bad_parameter: (
        "action 'ok'",
        [
            "action 'ok': the halt hook asks for parameter 'robot', which a behaviour tree cannot supply. Fix: use only these parameter names: bb, timebase, tb, ctx",
        ],
    ),
    unknown_error_policy: (
        "action 'x'",
        [
            "action 'x': on_error='ignore' is not an error policy. Fix: use ErrorPolicy.PROPAGATE, ErrorPolicy.FAILURE or ErrorPolicy.ERROR",
        ],
    ),
    leaf_not_a_function: (
        "tree 'T'",
        [
            "action 'answer': the action is 42, not a function. Fix: pass a function",
        ],
    ),
    composite_with_parameters: (
        "tree 'T'",
        [
            "sequence 'steps': its function takes parameters (bb). Fix: a composite function takes no parameters; it yields its children",
        ],
    ),
    composite_returning: (
        "tree 'T'",
        [
            "selector 'choose': its function returned None instead of yielding children. Fix: write it as a generator: `yield child` for each child, in order",
        ],
    ),
    composite_raising: (
        "tree 'T'",
        [
            "sequence 'steps': raised KeyError('plan') while listing its children. Fix: fix the generator",
        ],
    ),
    composite_yielding_a_misspelt_node: (
        "tree 'T'",
        [
            "sequence 'steps': raised NameError(\"name 'mvoe' is not defined\") while listing its children. Fix: did you mean 'move'? If not, declare 'mvoe' in the tree (a node declared further down is fine) or import it, or correct the name",
        ],
    ),
    yields_a_plain_function: (
        "tree 'T'",
        [
            "sequence 'steps': child 0 is <function yields_a_plain_function.<locals>.T.<locals>.forgot>, not a behaviour-tree node. Fix: decorate it with @bt.action or @bt.condition",
        ],
    ),
    yields_a_number: (
        "tree 'T'",
        [
            "sequence 'steps': child 0 is 42, not a behaviour-tree node. Fix: yield nodes declared with @bt.action, @bt.condition, a composite or a decorator",
        ],
    ),
    no_children: (
        "tree 'T'",
        [
            "sequence 'empty': has no children. Fix: give the sequence at least one child",
        ],
    ),
    composite_on_a_number: (
        "sequence 'sequence'",
        [
            "sequence 'sequence': @bt.sequence was applied to 42. Fix: apply it to a generator function",
        ],
    ),
    node_contains_itself: (
        "tree 'T'",
        [
            "sequence 'loop': contains itself (loop -> loop). Fix: a tree cannot contain a cycle",
        ],
    ),
    subtree_embeds_itself: (
        "tree 'Outer'",
        [
            "subtree 'again': embeds tree 'Loop' inside itself. Fix: remove the loop",
        ],
    ),
    parallel_threshold_too_high: (
        "tree 'T'",
        [
            "parallel 'both': success_threshold=3 but it has 2 children. Fix: use a whole number from 1 to 2",
        ],
    ),
    parallel_threshold_not_whole: (
        "tree 'T'",
        [
            "parallel 'both': failure_threshold=0.5 but it has 1 child. Fix: use a whole number from 1 to 1",
        ],
    ),
    decorator_on_plain_function: (
        "tree 'Forgetful'",
        [
            "timeout 'timeout(slow)': decorates <function decorator_on_plain_function.<locals>.Forgetful.<locals>.slow>, which is not a node. Fix: apply it to a node: put it above @bt.action/@bt.condition/a composite",
        ],
    ),
    retry_zero: (
        "tree 'T'",
        [
            "retry 'retry(ok)': retry count is 0. Fix: use a whole number >= 1",
        ],
    ),
    repeat_not_whole: (
        "tree 'T'",
        [
            "repeat 'repeat(ok)': repeat count is 1.5. Fix: use a whole number >= 1",
        ],
    ),
    retry_bool: (
        "tree 'T'",
        [
            "retry 'retry(ok)': retry count is True. Fix: use a whole number >= 1",
        ],
    ),
    retry_node_first: (
        "tree 'T'",
        [
            "retry of action 'ok': got the node first and 3 second. Fix: pass the count first: retry(3, node)",
        ],
    ),
    timeout_node_first: (
        "tree 'T'",
        [
            "timeout of action 'ok': got the node first and 2.5 second. Fix: pass the seconds first: timeout(2.5, node)",
        ],
    ),
    retry_of_a_node: (
        "tree 'T'",
        [
            "retry 'retry(ok)': retry count is the node action 'ok'. Fix: give the count, then the node: bt.retry(3)(node)",
        ],
    ),
    timeout_of_a_node: (
        "tree 'T'",
        [
            "timeout 'timeout(ok)': timeout duration is the node action 'ok'. Fix: give the seconds, then the node: bt.timeout(5)(node)",
        ],
    ),
    timeout_zero: (
        "tree 'T'",
        [
            "timeout 'timeout(ok)': timeout duration is 0. Fix: use a number of seconds > 0",
        ],
    ),
    rate_limit_text: (
        "tree 'T'",
        [
            "rate_limit 'rate_limit(ok)': rate_limit duration is '5'. Fix: use a number of seconds > 0",
        ],
    ),
    guard_condition_not_a_node: (
        "tree 'T'",
        [
            "guard 'guard(ok)': its condition is 42, not a node or function. Fix: pass a condition (@bt.condition) or a function of bb returning True/False",
        ],
    ),
    guard_child_first: (
        "tree 'T'",
        [
            "guard of action 'work': got action 'work' as the condition and condition 'allowed' as the node it guards. Fix: pass the condition first: guard(allowed, work) (to run work and then check allowed, use sequence(work, allowed))",
        ],
    ),
    guard_child_first_with_a_function: (
        "tree 'T'",
        [
            "guard of action 'work': got action 'work' as the condition and the function allowed as the node it guards. Fix: pass the condition first: guard(allowed, work) (to run work and then check allowed, use sequence(work, allowed))",
        ],
    ),
    guard_composite_first: (
        "tree 'T'",
        [
            "guard of sequence 'steps': got sequence 'steps' as the condition and condition 'allowed' as the node it guards. Fix: pass the condition first: guard(allowed, steps) (to run steps and then check allowed, use sequence(steps, allowed))",
        ],
    ),
    guard_condition_bad_parameter: (
        "tree 'Guarded'",
        [
            "condition '<lambda>': the condition asks for parameter 'robot', which a behaviour tree cannot supply. Fix: use only these parameter names: bb, timebase, tb, ctx",
        ],
    ),
    no_root: (
        "tree 'Rootless'",
        [
            "tree 'Rootless': declares no root. Fix: mark exactly one node with @bt.root",
        ],
    ),
    two_roots: (
        "tree 'Twice'",
        [
            "tree 'Twice': declares 2 roots ('ok', 'other'). Fix: keep one @bt.root",
        ],
    ),
    root_on_a_function: (
        "tree 'Plain'",
        [
            "root 'plain': @bt.root was applied to something that is not a node. Fix: put @bt.root above @bt.sequence/@bt.selector/@bt.action ...",
        ],
    ),
    root_outside_a_tree: (
        "@bt.root",
        [
            "@bt.root: used outside a @bt.tree function. Fix: use it inside the body of a function decorated with @bt.tree (not a class body)",
        ],
    ),
    unreachable_node: (
        "tree 'Forgetful'",
        [
            "action 'forgotten': is declared in tree 'Forgetful' but not reachable from its root. Fix: yield it from a composite (or wrap it in a decorator that is), or delete it",
        ],
    ),
    tree_function_with_parameters: (
        "tree 'Params'",
        [
            "tree 'Params': its function takes parameters ('bb',). Fix: remove them",
        ],
    ),
    tree_on_a_number: (
        "tree 'tree'",
        [
            "tree 'tree': @bt.tree was applied to 42. Fix: apply it to a function whose body declares the tree's nodes (`def Name():`; the class form some 0.x documents show did not run in 0.x either)",
        ],
    ),
    tree_body_raising: (
        "tree 'Broken'",
        [
            "tree 'Broken': its body raised KeyError('missing'). Fix: fix the tree function's body",
        ],
    ),
    subtree_of_a_number: (
        "bt.subtree()",
        [
            "subtree '42': bt.subtree() got 42, not a tree. Fix: pass a tree made with @bt.tree, TreeBuilder or load_tree",
        ],
    ),
    builder_without_root: (
        "tree 'Nothing'",
        [
            "tree 'Nothing': has no root. Fix: call builder.root(node) before build()",
        ],
    ),
    chain_not_applied: (
        "tree 'Unfinished'",
        [
            "sequence 'steps': child 1 is a wrapper chain (failer, guard) that was not applied to a node. Fix: apply it to the node it wraps, e.g. bt.failer()(node) or bt.gate(ok)(node)",
        ],
    ),
    match_without_cases: (
        "tree 'Unfinished'",
        [
            "sequence 'steps': child 1 is match(ok) without its cases, not a node. Fix: complete it: bt.match(key)(bt.case(value)(node), ...)",
        ],
    ),
    case_outside_a_match: (
        "tree 'Unfinished'",
        [
            "sequence 'steps': child 1 is bt.case(1) without its child, not a node. Fix: complete it: bt.case(1)(node), inside bt.match(key)(...)",
        ],
    ),
    case_without_its_child: (
        "tree 'Unfinished'",
        [
            "match 'match(ok)': case 0 is bt.case(1) without its child, not a case. Fix: complete it: bt.case(1)(node), inside bt.match(key)(...)",
        ],
    ),
    try_catch_without_its_handler: (
        "tree 'Unfinished'",
        [
            "sequence 'steps': child 1 is bt.try_catch(...) without its catch block, not a node. Fix: complete it: bt.try_catch(body)(handler)",
        ],
    ),
    runner_timebase_not_a_clock: (
        "Runner of tree 'Clockless'",
        [
            "Runner of tree 'Clockless': timebase='clock' is not a timebase (it needs now(), sleep() and call_later()). Fix: pass a clock such as MonotonicClock(), ManualClock() or CycleClock(), or subclass Timebase",
        ],
    ),
    builder_root_twice: (
        "tree 'Twice'",
        [
            "tree 'Twice': root() was called twice: first with action 'ok', then with action 'other'. Fix: call builder.root(node) once, with the node at the top of the tree",
        ],
    ),
    builder_child_not_a_node: (
        "tree 'T'",
        [
            "sequence 'steps': child 0 is <function ok>, not a behaviour-tree node. Fix: decorate it with @bt.action or @bt.condition",
        ],
    ),
    builder_subtree_of_a_number: (
        "tree 'T'",
        [
            "subtree '42': builder.subtree() got 42, not a tree. Fix: pass a tree made with @bt.tree, TreeBuilder or load_tree",
        ],
    ),
    tree_root_not_a_node: (
        "tree 'T'",
        [
            "tree 'T': its root is 'oops', not a node. Fix: pass a node as the root",
        ],
    ),
    runner_of_a_number: (
        "Runner",
        [
            "Runner: needs a behaviour tree, got 42. Fix: pass a tree made with @bt.tree, TreeBuilder or load_tree",
        ],
    ),
    runner_error_policy_text: (
        "Runner",
        [
            "Runner: on_error='failure' is not an error policy. Fix: use ErrorPolicy.PROPAGATE, ErrorPolicy.FAILURE or ErrorPolicy.ERROR",
        ],
    ),
    json_not_valid: (
        "tree",
        [
            "tree JSON: is not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1)). Fix: fix the JSON text",
        ],
    ),
    data_not_a_mapping: (
        "tree",
        [
            'tree data: is list, not an object. Fix: use {"tree": ..., "root": ...}',
        ],
    ),
    tree_name_missing: (
        "tree",
        [
            'tree data: has no "tree" key, which names the tree. Fix: write the document as {"tree": "Name", "root": {...}}',
        ],
    ),
    tree_name_not_text: (
        "tree",
        [
            'tree data: "tree" is 7, not a name. Fix: give the tree a name: {"tree": "Name", "root": {...}}',
        ],
    ),
    tree_named_by_name: (
        "tree",
        [
            'tree data: has no "tree" key, which names the tree. Fix: write the document as {"tree": "Name", "root": {...}}',
            'tree data: has unknown keys [\'name\']. Fix: keep "tree" and "root"',
        ],
    ),
    unknown_top_keys: (
        "tree 'T'",
        [
            "tree 'T': has unknown keys ['version']. Fix: keep \"tree\" and \"root\"",
        ],
    ),
    no_root_in_data: (
        "tree 'T'",
        [
            "tree 'T': has no root. Fix: add \"root\": {...}",
        ],
    ),
    node_not_a_mapping: (
        "tree 'T'",
        [
            "T.root: is ['action', 'ok'], not a node object. Fix: write a node as {\"action\": \"name\"} etc.",
        ],
    ),
    node_with_two_types: (
        "tree 'T'",
        [
            "T.root: names 2 node types (action, condition). Fix: give exactly one of: action, condition, sequence, selector, parallel, inverter, succeeder, failer, retry, repeat, timeout, rate_limit, guard, when, do_while, subtree, try_catch, match",
        ],
    ),
    node_name_not_text: (
        "tree 'T'",
        [
            'T.root: "name" is 7. Fix: use a string',
        ],
    ),
    node_unknown_keys: (
        "tree 'T'",
        [
            "T.root: action has unknown keys ['retries']. Fix: allowed: ['name', 'on_error', 'on_halt']",
        ],
    ),
    unregistered_function: (
        "tree 'T'",
        [
            "T.root: action \"__import__('os').system\" is not in the registry (known: ok). Fix: register it: registry.add(\"__import__('os').system\", fn)",
        ],
    ),
    function_ref_not_text: (
        "tree 'T'",
        [
            "T.root: the action is 42, not a registered name. Fix: use the name of a registered function",
        ],
    ),
    unregistered_halt_hook: (
        "tree 'T'",
        [
            "T.root: halt hook 'tidy' is not in the registry (known: ok). Fix: register it: registry.add('tidy', fn)",
        ],
    ),
    unregistered_subtree: (
        "tree 'T'",
        [
            "T.root: subtree 'Elsewhere' is not in the registry. Fix: register it: registry.add_tree(tree)",
        ],
    ),
    children_not_a_list: (
        "tree 'T'",
        [
            "T.root: sequence children are {'action': 'ok'}, not a list. Fix: write \"sequence\": [child, ...]",
        ],
    ),
    memory_not_bool: (
        "tree 'T'",
        [
            "T.root: \"memory\" is 'yes'. Fix: use true or false",
        ],
    ),
    guard_without_if: (
        "tree 'T'",
        [
            'T.root: guard has no condition. Fix: add "if": {"condition": "name"}',
        ],
    ),
    retry_without_attempts: (
        "tree 'T'",
        [
            'T.root: retry has no "attempts". Fix: add "attempts": <number>',
        ],
    ),
    declarative_threshold: (
        "tree 'T'",
        [
            "parallel 'parallel': success_threshold=2 but it has 1 child. Fix: use a whole number from 1 to 1",
        ],
    ),
    declarative_error_policy: (
        "tree 'T'",
        [
            "T.root: action 'ok': on_error='ignore' is not an error policy. Fix: use ErrorPolicy.PROPAGATE, ErrorPolicy.FAILURE or ErrorPolicy.ERROR",
        ],
    ),
    registry_name_taken: (
        "registry",
        [
            "registry name 'ok': already names <function ok>, cannot also name <function registry_name_taken.<locals>.<lambda>>. Fix: register one of them under another name",
        ],
    ),
    registry_tree_taken: (
        "registry",
        [
            "registry tree 'Good': is already registered. Fix: register it under another name",
        ],
    ),
    registry_not_a_function: (
        "registry",
        [
            "registry name 'answer': 42 is not a function. Fix: register a function",
        ],
    ),
    registry_leaf_without_name: (
        "registry",
        [
            "registry entry <anonymous leaf>: has no __name__ to register it under. Fix: use registry.add(name, fn)",
        ],
    ),
    registry_of_a_number: (
        "registry",
        [
            "Registry.of(42): was given something that is not a tree. Fix: pass trees",
        ],
    ),
    registry_tree_not_a_tree: (
        "registry",
        [
            "registry tree '42': 42 is not a tree. Fix: register a tree",
        ],
    ),
    load_without_registry: (
        "tree",
        [
            "load_tree(): needs a Registry, got {'ok': <function ok>}. Fix: pass Registry({name: function, ...})",
        ],
    ),
}


def printed(problem: str) -> str:
    """A pattern of ``problem`` as raised, where a function's repr also has its ' at 0x...' address."""
    return re.escape(problem).replace(">", r"(?: at 0x[0-9a-f]+)?>")


@pytest.mark.parametrize("case", list(EXPECTED), ids=lambda case: case.__name__)
def test_every_bad_definition_raises_one_clear_definition_error(case: Any) -> None:
    what, problems = EXPECTED[case]
    with pytest.raises(DefinitionError, match=printed(problems[0])) as caught:
        case()
    error = caught.value
    assert error.what == what
    assert [re.sub(r" at 0x[0-9a-f]+", "", str(p)) for p in error.problems] == problems
    for problem in error.problems:
        assert problem.subject and problem.message and problem.fix  # names who, says what, ends with a fix
        assert str(problem).endswith(f". Fix: {problem.fix}")
