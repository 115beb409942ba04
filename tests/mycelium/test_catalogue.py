"""Every bad mycelium definition, with the exact error it raises when the net, tree or state is defined.

Each message names the user's identifier (transition, state, action, keyword) and ends with a fix.
"""

import re
from collections.abc import Callable
from enum import Enum, auto
from typing import Any

import pytest

from mycorrhizal.common import DefinitionError
from mycorrhizal.mycelium import Action, machine_action, pn, root, state, tree, tree_state
from mycorrhizal.rhizomorph import Status, bt
from mycorrhizal.septum import LabeledTransition, Retry, StateConfiguration, septum

from .conftest import Gate, Shut, Tally


@septum.state(config=StateConfiguration(timeout=2.0))
def Warming():
    class Events(Enum):
        HOT = auto()

    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        return None

    @septum.on_timeout
    def on_timeout(ctx):  # type: ignore[no-untyped-def]
        return Events.HOT

    @septum.transitions
    def transitions():  # type: ignore[no-untyped-def]
        return [LabeledTransition(Events.HOT, Ready)]


@septum.state(config=StateConfiguration(terminal=True))
def Ready():
    pass


@septum.state(config=StateConfiguration(terminal=True))
def Elsewhere():
    pass


@bt.tree
def Check():
    @bt.action
    def ok() -> Status:
        return Status.SUCCESS

    bt.root(ok)


def net(**transition: Any) -> Any:
    """A net with one transition ``work`` from inbox to done (and 'bounced'), given these keywords."""

    @pn.net
    def Shop(builder):  # type: ignore[no-untyped-def]
        inbox, done, bounced = builder.place("inbox"), builder.place("done"), builder.place("bounced")
        options = {"inputs": [inbox], "outputs": [done], **transition}
        options = {k: (bounced if v == "<bounced>" else v) for k, v in options.items()}

        @builder.transition(**options)
        async def work(consumed, bb, timebase):  # type: ignore[no-untyped-def]
            pass

    return Shop


def in_net(*problems: str) -> str:
    plural = "problem" if len(problems) == 1 else "problems"
    return f"net 'Shop' has {len(problems)} {plural}:\n" + "\n".join(f"  - {p}" for p in problems)


def in_action(name: str, *problems: str) -> str:
    plural = "problem" if len(problems) == 1 else "problems"
    lines = "\n".join(f"  - machine_action {name!r}: {p}" for p in problems)
    return f"machine_action {name!r} has {len(problems)} {plural}:\n{lines}"


