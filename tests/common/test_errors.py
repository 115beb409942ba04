import logging
import math
import pickle
import re
from collections.abc import Callable

import pytest

from mycorrhizal.common import (
    AccessControlError,
    CodecError,
    DefinitionError,
    MycorrhizalError,
    Problem,
    UndeclaredLabelError,
)
from mycorrhizal.common.blackboard import BlackboardView, read_only
from mycorrhizal.common.codecs import CodecRegistry
from mycorrhizal.common.errors import did_you_mean, fix_last, problem, reason, split_fix
from mycorrhizal.common.frozen import FrozenRecord, evolve, fields
from mycorrhizal.common.observers import Observers
from mycorrhizal.common.timebase import ManualClock
from mycorrhizal.common.wrappers import ConstrainedView, ReadOnlyView, WriteOnlyView


def test_definition_error_lists_every_problem_with_its_fix() -> None:
    problems = [
        Problem("state 'Open'", "has a timeout but no on_timeout handler", "add @septum.on_timeout"),
        Problem("state 'Closed'", "label FAIL is declared twice", "remove one declaration"),
    ]
    with pytest.raises(DefinitionError, match="machine 'Breaker' has 2 problems") as info:
        DefinitionError.raise_if_any(problems, what="machine 'Breaker'")
    text = str(info.value)
    assert "state 'Open': has a timeout but no on_timeout handler. Fix: add @septum.on_timeout" in text
    assert info.value.problems == tuple(problems)
    assert isinstance(info.value, MycorrhizalError)


def test_no_problems_raises_nothing() -> None:
    DefinitionError.raise_if_any([], what="anything")


def test_runtime_errors_carry_the_element_involved() -> None:
    err = UndeclaredLabelError("state 'Open' returned undeclared label 'X'", state="Open", event="X")
    assert (err.state, err.event, err.place) == ("Open", "X", None)


@pytest.mark.parametrize(
    ("error", "text"),
    [(ValueError("bad port."), "bad port"), (OSError("bad port"), "bad port"), (KeyError("x"), "'x'")],
)
def test_reason_leaves_the_full_stop_to_the_message_that_embeds_it(error: Exception, text: str) -> None:
    assert reason(error) == text


UNREGISTERED = CodecError(
    "cannot encode a m.Board: its type is not registered. Fix: registry.register(Board)",
    type_name="m.Board",
    unregistered=True,
)
DECODER = CodecError("cannot decode a m.Board from 1: boom. Fix: check its decode=", type_name="m.Board")
DOCUMENT = CodecError("septum snapshot: machine Idle has no state 'Gone'. Fix: restore it with its machine")
BARE = CodecError("malformed pickled value: expected [type name, base64 text].")


@pytest.mark.parametrize(
    ("error", "fix", "pass_as", "text"),
    [
        # A type's codec: only the error knows what to register or check, whatever the caller says.
        (UNREGISTERED, "another fix", None, "place 'p': cannot encode a m.Board: its type is not "
         "registered. Fix: registry.register(Board)"),
        (DECODER, "another fix", None, "place 'p': cannot decode a m.Board from 1: boom. "
         "Fix: check its decode="),
        # Given no registry, the caller says how to pass one: registering in none would not reach it.
        (UNREGISTERED, None, "f(codecs=registry)", "place 'p': cannot encode a m.Board: its type is not "
         "registered. Fix: make a CodecRegistry, registry.register(Board), and pass it: f(codecs=registry)"),
        (DECODER, None, "f(codecs=registry)", "place 'p': cannot decode a m.Board from 1: boom. "
         "Fix: check its decode="),
        # A document that does not fit: the caller, knowing where it came from, has the better fix.
        (DOCUMENT, "recover with the net", None, "place 'p': septum snapshot: machine Idle has no state "
         "'Gone'. Fix: recover with the net"),
        (DOCUMENT, None, None, "place 'p': septum snapshot: machine Idle has no state 'Gone'. "
         "Fix: restore it with its machine"),
        (BARE, "pass what encode() made", None, "place 'p': malformed pickled value: expected "
         "[type name, base64 text]. Fix: pass what encode() made"),
        (BARE, None, None, "place 'p': malformed pickled value: expected [type name, base64 text]."),
    ],
)  # fmt: skip
def test_a_codec_error_said_of_the_users_element_has_one_fix(
    error: CodecError, fix: str | None, pass_as: str | None, text: str
) -> None:
    with pytest.raises(CodecError, match=f"^{re.escape(text)}$") as caught:
        raise error.at("place 'p'", fix=fix, pass_as=pass_as)
    assert str(caught.value).count("Fix:") <= 1
    assert (caught.value.type_name, caught.value.unregistered) == (error.type_name, error.unregistered)


