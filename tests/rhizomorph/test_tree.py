"""Tree definitions: one root, every declared node used, errors naming the node; the builder."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from mycorrhizal.common import DefinitionError
from mycorrhizal.rhizomorph import Runner, Status, Tree, TreeBuilder, bt

S = Status.SUCCESS


def test_a_tree_without_root_is_an_error_naming_it() -> None:
    with pytest.raises(
        DefinitionError, match=r"tree 'Rootless': declares no root. Fix: mark exactly one node"
    ):

        @bt.tree
        def Rootless() -> None:
            @bt.action
            def work() -> Status:
                return S


def test_two_roots_are_an_error_naming_both() -> None:
    with pytest.raises(DefinitionError, match=r"tree 'Twice': declares 2 roots \('one', 'two'\)"):

        @bt.tree
        def Twice() -> None:
            @bt.root
            @bt.action
            def one() -> Status:
                return S

            @bt.root
            @bt.action
            def two() -> Status:
                return S


def forgetful() -> Tree:
    @bt.tree
    def Forgetful() -> None:
        @bt.action
        def used() -> Status:
            return S

        @bt.action
        def forgotten() -> Status:
            return S

        @bt.root
        @bt.sequence
        def main() -> Any:
            yield used

    return Forgetful


def test_a_declared_node_the_root_never_reaches_is_accepted_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.rhizomorph"):
        tree = forgetful()
    assert [r.getMessage() for r in caplog.records] == [
        "tree 'Forgetful': action 'forgotten' is declared but the root never reaches it; it is ignored "
        "(yield it from a composite, or delete it)"
    ]
    assert [n.name for n in tree.nodes()] == ["main", "used"]
    assert tree.analysis_report() == [
        (True, "2 nodes"),
        (False, "declared but never reached from the root: action 'forgotten'"),
    ]


def test_a_tree_whose_nodes_are_all_used_reports_so() -> None:
    @bt.tree
    def Tidy() -> None:
        bt.root(bt.action(lambda: S, name="only"))

    assert Tidy.analysis_report() == [
        (True, "1 nodes"),
        (True, "every declared node is reached from the root"),
    ]


def test_a_declared_node_the_root_never_reaches_is_an_error_in_strict_mode() -> None:
    with pytest.raises(
        DefinitionError, match=r"action 'forgotten': is declared in tree 'Forgetful' but not reachable"
    ):

        @bt.tree(strict=True)
        def Forgetful() -> None:
            @bt.action
            def used() -> Status:
                return S

            @bt.action
            def forgotten() -> Status:
                return S

            @bt.root
            @bt.sequence
            def main() -> Any:
                yield used


def test_root_outside_a_tree_and_on_a_plain_function() -> None:
    with pytest.raises(DefinitionError, match=r"@bt.root: used outside a @bt.tree function"):
        bt.root(bt.action(lambda: S, name="x"))
    with pytest.raises(
        DefinitionError, match=r"root 'plain': @bt.root was applied to something that is not a node"
    ):

        @bt.tree
        def Plain() -> None:
            @bt.root
            def plain() -> Status:
                return S

            bt.root(bt.action(lambda: S, name="real"))


def test_tree_function_takes_no_parameters() -> None:
    with pytest.raises(DefinitionError, match=r"tree 'Param': its function takes parameters \('builder',\)"):

        @bt.tree
        def Param(builder: Any) -> None:
            pass


def test_a_generator_raising_while_listing_children_names_the_composite() -> None:
    with pytest.raises(DefinitionError, match=r"sequence 'main': raised NameError"):

        @bt.tree
        def Typo() -> None:
            @bt.root
            @bt.sequence
            def main() -> Any:
                yield undefined_leaf  # type: ignore[name-defined]  # noqa: F821


def test_problems_across_the_tree_are_reported_together() -> None:
    with pytest.raises(DefinitionError, match="tree 'Many' has 3 problems") as info:

        @bt.tree
        def Many() -> None:
            @bt.condition
            def bad(robot: Any) -> bool:
                return True

            @bt.root
            @bt.parallel(success_threshold=5)
            def main() -> Any:
                yield bad
                yield bt.retry(0)(bad)

    subjects = sorted(p.subject for p in info.value.problems)
    assert subjects == ["condition 'bad'", "parallel 'main'", "retry 'retry(bad)'"]


def test_builder_makes_the_same_tree_as_the_decorators() -> None:
    def ready(bb: dict[str, bool]) -> bool:
        return bb["ready"]

    def go() -> Status:
        return S

    b = TreeBuilder("Built")
    b.root(b.selector("main", b.sequence("try", b.condition(ready), b.action(go)), b.failer(b.action(go))))
    tree = b.build()
    assert isinstance(tree, Tree) and tree.name == "Built"
    assert [n.name for n in tree.nodes()] == ["main", "try", "ready", "go", "failer(go)", "go"]
    assert [leaf.name for leaf in tree.leaves()] == ["ready", "go", "go"]
    assert repr(tree) == "Tree('Built', 6 nodes)"


async def test_builder_errors() -> None:
    b = TreeBuilder("Nothing")
    with pytest.raises(DefinitionError, match=r"tree 'Nothing': has no root. Fix: call builder.root\(node\)"):
        b.build()
    with pytest.raises(DefinitionError, match=r"action 'go': the action asks for parameter 'speed'"):
        b.action(lambda speed: S, name="go")
    with pytest.raises(DefinitionError, match=r"tree 'T': its root is 'oops', not a node"):
        Tree("T", "oops")  # type: ignore[arg-type]
    b.root(b.action(lambda: S, name="x"))
    assert await Runner(b.build(), None).tick() is S


def test_a_tree_defined_inside_another_trees_body_keeps_its_nodes_to_itself() -> None:
    @bt.tree
    def Outer() -> None:
        @bt.tree
        def Inner() -> None:
            @bt.action
            def flaky() -> Status:
                return S

            @bt.root
            @bt.sequence
            def main() -> Any:
                yield bt.retry(2)(flaky)  # made while Inner compiles, inside Outer's body

        @bt.root
        @bt.sequence
        def outer_main() -> Any:
            yield bt.subtree(Inner)

    assert [n.kind for n in Outer.nodes()] == ["sequence", "subtree", "sequence", "retry", "action"]


def test_builder_root_twice_is_a_definition_error_naming_both() -> None:
    """Issue 8: a second root used to replace the first silently."""
    b = TreeBuilder("Twice")
    first = b.root(b.action(lambda: S, name="first"))
    with pytest.raises(
        DefinitionError,
        match=r"tree 'Twice': root\(\) was called twice: first with action 'first', "
        r"then with action 'second'. Fix: call builder.root\(node\) once",
    ):
        b.root(b.action(lambda: S, name="second"))
    assert b.root(first) is first  # the same root again changes nothing
    assert b.build().root is first


@bt.tree
def Fetching() -> None:
    @bt.action
    def fetch() -> Status:
        return S

    @bt.root
    @bt.sequence
    def main() -> Any:
        yield fetch


def misspelt_child() -> None:
    @bt.tree
    def Typo() -> None:
        @bt.action
        def fetch() -> Status:
            return S

        @bt.root
        @bt.sequence
        def main() -> Any:
            yield fech  # type: ignore[name-defined]  # noqa: F821 - fetch, misspelt

    return None


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (
            lambda: Fetching.fetsh,
            AttributeError,
            r"^tree 'Fetching' declares no node named 'fetsh'\. Fix: did you mean 'fetch'\?",
        ),
        (
            lambda: Fetching.Main,
            AttributeError,
            r"declares no node named 'Main'\. Fix: did you mean 'main'\? If not, name a node",
        ),
        (
            misspelt_child,
            DefinitionError,
            r"raised NameError\(.*'fech'.*\) while listing its children\. Fix: did you mean 'fetch'\?",
        ),
        (
            lambda: Fetching.patrol,
            AttributeError,
            r"no node named 'patrol'\. Fix: name a node its @bt\.tree body declares$",
        ),
    ],
    ids=["attribute", "attribute_case", "child", "nothing_close"],
)
def test_a_misspelt_node_is_answered_with_the_nearest(make: Any, error: type[Exception], match: str) -> None:
    # Before: "tree declares no node named 'fetsh'" alone; the misspelt child's fix named no node.
    with pytest.raises(error, match=match):
        make()