CATALOGUE: list[tuple[str, Callable[[], Any], str]] = [
    # machine_action
    (
        "succeed_in is a string",
        lambda: machine_action(Warming, succeed_in="Ready"),
        in_action(
            "run_Warming",
            "succeed_in='Ready' is a string, not a collection of states. "
            "Fix: list the states themselves: succeed_in=[Ready]",
        ),
    ),
    (
        "succeed_in is one state",
        lambda: machine_action(Warming, succeed_in=Ready),
        in_action(
            "run_Warming",
            "succeed_in=Ready is one state, not a collection of states. "
            "Fix: put it in a list: succeed_in=[Ready]",
        ),
    ),
    (
        "succeed_in lists names",
        lambda: machine_action(Warming, name="warm_up", succeed_in=["Ready"]),
        in_action(
            "warm_up", "succeed_in has 'Ready', a string, not a state. Fix: list the state Ready itself"
        ),
    ),
    (
        "succeed_in lists a state that is not terminal, and one the machine never reaches",
        lambda: machine_action(Warming, succeed_in=[Warming, Elsewhere]),
        in_action(
            "run_Warming",
            "succeed_in has Warming, which is not a terminal state: the action ends only in a terminal "
            "state. Fix: list terminal states (StateConfiguration(terminal=True))",
            "succeed_in has Elsewhere, which the machine from Warming never reaches. "
            "Fix: list terminal states this machine reaches",
        ),
    ),
    (
        "machine_action of a function",
        lambda: machine_action(lambda ctx: None),
        in_action(
            "run_<lambda>", "initial=<lambda> is not a state. Fix: pass the machine's initial @septum.state"
        ),
    ),
    (
        "machine_action with the tree's own options",
        lambda: machine_action(Warming, common_data={}),
        in_action(
            "run_Warming",
            "machine options may not set common_data: the machine uses the tree's. "
            "Fix: drop common_data from machine options; the tree passes its own",
        ),
    ),
    # tree_state
    (
        "tree_state of a number",
        lambda: tree_state(42, success=Ready, failure=Elsewhere),  # type: ignore[arg-type]
        "tree_state of 42 has 1 problem:\n"
        "  - tree_state of 42: tree=42 is not a behaviour tree. Fix: pass a @bt.tree tree",
    ),
    (
        "tree_state with a dict for config and a string hook",
        lambda: tree_state(
            Check,
            success=Ready,
            failure=Elsewhere,
            name="Checking",
            config={"timeout": 1},  # type: ignore[arg-type]
            on_enter="log",  # type: ignore[arg-type]
        ),
        "tree_state 'Checking' has 2 problems:\n"
        "  - tree_state 'Checking': config={'timeout': 1} is not a StateConfiguration. "
        "Fix: pass StateConfiguration(...)\n"
        "  - tree_state 'Checking': on_enter='log' is not callable. "
        "Fix: pass a function on_enter(ctx), sync or async",
    ),
    (
        "tree_state with retries, which it has no on_fail for",
        lambda: tree_state(
            Check, success=Ready, failure=Retry, name="Checking", config=StateConfiguration(retries=3)
        ),
        "tree_state 'Checking' has 1 problem:\n"
        "  - tree_state 'Checking': config has retries=3, but a tree_state has no on_fail handler to say "
        "where to go once they run out. Fix: leave retries out (failure=Retry then runs the tree again "
        "until it succeeds), or bound the attempts inside the tree with bt.retry(3)",
    ),
    # fsm= transitions
    (
        "fsm_key is a string",
        lambda: net(fsm=Tally, outputs=["done"], fsm_key="backend"),
        in_net(
            "transition 'work': fsm_key='backend' is not callable. Fix: pass a function of the token that "
            "returns its machine's key, e.g. fsm_key=lambda token: token['backend']"
        ),
    ),
    (
        "fsm_key takes no token",
        lambda: net(fsm=Tally, fsm_key=lambda: "all"),
        in_net(
            "transition 'work': fsm_key=<lambda> cannot be called with one token. "
            "Fix: give it exactly one required parameter, the token"
        ),
    ),
    (
        "fsm_idle_ttl and fsm_max_machines out of range",
        lambda: net(fsm=Tally, fsm_key=str, fsm_idle_ttl=0, fsm_max_machines=2.5),
        in_net(
            "transition 'work': fsm_idle_ttl=0 is not a positive number of seconds. "
            "Fix: give how long a machine at rest is kept after its last token, e.g. fsm_idle_ttl=300",
            "transition 'work': fsm_max_machines=2.5 is not a whole number >= 1. "
            "Fix: give the most machines to keep, e.g. fsm_max_machines=10_000",
        ),
    ),
    (
        "fsm_idle_ttl as a string",
        lambda: net(fsm=Tally, fsm_key=str, fsm_idle_ttl="5m"),
        in_net(
            "transition 'work': fsm_idle_ttl='5m' is not a positive number of seconds. "
            "Fix: give how long a machine at rest is kept after its last token, e.g. fsm_idle_ttl=300",
        ),
    ),
    (
        "eviction without fsm_key",
        lambda: net(fsm=Tally, fsm_idle_ttl=60, fsm_max_machines=10),
        in_net(
            "transition 'work': fsm_idle_ttl, fsm_max_machines only apply to machines kept per fsm_key; "
            "without it the transition has one machine. "
            "Fix: add fsm_key=<function of the token>, or drop them"
        ),
    ),
    (
        "fsm_idle_ttl when the initial state has a timeout",
        lambda: net(fsm=Gate, outputs=["done"], fsm_key=str, fsm_idle_ttl=60),
        in_net(
            "transition 'work': fsm_idle_ttl=60, but the initial state Gate has timeout=5.0, so a machine is "
            "never at rest in it. Fix: declare fsm_idle_states=[the states without a timeout where a machine "
            "may be evicted]"
        ),
    ),
    (
        "fsm_idle_states with a timeout, without fsm_idle_ttl",
        lambda: net(fsm=Gate, fsm_key=str, fsm_idle_states=[Shut]),
        in_net(
            "transition 'work': fsm_idle_states has Shut, which has timeout=5.0: a machine waiting for its "
            "timeout is never at rest. Fix: list only states without a timeout",
            "transition 'work': fsm_idle_states only matters with fsm_idle_ttl (fsm_max_machines evicts "
            "whatever the state). Fix: add fsm_idle_ttl=<seconds>, or drop fsm_idle_states",
        ),
    ),
    (
        "fsm_idle_states names a state by its name",
        lambda: net(fsm=Tally, fsm_key=str, fsm_idle_ttl=60, fsm_idle_states=["Tally", Ready]),
        in_net(
            "transition 'work': fsm_idle_states has 'Tally', a string, not a state. "
            "Fix: list the state Tally itself",
        ),
    ),
    (
        "fsm_idle_states: a state the machine never reaches",
        lambda: net(fsm=Tally, fsm_key=str, fsm_idle_ttl=60, fsm_idle_states=[Tally, Ready]),
        in_net(
            "transition 'work': fsm_idle_states has Ready, which the machine never reaches. "
            "Fix: list states of this machine"
        ),
    ),
    (
        "fsm_idle_states is one state",
        lambda: net(fsm=Tally, fsm_key=str, fsm_idle_ttl=60, fsm_idle_states=Tally),
        in_net(
            "transition 'work': fsm_idle_states=Tally is one state, not a collection of states. "
            "Fix: put it in a list: fsm_idle_states=[Tally]"
        ),
    ),
    (
        "fsm_options with the net's own blackboard",
        lambda: net(fsm=Tally, fsm_options={"common_data": {}}),
        in_net(
            "transition 'work' fsm: fsm_options may not set common_data: the machine uses the net's. "
            "Fix: drop common_data from fsm_options; the net passes its own"
        ),
    ),
    (
        "machine keywords on a plain transition",
        lambda: net(fsm_key=str, fsm_idle_ttl=60, rejected="<bounced>"),
        in_net(
            "transition 'work': fsm_key, fsm_idle_ttl, rejected only apply to a transition with bt= or fsm=. "
            "Fix: add bt=<tree> or fsm=<initial state>, or drop those keywords"
        ),
    ),
    # bt= and fsm= alike
    (
        "both a tree and a machine",
        lambda: net(bt=Check, fsm=Tally),
        in_net("transition 'work': has both bt= and fsm=. Fix: embed one of them per transition"),
    ),
    (
        "a tree that is not a tree, in an unknown mode",
        lambda: net(bt="Check", bt_mode="each"),
        in_net(
            "transition 'work': bt='Check' is not a behaviour tree. Fix: pass a @bt.tree tree",
            "transition 'work': bt_mode='each' is unknown. Fix: use 'token' or 'batch'",
        ),
    ),
    (
        "a machine that is not a state",
        lambda: net(fsm=42),
        in_net("transition 'work': fsm=42 is not a state. Fix: pass the machine's initial @septum.state"),
    ),
    (
        "no outputs",
        lambda: net(bt=Check, outputs=[]),
        in_net("transition 'work': has no outputs to route tokens to. Fix: declare outputs=[place, ...]"),
    ),
    (
        "a weighted output",
        lambda: net(bt=Check, outputs=[("done", 2)]),
        in_net(
            "transition 'work': output ('done', 2) has a weight. "
            "Fix: list plain places: the tree or machine routes one token at a time"
        ),
    ),
    (
        "rejected is also an output",
        lambda: net(bt=Check, outputs=["done"], rejected="done"),
        in_net("transition 'work': rejected='done' is also an output. Fix: use a separate place"),
    ),
    # 0.x's forms (docs/compat.md)
    (
        "machine keywords on a machine that is only drawn (the body yields its outputs)",
        lambda: drawn_net(fsm_key=lambda token: token, rejected="<bounced>"),
        in_net(
            "transition 'work': fsm_key, rejected only apply when the machine routes the tokens, but the "
            "body yields the outputs itself (so the machine is only drawn). Fix: write the body as a hook "
            "that returns None and route with ctx.msg.route(...), or drop them"
        ),
    ),
    (
        "Action outside @tree",
        lambda: Action(lambda bb, tb: Status.SUCCESS),
        "Action has 1 problem:\n"
        "  - Action: is used outside a @tree function. Fix: declare it inside a @tree function",
    ),
    (
        "a @tree without a root",
        lambda: tree(lambda: None),
        "tree '<lambda>' has 1 problem:\n  - tree '<lambda>': declares no root. "
        "Fix: mark exactly one node with @bt.root",
    ),
    (
        "Action(fsm=...) with two parameters, and fsm= not a state",
        lambda: tree(fsm_actions),
        "tree 'fsm_actions' has 2 problems:\n"
        "  - Action 'two': with fsm= it is called as two(bb, tb, fsm_runner), but takes 2 argument(s). "
        "Fix: define it as `async def two(bb, tb, fsm_runner)`\n"
        "  - Action 'named': fsm='Warming' is not a state. Fix: pass the initial @septum.state",
    ),
    (
        "state(bt=...) with something that is not a tree",
        lambda: state(bt=42),
        "@state(bt=42) has 1 problem:\n"
        "  - @state(bt=42): bt=42 is not a behaviour tree. Fix: pass a @bt.tree tree",
    ),
]


