"""Observers: what an attached observer that does nothing adds to a step, on the shapes programs have.

Every workload runs unobserved and with ``add_observer(fn)``, ``fn`` a plain function that does
nothing and asks for no record told on request, in the same interleaved rounds; the added cost is
the observed minus the unobserved figure, round by round (microseconds per transition or firing):

* FSM, entry run -> self-transition: ``await fsm.tick()`` on a state whose ``on_state`` returns the
  label of a self-transition (spores_bench's machine; one record, ``StateEntered``).
* FSM, message -> self-transition: ``send_message(i)`` + ``await run()`` (septum_bench's 5-state
  machine: the message's handler returns LOOP, the entry run after it nothing; one record,
  ``StateEntered`` naming the message: ``MessageHandled`` is told on request when a transition
  follows).
* FSM, guarded self-transition: ``await fsm.tick()``, the transition's guard passes (septum_bench's).
* statechart, transition 3 levels deep: ``await fsm.tick()`` between two leaves inside three
  compound states (septum_bench's; one record, ``StateEntered``: the source's ``StateLeft`` is told
  on request, as in a flat machine).
* PN, firing producing nothing: ``inbox -> consume`` (spores_bench's net), ``n`` tokens added, then
  ``await runner.run_until_idle()``.
* PN, async handler -> one token / plain def handler -> one token: hypha_bench's
  ``source -> produce -> queue -> consume -> sink``, every firing handing its token on.

The peers' equivalent, in the same rounds, on the message workload (septum_bench's machines of
python-statemachine and transitions, ``send("loop")`` / ``trigger("loop")`` per message), each
unobserved and with the library's documented hook run on every transition, doing nothing:

* python-statemachine: a listener (``listeners=[obj]`` at construction) whose ``after_transition``
  asks for no argument and does nothing; rows "python-statemachine, unobserved", "python-statemachine,
  do-nothing listener" and "python-statemachine, added by the listener".
* transitions: ``AsyncMachine(after_state_change=fn)``, ``fn`` a plain function that does nothing;
  rows "transitions, unobserved", "transitions, do-nothing after_state_change" and "transitions,
  added by after_state_change".

Both libraries' async engines run their callbacks through ``asyncio.gather``, so a plain ``def`` hook
is wrapped in a coroutine and becomes a task of its own per transition.  py_trees is left out (trees
are not in this target), SNAKES too (it has no hook).

Target (issue 11): an attached observer that does nothing adds at most 0.3 µs per FSM transition or
PN firing; the peers' added rows have no target.  Run ``python benchmarks/observer_bench.py``
(``--quick`` for a smoke run, ``--help`` for options).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import _septum_charts as charts
import hypha_bench
import septum_bench
import spores_bench
from _harness import Case, Derived, Row, Settings, run_benchmark

TARGET_US = 0.3  # issue 11: added per FSM transition / PN firing by an observer that does nothing

UNOBSERVED = "unobserved"
OBSERVED = "do-nothing observer"
ADDED = "added by the observer"

FSM_TICK = "FSM, entry run -> self-transition"
FSM_MESSAGE = "FSM, message -> self-transition"
FSM_GUARDED = "FSM, guarded self-transition"
CHART = "statechart, transition 3 levels deep"
PN_NOTHING = "PN, firing producing nothing"
PN_ASYNC = "PN, async handler -> one token"
PN_PLAIN = "PN, plain def handler -> one token"
WORKLOADS = (FSM_TICK, FSM_MESSAGE, FSM_GUARDED, CHART, PN_NOTHING, PN_ASYNC, PN_PLAIN)

PSM, TRANSITIONS = septum_bench.PSM, septum_bench.TRANSITIONS
PSM_UNOBSERVED = f"{PSM}, {UNOBSERVED}"
PSM_OBSERVED = f"{PSM}, do-nothing listener"
PSM_ADDED = f"{PSM}, added by the listener"
TRANSITIONS_UNOBSERVED = f"{TRANSITIONS}, {UNOBSERVED}"
TRANSITIONS_OBSERVED = f"{TRANSITIONS}, do-nothing after_state_change"
TRANSITIONS_ADDED = f"{TRANSITIONS}, added by after_state_change"


def nothing(event: Any) -> None:
    """The observer that does nothing (and asks for nothing told on request)."""


class NothingListener:
    """python-statemachine's listener that does nothing, after every transition."""

    def after_transition(self) -> None:
        """Asks for nothing: python-statemachine passes a callback only the parameters it names."""


