import pytest

from mycorrhizal.common import DefinitionError, MycorrhizalError, Problem, UndeclaredLabelError
from mycorrhizal.common.errors import reason


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