def drawn_net(**transition: Any) -> Any:
    """A net whose transition ``work`` has fsm=Tally and a body yielding its outputs, given these keywords."""

    @pn.net
    def Shop(builder):  # type: ignore[no-untyped-def]
        inbox, done, bounced = builder.place("inbox"), builder.place("done"), builder.place("bounced")
        options = {"inputs": [inbox], "outputs": [done], **transition}
        options = {k: (bounced if v == "<bounced>" else v) for k, v in options.items()}

        @builder.transition(fsm=Tally, **options)
        async def work(consumed, bb, timebase):  # type: ignore[no-untyped-def]
            yield {done: consumed[0]}

    return Shop


def fsm_actions() -> None:
    """A @tree body with two bad Action(fsm=...) leaves."""

    @Action(fsm=Warming)
    async def two(bb, tb):  # type: ignore[no-untyped-def]
        return Status.SUCCESS

    @Action(fsm="Warming")  # type: ignore[arg-type]
    async def named(bb, tb, fsm_runner):  # type: ignore[no-untyped-def]
        return Status.SUCCESS

    root(bt.sequence(two, named))


@pytest.mark.parametrize(("define", "message"), [c[1:] for c in CATALOGUE], ids=[c[0] for c in CATALOGUE])
def test_bad_definition(define: Callable[[], Any], message: str) -> None:
    with pytest.raises(DefinitionError, match=re.escape(message)) as info:
        define()
    assert str(info.value) == message


@pytest.mark.parametrize(("define", "message"), [c[1:] for c in CATALOGUE], ids=[c[0] for c in CATALOGUE])
def test_every_problem_ends_with_a_fix(define: Callable[[], Any], message: str) -> None:
    with pytest.raises(DefinitionError, match=re.escape(message)) as info:
        define()
    assert all(problem.fix and not problem.fix.endswith(".") for problem in info.value.problems)