def nothing_after() -> None:
    """transitions' ``after_state_change`` that does nothing (a trigger without arguments passes none)."""


def _watched(runtime: Any, contender: str) -> Any:
    if contender == OBSERVED:
        runtime.add_observer(nothing)
    return runtime


def tick_case(contender: str, workload: str, spec: Any) -> Case:
    """``await fsm.tick()`` per transition."""
    setup, ticks = charts.ticks_of(spec, lambda machine: True, partial(_watched, contender=contender))
    return Case(contender, workload, ticks, setup=setup)


def message_case(contender: str) -> Case:
    """``send_message`` + ``await run()`` per message (one transition each)."""
    watch = partial(_watched, contender=contender)
    return septum_bench.septum_message_case(contender, FSM_MESSAGE, watch)


def net_case(contender: str, workload: str, make: Callable[[], Any], place: str, per_token: int) -> Case:
    """``n`` firings: ``n / per_token`` tokens added to ``place``, then ``run_until_idle()``."""
    box: list[Any] = []

    async def setup() -> None:
        from mycorrhizal.hypha import Runner

        runner = _watched(Runner(make(), spores_bench.Board()), contender)
        await runner.start()
        box.append(runner)

    async def run(n: int) -> float:
        runner = box[0]
        tokens = max(1, n // per_token)
        runner.add_tokens(place, range(tokens))
        start = spores_bench.clock()
        await runner.run_until_idle()
        return (spores_bench.clock() - start) * n / (tokens * per_token)

    async def teardown() -> None:
        await box[0].stop()

    return Case(contender, workload, run, self_timed=True, setup=setup, teardown=teardown)


def cases(settings: Settings) -> Sequence[Case]:
    made: list[Case] = []
    for contender in (UNOBSERVED, OBSERVED):
        made += [
            tick_case(contender, FSM_TICK, spores_bench.machine_spec(False)),
            message_case(contender),
            tick_case(contender, FSM_GUARDED, charts.guarded_septum()),
            tick_case(contender, CHART, charts.nested_septum()),
            net_case(contender, PN_NOTHING, lambda: spores_bench.net_spec(False), "inbox", 1),
            net_case(contender, PN_ASYNC, lambda: hypha_bench.hypha_chain(2), "source", 2),
            net_case(contender, PN_PLAIN, lambda: hypha_bench.hypha_chain(2, plain=True), "source", 2),
        ]
    return [*made, *peer_cases()]


def peer_cases() -> list[Case]:
    """The message workload on septum_bench's peer machines, unobserved and with a do-nothing hook."""
    return [
        septum_bench.python_statemachine_message_case(PSM_UNOBSERVED, FSM_MESSAGE),
        septum_bench.python_statemachine_message_case(PSM_OBSERVED, FSM_MESSAGE, [NothingListener()]),
        septum_bench.transitions_message_case(TRANSITIONS_UNOBSERVED, FSM_MESSAGE),
        septum_bench.transitions_message_case(TRANSITIONS_OBSERVED, FSM_MESSAGE, nothing_after),
    ]


DERIVED = [
    Derived(ADDED, workload, (OBSERVED, workload), (UNOBSERVED, workload), target=TARGET_US)
    for workload in WORKLOADS
]
DERIVED += [
    Derived(PSM_ADDED, FSM_MESSAGE, (PSM_OBSERVED, FSM_MESSAGE), (PSM_UNOBSERVED, FSM_MESSAGE)),
    Derived(
        TRANSITIONS_ADDED,
        FSM_MESSAGE,
        (TRANSITIONS_OBSERVED, FSM_MESSAGE),
        (TRANSITIONS_UNOBSERVED, FSM_MESSAGE),
    ),
]


def main(argv: Sequence[str] | None = None) -> list[Row]:
    """Measure every case and print the table; returns the rows for callers and tests."""
    return run_benchmark(
        argv,
        __doc__,
        name="observer",
        peers=(PSM, TRANSITIONS),
        cases=cases,
        derived=DERIVED,
        unit=", microseconds per transition or firing",
    )


if __name__ == "__main__":
    main()
