"""A transition call form never applied to its function declares nothing: with ``fsm=`` or ``bt=`` the
body is often empty, so forgetting it is easy, and the net must say so instead of running without it."""

import pytest

from mycorrhizal.common import DefinitionError
from mycorrhizal.mycelium import pn

from .conftest import Tally


def test_an_fsm_transition_never_applied_to_a_function_is_a_definition_error() -> None:
    with pytest.raises(
        DefinitionError,
        match=r"transition 'count': builder\.transition\(\.\.\.\) was called but never applied",
    ) as info:

        @pn.net
        def Forgotten(builder):  # type: ignore[no-untyped-def]
            inbox, done = builder.place("inbox"), builder.place("done")
            builder.transition(name="count", fsm=Tally, inputs=[inbox], outputs=[done])

    assert [str(p) for p in info.value.problems] == [
        "transition 'count': builder.transition(...) was called but never applied to a function, so nothing "
        "was declared. Fix: put @builder.transition(...) above the function, or call it with the function: "
        "builder.transition(...)(fn)"
    ]
