"""The circuit-breaker seed document's snippets, run as written where they are Python.

The document (copied byte for byte next to this file) sketches the design that
examples/mycelium/circuit_breaker_handler.py implements.  Its first snippet declares the breaker's
states and runs as written; its second is a sketch whose functions have only comments for bodies,
which is not Python; its last two show the ``fsm=``/``bt=`` transition forms with ``outputs=[...]``
placeholders, which run inside a net body and are refused there by name, saying what to write.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from mycorrhizal.common import DefinitionError
from mycorrhizal.mycelium import pn
from mycorrhizal.rhizomorph import Status, bt
from mycorrhizal.septum import StateConfiguration, septum

SEED = Path(__file__).with_name("circuit-breaker-example.md")
BLOCKS = re.findall(r"^```python\n(.*?)^```", SEED.read_text(encoding="utf-8"), re.DOTALL | re.MULTILINE)


def test_the_document_has_the_expected_snippets() -> None:
    assert len(BLOCKS) == 4


def test_the_breaker_states_run_as_written() -> None:
    namespace: dict[str, Any] = {"septum": septum, "StateConfiguration": StateConfiguration}
    exec(BLOCKS[0], namespace)
    assert namespace["CircuitBreakerClosed"].config.timeout is None
    assert namespace["CircuitBreakerOpen"].config.timeout == 5.0
    assert namespace["CircuitBreakerHalfOpen"].config.timeout == 5.0


def test_the_orchestrator_sketch_is_not_python() -> None:
    # Its transitions' bodies are comments only ("# Filter invalid requests"): a sketch, which the
    # example implements; nothing could run it as written.
    with pytest.raises(SyntaxError, match="expected an indented block"):
        compile(BLOCKS[1], "circuit-breaker-example.md", "exec")


@septum.state(config=StateConfiguration(terminal=True))
def Settled() -> None:
    """The machine the sketch's CircuitBreakerFSM stands for."""


@bt.tree
def Approve() -> Any:
    @bt.action
    def approve(bb: Any) -> Status:
        return Status.SUCCESS

    @bt.root
    @bt.sequence
    def root() -> Any:
        yield approve


@pytest.mark.parametrize(
    ("block", "transition"), [(2, "route_through_circuit_breaker"), (3, "process")], ids=["fsm=", "bt="]
)
def test_a_transition_sketched_with_outputs_placeholder_is_refused(block: int, transition: str) -> None:
    def body(builder: Any) -> None:
        inbox = builder.place("inbox")
        names = {"builder": builder, "CircuitBreakerFSM": Settled, "MyBehaviorTree": Approve}
        exec(BLOCKS[block], names)
        builder.arc(inbox, names[transition])

    with pytest.raises(
        DefinitionError,
        match=rf"transition '{transition}': outputs=\[\.\.\.\] holds the placeholder '\.\.\.', not a place\. "
        r"Fix: name the places: outputs=\[place, \.\.\.\]",
    ) as refused:
        pn.net(body)
    assert len(refused.value.problems) == 1  # the placeholder, and nothing said twice about it
