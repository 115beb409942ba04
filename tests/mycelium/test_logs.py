"""A failure the net handles (retried, or sent to an error place) is one WARNING line; traceback at DEBUG."""

import logging
from typing import Any

import pytest

from mycorrhizal.mycelium import pn

from .conftest import RunNet, machine_failing_on, tree_failing_on


def key_failing_on(bad: Any) -> Any:
    def key(token: Any) -> Any:
        if token == bad:
            raise LookupError(f"no key for {bad!r}")
        return token

    return key


def net(handled_by: dict[str, Any], **embedded: Any) -> Any:
    @pn.net
    def Logged(builder):  # type: ignore[no-untyped-def]
        inbox, ok, failed = builder.place("inbox"), builder.place("ok"), builder.place("failed")
        options = {"on_error": failed} if "on_error" in handled_by else handled_by

        @builder.transition(inputs=[inbox], outputs=[ok], **options, **embedded)
        async def work(consumed, bb, timebase):  # type: ignore[no-untyped-def]
            pass

    return Logged


EMBEDDED = {
    "tree leaf raises": {"bt": tree_failing_on("bad", "ok")},
    "machine handler raises": {"fsm": machine_failing_on("bad", "ok")},
    "fsm_key raises": {"fsm": machine_failing_on(None, "ok"), "fsm_key": key_failing_on("bad")},
    "nowhere to reject": {"fsm": machine_failing_on(None, "elsewhere")},
}


HANDLED_BY = {"error place": {"on_error": True}, "retry": {"retry_delay": 1.0}}


@pytest.mark.parametrize("handled_by", list(HANDLED_BY.values()), ids=list(HANDLED_BY))
@pytest.mark.parametrize("embedded", list(EMBEDDED.values()), ids=list(EMBEDDED))
async def test_a_handled_failure_is_one_warning_line_with_the_traceback_at_debug(
    running: RunNet, caplog: pytest.LogCaptureFixture, embedded: dict[str, Any], handled_by: dict[str, Any]
) -> None:
    runner = await running(net(handled_by, **embedded))
    with caplog.at_level(logging.DEBUG, logger="mycorrhizal"):
        runner.add_token("inbox", "bad")
        await runner.run_until_idle()
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in loud)
    assert all("\n" not in r.getMessage() for r in loud)
    # (with a retry, run_until_idle also says, in one line, that the transition holds a token back)
    (failure,) = [r.getMessage() for r in loud if "failed with" in r.getMessage()]
    assert failure.startswith("transition 'Logged.work' failed with HandlerError: ")
    (traceback,) = [r for r in caplog.records if r.exc_info is not None]
    assert traceback.levelno == logging.DEBUG and failure in traceback.getMessage()