@pytest.mark.parametrize(
    ("error", "pass_as", "text"),
    [
        # An embedder's error names its element already; only the caller knows whether to pass a registry.
        (UNREGISTERED, "f(codecs=registry)", "cannot encode a m.Board: its type is not registered. "
         "Fix: make a CodecRegistry, registry.register(Board), and pass it: f(codecs=registry)"),
        (UNREGISTERED, None, "cannot encode a m.Board: its type is not registered. "
         "Fix: registry.register(Board)"),
        (DOCUMENT, "f(codecs=registry)", "septum snapshot: machine Idle has no state 'Gone'. "
         "Fix: restore it with its machine"),
        (BARE, None, "malformed pickled value: expected [type name, base64 text]."),
    ],
)  # fmt: skip
def test_a_codec_error_that_names_its_element_already_gets_only_its_fix(
    error: CodecError, pass_as: str | None, text: str
) -> None:
    said = error.at(None, pass_as=pass_as)
    assert str(said) == text
    assert (said.type_name, said.unregistered) == (error.type_name, error.unregistered)


@pytest.mark.parametrize(
    ("said", "text"),
    [
        ("the door is jammed. Fix: oil it", "the door is jammed; it was retried. Fix: oil it"),
        ("the door is jammed", "the door is jammed; it was retried"),
    ],
)
def test_what_is_said_after_an_error_goes_before_its_fix(said: str, text: str) -> None:
    assert fix_last(said, "; it was retried") == text


@pytest.mark.parametrize(
    ("said", "text"),
    [
        ("the door is jammed. Fix: oil it", "the door is jammed; it was retried. Fix: oil it"),
        ("the door is jammed.", "the door is jammed; it was retried. Fix: kick it"),
        ("the door is jammed", "the door is jammed; it was retried. Fix: kick it"),
    ],
)
def test_an_error_without_a_fix_gets_the_one_given_otherwise(said: str, text: str) -> None:
    assert fix_last(said, "; it was retried", otherwise="kick it") == text


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (RuntimeError("the door is jammed. Fix: oil it"), "the door is jammed"),
        (RuntimeError("the door is jammed."), "the door is jammed"),
        (RuntimeError("the door is jammed"), "the door is jammed"),
    ],
)
def test_an_error_quoted_in_another_says_what_went_wrong_without_its_fix(error: Exception, text: str) -> None:
    assert problem(error) == text


def test_an_access_refusal_said_of_a_node_keeps_its_type_fields_and_cause() -> None:
    refused = AccessControlError("'Ops' may not write 'limit'. Fix: mark it readwrite", "limit", "write")
    error = refused.at("action 'tune' in tree 'T'", "tune")
    assert str(error) == "action 'tune' in tree 'T': 'Ops' may not write 'limit'. Fix: mark it readwrite"
    assert (error.field_name, error.operation, error.node) == ("limit", "write", "tune")
    assert error.__cause__ is refused
    again = pickle.loads(pickle.dumps(error))
    assert (again.field_name, again.operation, again.node) == ("limit", "write", "tune")
    assert str(again) == str(error)
    assert refused.node is None


