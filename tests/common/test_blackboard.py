import re
from collections.abc import Callable
from types import SimpleNamespace

import pytest

from mycorrhizal.common import (
    AccessControlError,
    BlackboardAccessError,
    BlackboardView,
    DefinitionTypeError,
    read,
    read_only,
    write,
)


@pytest.fixture(params=["dict", "object"])
def board(request: pytest.FixtureRequest) -> object:
    return {"count": 1} if request.param == "dict" else SimpleNamespace(count=1)


def test_read_and_write_work_on_dicts_and_objects(board: object) -> None:
    assert read(board, "count") == 1
    write(board, "count", 2)
    assert read(board, "count") == 2
    assert read(board, "missing", "fallback") == "fallback"


def test_view_writes_through_without_copying(board: object) -> None:
    view = BlackboardView(board, writable={"count"})
    view["count"] = 5
    view.count += 1
    assert read(board, "count") == 6
    assert view.target is board


def test_read_only_view_refuses_writes_naming_the_key(board: object) -> None:
    view = read_only(board, name="validator")
    assert view["count"] == 1
    with pytest.raises(BlackboardAccessError, match="'validator' may not write 'count'"):
        view["count"] = 3
    assert read(board, "count") == 1


def test_read_only_view_says_it_writes_nothing_rather_than_to_add_writable_keys(board: object) -> None:
    # read_only() has no writable keys to add to: the fix is to write through another view
    view = read_only(board, name="validator")
    with pytest.raises(
        BlackboardAccessError,
        match=r"'validator' may not write 'count': it is read_only\(\) and writes nothing\. "
        r"Fix: write 'count' through the blackboard itself or a view made with writable=\{'count'\}$",
    ):
        view.count = 3


def _del_attribute(view: BlackboardView) -> None:
    del view.count


def _del_item(view: BlackboardView) -> None:
    del view["count"]


@pytest.mark.parametrize("delete", [_del_attribute, _del_item], ids=["del view.count", "del view['count']"])
@pytest.mark.parametrize(
    ("make", "called"),
    [
        (lambda bb: BlackboardView(bb, name="counter"), "blackboard 'counter'"),
        (lambda bb: BlackboardView(bb, writable={"count"}, name="counter"), "blackboard 'counter'"),
        (lambda bb: read_only(bb, name="validator"), "blackboard 'validator'"),
    ],
    ids=["open", "writable", "read_only"],
)
def test_deleting_through_a_view_is_refused_naming_the_key_and_what_to_do(
    board: object,
    make: Callable[[object], BlackboardView],
    called: str,
    delete: Callable[[BlackboardView], None],
) -> None:
    view = make(board)
    with pytest.raises(
        AccessControlError,
        match=rf"^{called} may not delete 'count': a view reads and writes keys but removes none\. "
        r"Fix: write 'count' a value that stands for none \(e\.g\. None\), or delete it on the blackboard "
        r"itself$",
    ) as caught:
        delete(view)
    assert (caught.value.field_name, caught.value.operation) == ("count", "delete")
    assert read(board, "count") == 1


def test_constrained_view_refuses_reads_outside_its_keys(board: object) -> None:
    write(board, "secret", "x")
    view = BlackboardView(board, readable={"count"}, name="router")
    with pytest.raises(BlackboardAccessError, match="may not read 'secret'.*add 'secret'"):
        view["secret"]
    assert "secret" in view


@pytest.mark.parametrize(
    ("readable", "writable", "present"),
    [
        ({"count"}, {"count"}, {"count": True, "secret": False}),  # secret: neither readable nor writable
        ({"count"}, None, {"count": True, "secret": True}),  # every key may be written
        (None, (), {"count": True, "secret": True}),  # read_only(): every key may be read
        ((), {"secret"}, {"count": False, "secret": True}),
    ],
)
def test_in_tells_only_keys_the_view_may_reach(
    board: object, readable: set[str] | None, writable: set[str] | None, present: dict[str, bool]
) -> None:
    write(board, "secret", "x")
    view = BlackboardView(board, readable=readable, writable=writable, name="router")
    assert {key: key in view for key in present} == present
    assert "missing" not in view


@pytest.mark.parametrize("option", ["readable", "writable"])
def test_a_single_string_of_keys_is_refused_not_split_into_letters(board: object, option: str) -> None:
    message = rf"router: {option}='count' is one string.*Fix: pass a set"
    with pytest.raises(DefinitionTypeError, match=message):
        BlackboardView(board, name="router", **{option: "count"})


@pytest.mark.parametrize(
    ("readable", "writable", "touch", "fix"),
    [
        (
            {"count"},
            None,
            lambda view: view["cuont"],
            "did you mean 'count'? If not, add 'cuont' to its readable",
        ),
        (
            None,
            {"count"},
            lambda view: view.__setitem__("Count", 2),
            "did you mean 'count'? If not, add 'Count'",
        ),
        (
            {"count"},
            None,
            lambda view: view["secret"],
            "(it may read: count). Fix: add 'secret' to its readable keys",
        ),
    ],
    ids=["read", "write", "nothing_close"],
)
def test_a_misspelt_key_is_answered_with_the_nearest(
    board: object,
    readable: set[str] | None,
    writable: set[str] | None,
    touch: Callable[..., object],
    fix: str,
) -> None:
    view = BlackboardView(board, readable=readable, writable=writable, name="router")
    with pytest.raises(BlackboardAccessError, match=re.escape(fix)):
        touch(view)
