"""Views and errors (UPSTREAM-API 5.4): every view is one of our BlackboardViews over the same object."""

from __future__ import annotations

import pickle
import re
from typing import Annotated, Any

import pydantic
import pytest

from mycorrhizal.common import (
    AccessControlError,
    BlackboardAccessError,
    BlackboardView,
    CompositeView,
    ConstrainedView,
    DefinitionError,
    ReadOnlyView,
    View,
    WriteOnlyView,
    blackboard_interface,
    create_constrained_view,
    create_readonly_view,
    create_view_from_protocol,
    readonly,
    readwrite,
)


@blackboard_interface
class Ops:
    limit: Annotated[int, readonly]
    done: Annotated[int, readwrite]


class Board(pydantic.BaseModel):
    limit: int = 5
    done: int = 0
    secret: str = "s3cr3t"


class Plain:
    def __init__(self) -> None:
        self.limit, self.done, self.secret = 5, 0, "s3cr3t"


@pytest.fixture(params=["pydantic", "object", "dict"])
def board(request: pytest.FixtureRequest) -> Any:
    return {"pydantic": Board(), "object": Plain(), "dict": {"limit": 5, "done": 0, "secret": "s3cr3t"}}[
        request.param
    ]


def value(bb: Any, key: str) -> Any:
    return bb[key] if isinstance(bb, dict) else getattr(bb, key)


def test_access_control_error_has_the_0x_shape_and_is_our_access_error() -> None:
    err = AccessControlError("no", "limit", "write")
    assert (str(err), err.field_name, err.operation) == ("no", "limit", "write")
    assert isinstance(err, BlackboardAccessError) and not isinstance(err, AttributeError)
    again = pickle.loads(pickle.dumps(err))
    assert (again.field_name, again.operation) == ("limit", "write")


def test_the_0x_example_view_from_protocol(board: Any) -> None:
    view = create_view_from_protocol(board, Ops)
    assert isinstance(view, ConstrainedView) and isinstance(view, BlackboardView)
    view.done += 1
    assert value(board, "done") == 1 and view.limit == 5
    with pytest.raises(
        AccessControlError, match="'Ops' may not write 'limit': the field is read-only"
    ) as caught:
        view.limit = 3
    assert (caught.value.field_name, caught.value.operation) == ("limit", "write")
    assert value(board, "limit") == 5


def test_fields_outside_the_interface_do_not_exist_in_the_view(board: Any) -> None:
    view = View(board, Ops)
    with pytest.raises(AttributeError, match="'Ops' has no field 'secret' .*add 'secret' to the interface"):
        _ = view.secret
    with pytest.raises(AttributeError, match="has no field 'secret'"):
        view.secret = "leaked"
    assert value(board, "secret") == "s3cr3t"
    assert not hasattr(view, "secret") and dir(view) == ["done", "limit"]


def test_readonly_fields_given_explicitly_replace_the_protocols(board: Any) -> None:
    view = create_view_from_protocol(board, Ops, readonly_fields={"done"})
    view.limit = 7
    with pytest.raises(AccessControlError, match="may not write 'done'"):
        view.done = 1
    assert value(board, "limit") == 7


def test_a_plain_annotated_class_or_protocol_works_as_the_protocol(board: Any) -> None:
    class Shape:
        limit: Annotated[int, readonly]
        done: int

    view = create_view_from_protocol(board, Shape)
    view.done = 4
    with pytest.raises(
        AccessControlError,
        match=r"'Shape' may not write 'limit': .*\. Fix: mark it readwrite in the interface",
    ):
        view.limit = 1


def test_constrained_view_enforces_its_two_sets(board: Any) -> None:
    view = ConstrainedView(board, {"limit", "done"}, {"limit"})
    view.done = 2
    assert value(board, "done") == 2
    with pytest.raises(
        AccessControlError, match=r"may not write 'limit': .*\. Fix: drop 'limit' from its readonly_fields$"
    ):
        view.limit = 1
    assert ConstrainedView(board, {"done"}).done == 2  # readonly_fields defaults to none


def test_constrained_view_refuses_read_only_fields_it_does_not_have(board: Any) -> None:
    with pytest.raises(DefinitionError, match=r"read-only fields \['ghost'\] are not among its fields"):
        ConstrainedView(board, {"done"}, {"ghost"})


def test_read_only_view_refuses_every_write(board: Any) -> None:
    view = ReadOnlyView(board, {"limit", "done"})
    assert view.limit == 5
    with pytest.raises(
        AccessControlError, match=r"may not write 'done': .*\. Fix: write 'done' through a view that may"
    ) as caught:
        view.done = 1
    assert caught.value.operation == "write"
    assert create_readonly_view(board, ("limit",)).limit == 5