@pytest.mark.parametrize(
    ("name", "known", "fix"),
    [
        ("doughh", ["dough", "bread"], "did you mean 'dough'? If not, look it up"),
        ("done", ["DONE", "FAIL"], "did you mean 'DONE'? If not, look it up"),  # case-blind, shown as written
        ("Done", ["DONE", "done"], "did you mean 'DONE' or 'done'? If not, look it up"),
        ("w3.inbox", ["w1.inbox", "w2.inbox"], "did you mean 'w2.inbox' or 'w1.inbox'? If not, look it up"),
        # A long shared prefix makes every sibling score high: only the nearest is offered.
        (
            "billing.Finsh",
            ["billing.Finish", "billing.Start"],
            "did you mean 'billing.Finish'? If not, look it up",
        ),
        # Sharing only an ending is not close (difflib's own cutoff, 0.6, would offer these).
        ("NowhereState", ["NotAState", "on_state"], "look it up"),
        ("oven", [], "look it up"),
        # A private name is a probe (getattr(x, "_marker", None)), never compared with the names.
        ("_nmae", ["name", "_nmae_"], "look it up"),
    ],
)
def test_did_you_mean_offers_the_nearest_known_names_or_says_where_they_are(
    name: object, known: list[object], fix: str
) -> None:
    assert did_you_mean(name, known, "look it up") == fix


# -- every refusal of common ends with its one fix -------------------------------------------------


class _Point(FrozenRecord):
    x: int


def _no_such_view_field() -> None:
    _ = ReadOnlyView({"done": 1}, {"done"}, name="Ops").secret


def _write_a_read_only_view() -> None:
    ReadOnlyView({"done": 1}, {"done"}, name="Ops").done = 2


def _read_a_write_only_view() -> None:
    _ = WriteOnlyView({"done": 1}, {"done"}, name="Ops").done


def _write_a_read_only_field() -> None:
    ConstrainedView({"done": 1, "limit": 2}, {"done", "limit"}, {"limit"}, name="Ops").limit = 3


def _read_an_unreadable_key() -> None:
    _ = BlackboardView({"count": 1, "secret": 2}, readable={"count"}, name="router")["secret"]


def _write_through_read_only() -> None:
    read_only({"count": 1}, name="validator")["count"] = 2


def _delete_through_a_view() -> None:
    del BlackboardView({"count": 1}, name="router")["count"]


def _remove_an_unknown_observer() -> None:
    Observers(logging.getLogger("mycorrhizal.test"), "machine M").remove(print)


# Each case: what the user did, the error, and the words naming the user's own thing.
REFUSALS = [
    (_no_such_view_field, AttributeError, "'Ops' has no field 'secret'"),
    (_write_a_read_only_view, AccessControlError, "'Ops' may not write 'done'"),
    (_read_a_write_only_view, AccessControlError, "'Ops' may not read 'done'"),
    (_write_a_read_only_field, AccessControlError, "'Ops' may not write 'limit'"),
    (_read_an_unreadable_key, AccessControlError, "blackboard 'router' may not read 'secret'"),
    (_write_through_read_only, AccessControlError, "blackboard 'validator' may not write 'count'"),
    (_delete_through_a_view, AccessControlError, "blackboard 'router' may not delete 'count'"),
    (lambda: ManualClock().set(math.nan), ValueError, r"ManualClock.set\(\) needs a time"),
    (lambda: ManualClock().advance(math.inf), ValueError, r"ManualClock.advance\(\) needs a delay"),
    (lambda: evolve(_Point(x=1), y=2), TypeError, r"evolve\(_Point\): no field named 'y'"),
    (lambda: fields(int), TypeError, r"fields\(<class 'int'>\): not a record class"),
    (_remove_an_unknown_observer, ValueError, "machine M: remove_observer"),
    (lambda: CodecRegistry().loads("[NaN]"), CodecError, "the document contains the non-JSON literal NaN"),
    (lambda: CodecRegistry().loads("[1"), CodecError, "the document is not valid JSON data"),
    (lambda: CodecRegistry().loads('{"codec": 0, "value": 1}'), CodecError, "malformed codec version 0"),
]


@pytest.mark.parametrize(("act", "kind", "names"), REFUSALS, ids=lambda case: getattr(case, "__name__", None))
def test_each_refusal_names_the_users_thing_and_ends_with_one_fix(
    act: Callable[[], object], kind: type[Exception], names: str
) -> None:
    # Before, these said their advice after "; " or ":" (or said none): no ". Fix: " to find it by.
    with pytest.raises(kind, match=f"^{names}") as caught:
        act()
    said = str(caught.value)
    assert said.count(". Fix: ") == 1, said
    wrong, fix = split_fix(said)
    assert wrong.strip() and fix is not None and fix.strip(), said