def test_write_only_view_refuses_every_read(board: Any) -> None:
    view = WriteOnlyView(board, {"done"})
    view.done = 9
    assert value(board, "done") == 9
    with pytest.raises(AccessControlError, match="may not read 'done': the field is write-only") as caught:
        _ = view.done
    assert (caught.value.field_name, caught.value.operation) == ("done", "read")


def test_create_constrained_view_takes_tuples(board: Any) -> None:
    view = create_constrained_view(board, ("limit", "done"), ("limit",))
    view.done = 1
    with pytest.raises(
        AccessControlError, match=r"may not write 'limit': .*\. Fix: drop 'limit' from its readonly_fields$"
    ):
        view.limit = 0


def test_composite_view_lets_each_field_through_the_view_that_allows_it(board: Any) -> None:
    reader = ReadOnlyView(board, {"limit"})
    writer = WriteOnlyView(board, {"done"})
    both = CompositeView.combine([reader, writer])
    assert both.limit == 5
    both.done = 3
    assert value(board, "done") == 3
    with pytest.raises(
        AccessControlError,
        match=r"may not write 'limit': .*none of its views may write it\)\. Fix: add a view that may$",
    ):
        both.limit = 1
    with pytest.raises(
        AccessControlError,
        match=r"may not read 'done': .*none of its views may read it\)\. Fix: add a view that may$",
    ):
        _ = both.done
    with pytest.raises(AttributeError, match="no field 'secret'"):
        _ = both.secret
    assert CompositeView(board, [reader]).limit == 5


def test_composite_view_refuses_views_of_another_blackboard() -> None:
    one, other = {"a": 1}, {"a": 2}
    with pytest.raises(DefinitionError, match="views of another blackboard") as caught:
        CompositeView.combine([ReadOnlyView(one, {"a"}), ReadOnlyView(other, {"a"})])
    assert isinstance(caught.value, ValueError)  # what 0.x raised
    with pytest.raises(DefinitionError, match="got no views"):
        CompositeView.combine([])


def test_our_own_views_raise_access_control_errors_too() -> None:
    view = BlackboardView({"a": 1}, readable={"a"}, writable=(), name="counter")
    with pytest.raises(AccessControlError, match="blackboard 'counter' may not write 'a'") as caught:
        view.a = 2
    assert caught.value.operation == "write"


@pytest.mark.parametrize(
    "make",
    [
        lambda bb: View(bb, Ops),
        lambda bb: ConstrainedView(bb, {"done"}, name="Ops"),
        lambda bb: WriteOnlyView(bb, {"done"}, name="Ops"),
        lambda bb: CompositeView(bb, [ReadOnlyView(bb, {"done"})], name="Ops"),
    ],
    ids=["interface", "constrained", "write-only", "composite"],
)
@pytest.mark.parametrize("key", ["done", "secret"], ids=["its field", "a field outside it"])
def test_deleting_a_field_through_a_view_is_refused_and_it_stays(board: Any, make: Any, key: str) -> None:
    view = make(board)
    with pytest.raises(
        AccessControlError,
        match=rf"^'Ops' may not delete '{key}': a view reads and writes keys but removes none\. "
        rf"Fix: write '{key}' a value that stands for none \(e\.g\. None\), or delete it on the blackboard "
        r"itself$",
    ) as caught:
        delattr(view, key)
    assert caught.value.operation == "delete"
    with pytest.raises(AccessControlError, match=rf"^'Ops' may not delete '{key}'"):
        del view[key]
    assert value(board, key) == {"done": 0, "secret": "s3cr3t"}[key]


def test_in_agrees_with_hasattr_for_fields_outside_the_view() -> None:
    board = {"limit": 3, "done": 0, "api_key": "s3cr3t"}
    view = create_view_from_protocol(board, Ops)
    assert "limit" in view and "done" in view
    assert "api_key" not in view and not hasattr(view, "api_key")  # (it is on the blackboard)
    with pytest.raises(AttributeError, match="'Ops' has no field 'api_key'"):
        view["api_key"]
    writer = WriteOnlyView(board, {"done"})
    assert "done" in writer and "limit" not in writer


@pytest.mark.parametrize(
    ("make", "options"),
    [
        (lambda bb: ConstrainedView(bb, "limit"), ["allowed_fields='limit'"]),
        (
            lambda bb: ConstrainedView(bb, "limit", "limit"),
            ["allowed_fields='limit'", "readonly_fields='limit'"],
        ),
        (lambda bb: ReadOnlyView(bb, "limit"), ["fields='limit'"]),
        (lambda bb: WriteOnlyView(bb, "done"), ["fields='done'"]),
        (lambda bb: create_readonly_view(bb, "limit"), ["fields='limit'"]),
        (lambda bb: create_constrained_view(bb, {"limit"}, "limit"), ["readonly_fields='limit'"]),
    ],
)
def test_a_single_string_of_fields_is_refused_not_split_into_letters(make: Any, options: list[str]) -> None:
    with pytest.raises(DefinitionError, match=r"is one string, not a collection of field names") as caught:
        make({"limit": 3, "done": 0})
    assert isinstance(caught.value, TypeError)
    assert [p.message.split(" is one string")[0] for p in caught.value.problems] == options
    assert all(p.fix.startswith("pass a set of names") for p in caught.value.problems)


def _write_done(view: Any) -> None:
    view.done = 1


def _read_done(view: Any) -> None:
    _ = view.done


@pytest.mark.parametrize(
    ("make", "touch", "fix"),
    [
        (
            lambda bb: View(bb, Ops),
            lambda v: setattr(v, "limit", 1),
            "here. Fix: mark it readwrite in the interface if this handler should",
        ),
        (
            lambda bb: create_view_from_protocol(bb, Ops, readonly_fields={"done"}),
            _write_done,
            "here. Fix: drop 'done' from its readonly_fields",
        ),
        (
            lambda bb: ConstrainedView(bb, {"done"}, {"done"}),
            _write_done,
            "here. Fix: drop 'done' from its readonly_fields",
        ),
        (
            lambda bb: ReadOnlyView(bb, {"done"}),
            _write_done,
            "here (a ReadOnlyView writes none of its fields). "
            "Fix: write 'done' through a view that may, e.g. ConstrainedView(bb, fields)",
        ),
        (
            lambda bb: WriteOnlyView(bb, {"done"}),
            _read_done,
            "here (a WriteOnlyView reads none of its fields). "
            "Fix: read 'done' through a view that may, e.g. ReadOnlyView(bb, fields)",
        ),
        (
            lambda bb: CompositeView.combine([ReadOnlyView(bb, {"done"})]),
            _write_done,
            "here (none of its views may write it). Fix: add a view that may",
        ),
    ],
)
def test_each_refusal_gives_the_fix_for_how_the_view_was_made(
    board: Any, make: Any, touch: Any, fix: str
) -> None:
    # The fix last, after why this view refuses (it was said after "; ", where it read as more problem).
    with pytest.raises(AccessControlError, match=re.escape(fix) + "$"):
        touch(make(board))


@pytest.mark.parametrize(
    ("make", "fix"),
    [
        (lambda bb: View(bb, Ops), "add 'secret' to the interface"),
        (lambda bb: ConstrainedView(bb, {"done"}), "add 'secret' to its allowed fields"),
        (lambda bb: ReadOnlyView(bb, {"done"}), "add 'secret' to its fields"),
        (lambda bb: WriteOnlyView(bb, {"done"}), "add 'secret' to its fields"),
        (lambda bb: CompositeView.combine([ReadOnlyView(bb, {"done"})]), "add 'secret' to one of its views"),
    ],
)
def test_a_field_outside_the_view_names_the_fix_for_how_it_was_made(board: Any, make: Any, fix: str) -> None:
    with pytest.raises(AttributeError, match=rf"has no field 'secret' .*\. Fix: {fix}$"):
        _ = make(board).secret


@pytest.mark.parametrize(
    ("make", "fix"),
    [
        (lambda bb: View(bb, Ops), "did you mean 'done'? If not, add 'dne' to the interface"),
        (
            lambda bb: ConstrainedView(bb, {"done", "limit"}),
            "did you mean 'done'? If not, add 'dne' to its allowed",
        ),
        (lambda bb: ReadOnlyView(bb, {"done"}), "did you mean 'done'? If not, add 'dne' to its fields"),
        (
            lambda bb: CompositeView.combine([ReadOnlyView(bb, {"done"})]),
            "did you mean 'done'? If not, add 'dne' to one",
        ),
    ],
    ids=["interface", "constrained", "read_only", "composite"],
)
def test_a_misspelt_field_is_answered_with_the_nearest(board: Any, make: Any, fix: str) -> None:
    # Before: "'Ops' has no field 'dne' (its fields: done, limit); add 'dne' to the interface".
    with pytest.raises(
        AttributeError, match=rf"has no field 'dne' \(its fields: .*\)\. Fix: {re.escape(fix)}"
    ):
        _ = make(board).dne
