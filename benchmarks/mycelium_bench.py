"""Composition: a state machine (and a behaviour tree) inside a Petri-net transition, per token.

Workload (issues 5 and 16), every contender in the same interleaved rounds: the net
``inbox -> route -> even | odd``.  n tokens (the ints 0..n-1; 20,000 per sample for mycorrhizal and
the floor, fewer for the slower peers: the cost per token does not depend on n) are put in ``inbox``
and the timed ``await runner.run_until_idle()`` fires ``route`` once per token; each firing routes
its token to ``even`` or ``odd`` by its parity.  The figure is microseconds per token; "overhead
over floor" is that figure minus the floor's of the same round, i.e. what delivering the token to
the embedded machine or tree, its step and the routing add to a plain firing.

* floor: a plain hypha transition whose handler routes the token itself (``{even or odd: token}``):
  one firing, no machine. Every other contender is this net plus its machine or tree.
* mycorrhizal FSM-in-PN: ``@builder.transition(fsm=Routing, outputs=[even, odd])``. The machine's one
  state handles each delivered token (``ctx.msg.route(...)``) and returns the label ``ROUTED``, a
  labelled self-transition ``Routing -> Routing``: a real step (leave, enter, entry run) per token.
  Target (issues 5 and 16): <= 5 us of overhead per token over the floor.
* mycorrhizal BT-in-PN: ``bt=RouteTree, bt_mode="token"``, a sequence of a condition (the token is
  an int) and an action routing it: a fresh tree run per token.  Target (issue 16): <= 6 us of
  overhead per token over the floor.
* python-statemachine / transitions: what a user would otherwise build - a plain hypha transition
  whose handler keeps one machine in ``ctx.memory``, sends it a ``loop`` event per token (a
  self-transition on its one state ``routing``) whose action picks the output, and returns
  ``{output: token}``. Their callbacks are plain functions, so python-statemachine runs its sync
  engine and transitions its plain ``Machine``: the faster choice for each.
* py_trees: the same for a tree: a plain transition keeps one py_trees tree (the same
  ``sequence(is_int, route)``) in ``ctx.memory``, puts the token where its leaves read it, calls
  ``root.tick_once()`` and returns ``{output: token}``.
* septum by hand (for information): the same plain transition driving a ``StateMachine`` of the same
  ``Routing`` state by hand (``send_message`` + ``run``), so the mycelium row minus this row is what
  mycelium's own plumbing (delivery, routing checks, commit) costs.
* rhizomorph by hand (for information): the same ``RouteTree`` ticked by hand (one ``Runner`` kept
  in ``ctx.memory``, ``await runner.tick()`` per token), the BT-in-PN counterpart of the row above.

How the workloads are kept equivalent: every contender's user code per token is one plain (non-async)
function deciding the output by parity, run inside the machine's step (or the tree's action, or the
floor's handler); every net has ``concurrency=1`` (one token at a time through a stateful object,
which mycelium sets for ``fsm=`` itself) and no handler awaits, so hypha fires each one inline. After
each sample the ``even``/``odd`` places must hold exactly the even/odd tokens, in order.

Run ``python benchmarks/mycelium_bench.py`` (``--quick`` for a smoke run, ``--help`` for options).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from enum import Enum, auto
from typing import Any

from _harness import Case, Derived, Row, Settings, run_benchmark

TARGET_FSM_US = 5.0  # issues 5 and 16: FSM-in-PN overhead per token (deliver + FSM step + route)
TARGET_BT_US = 6.0  # issue 16: BT-in-PN overhead per token

TOKENS = 20_000  # per sample for mycorrhizal and the floor
# The peers cost 10-100x more per token (python-statemachine ~0.2 ms): fewer tokens time them just as
# precisely (their cost per token does not depend on n) and keep a round near a second.
PEER_TOKENS = {"python-statemachine": 1_000, "transitions": 5_000, "py_trees": 5_000}

WORKLOAD_FLOOR = "plain transition routes token"
WORKLOAD_FSM = "FSM-in-PN per token"
WORKLOAD_BT = "BT-in-PN per token"
WORKLOAD_DRIVEN = "machine driven in plain transition"
WORKLOAD_TREE = "tree driven in plain transition"
WORKLOAD_HAND = "septum driven in plain transition"
WORKLOAD_HAND_BT = "rhizomorph driven in plain transition"
OVERHEAD = "overhead over floor"

MYCORRHIZAL, PSM, TRANSITIONS, PY_TREES, FLOOR = (
    "mycorrhizal",
    "python-statemachine",
    "transitions",
    "py_trees",
    "floor",
)


def output_for(token: int) -> str:
    """The user's decision, the same for every contender: even tokens to ``even``, odd to ``odd``."""
    return "odd" if token & 1 else "even"


def _tokens(settings: Settings, full: int = TOKENS) -> int:
    return settings.scale(full, 200)


# --- the nets ------------------------------------------------------------------------------------

Attach = Callable[[Any, Any, Any, Any], None]  # (builder, inbox, even, odd) -> declares ``route``


def routing_net(name: str, attach: Attach, *, mycelium: bool = False) -> Any:
    """``inbox -> route -> even | odd``; ``attach`` declares the transition ``route``."""
    if mycelium:
        from mycorrhizal.mycelium import pn
    else:
        from mycorrhizal.hypha import pn

    def body(builder: Any) -> None:
        inbox, even, odd = builder.place("inbox"), builder.place("even"), builder.place("odd")
        attach(builder, inbox, even, odd)

    return pn.net(body, name=name)


def routing_case(contender: str, workload: str, net: Any, tokens: int, **options: Any) -> Case:
    """Route ``n`` tokens through ``net`` per sample (timed: ``run_until_idle``), and check them."""
    from mycorrhizal.hypha import Runner

    async def run(n: int) -> float:
        runner = Runner(net, {})
        runner.add_tokens("inbox", range(n))
        start = time.perf_counter()
        await runner.run_until_idle()
        elapsed = time.perf_counter() - start
        await runner.stop()
        routed = (runner.tokens("even"), runner.tokens("odd"))
        assert routed == (tuple(range(0, n, 2)), tuple(range(1, n, 2))), f"{net}: tokens lost or misrouted"
        assert runner.stats.firings == n, f"{net}: {runner.stats.firings} firings for {n} tokens"
        return elapsed

    return Case(contender, workload, run, ops=tokens, self_timed=True, **options)


# --- floor ---------------------------------------------------------------------------------------


def floor_net() -> Any:
    def attach(builder: Any, inbox: Any, even: Any, odd: Any) -> None:
        @builder.transition(inputs=[inbox], outputs=[even, odd], concurrency=1)
        def route(consumed: Any, bb: Any, timebase: Any) -> dict[str, Any]:
            token = consumed[0]
            return {output_for(token): token}

    return routing_net("Floor", attach)


# --- mycorrhizal: FSM-in-PN, BT-in-PN, septum and rhizomorph by hand -------------------------------


def routing_state() -> Any:
    """The embedded machine: one state that routes each delivered token and re-enters itself."""
    from mycorrhizal.septum import LabeledTransition, septum

    @septum.state
    def Routing() -> None:
        class Events(Enum):
            ROUTED = auto()

        @septum.on_state
        def on_state(ctx: Any) -> Any:
            delivery = ctx.msg
            if delivery is None:
                return None  # the entry run after the self-transition: wait for the next token
            delivery.route(output_for(delivery.token))
            return Events.ROUTED

        @septum.transitions
        def transitions() -> list[Any]:
            return [LabeledTransition(Events.ROUTED, Routing)]

    return Routing


def fsm_net() -> Any:
    state = routing_state()

    def attach(builder: Any, inbox: Any, even: Any, odd: Any) -> None:
        @builder.transition(fsm=state, inputs=[inbox], outputs=[even, odd])
        def route(consumed: Any, bb: Any, timebase: Any) -> None:
            pass

    return routing_net("FsmInPn", attach, mycelium=True)


def route_tree() -> Any:
    """The embedded tree: ``sequence(is_int, route)``, run once per token."""
    from mycorrhizal.rhizomorph import Status, bt

    @bt.tree
    def RouteTree() -> None:
        @bt.condition
        def is_int(ctx: Any) -> bool:
            return isinstance(ctx.token, int)

        @bt.action
        def route(ctx: Any) -> Any:
            ctx.route(output_for(ctx.token))
            return Status.SUCCESS

        @bt.root
        @bt.sequence
        def decide() -> Any:
            yield is_int
            yield route

    return RouteTree


def bt_net() -> Any:
    tree = route_tree()

    def attach(builder: Any, inbox: Any, even: Any, odd: Any) -> None:
        @builder.transition(bt=tree, bt_mode="token", inputs=[inbox], outputs=[even, odd], concurrency=1)
        def route(consumed: Any, bb: Any, timebase: Any) -> None:
            pass

    return routing_net("BtInPn", attach, mycelium=True)


class _Decision:
    """What the hand-driven machine or tree receives: the token and, after its step, its output."""

    __slots__ = ("token", "output")

    def __init__(self, token: int) -> None:
        self.token = token
        self.output: str | None = None

    def route(self, output: str) -> None:
        self.output = output


def septum_by_hand_net() -> Any:
    from mycorrhizal.septum import StateMachine

    state = routing_state()

    def attach(builder: Any, inbox: Any, even: Any, odd: Any) -> None:
        @builder.transition(inputs=[inbox], outputs=[even, odd], concurrency=1)
        async def route(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> dict[str, Any]:
            machine = ctx.memory.get("machine")
            if machine is None:
                machine = ctx.memory["machine"] = StateMachine(state, common_data=bb, timebase=timebase)
                await machine.run()
            decision = _Decision(consumed[0])
            machine.send_message(decision)
            await machine.run()
            return {decision.output: decision.token}

    return routing_net("SeptumByHand", attach)


def rhizomorph_by_hand_net() -> Any:
    from mycorrhizal.rhizomorph import Runner, Status

    tree = route_tree()

    def attach(builder: Any, inbox: Any, even: Any, odd: Any) -> None:
        @builder.transition(inputs=[inbox], outputs=[even, odd], concurrency=1)
        async def route(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> dict[str, Any]:
            runner = ctx.memory.get("runner")
            if runner is None:
                runner = ctx.memory["runner"] = Runner(tree, bb, timebase)
            decision = runner.ctx = _Decision(consumed[0])
            status = await runner.tick()
            assert status is Status.SUCCESS
            return {decision.output: decision.token}

    return routing_net("RhizomorphByHand", attach)


def mycorrhizal_cases(settings: Settings) -> list[Case]:
    tokens = _tokens(settings)
    note = "the same Routing state; mycelium's own plumbing is the FSM-in-PN row minus this one"
    note_bt = "the same RouteTree; mycelium's own plumbing is the BT-in-PN row minus this one"
    return [
        routing_case(MYCORRHIZAL, WORKLOAD_FSM, fsm_net(), tokens),
        routing_case(MYCORRHIZAL, WORKLOAD_BT, bt_net(), tokens),
        routing_case(MYCORRHIZAL, WORKLOAD_HAND, septum_by_hand_net(), tokens, note=note),
        routing_case(MYCORRHIZAL, WORKLOAD_HAND_BT, rhizomorph_by_hand_net(), tokens, note=note_bt),
    ]


# --- python-statemachine -------------------------------------------------------------------------


def python_statemachine_net() -> Any:
    from statemachine import State, StateMachine

    class Router(StateMachine):  # type: ignore[misc]
        routing = State(initial=True)
        loop = routing.to.itself()

        def on_loop(self, token: int) -> None:
            self.output = output_for(token)

    def attach(builder: Any, inbox: Any, even: Any, odd: Any) -> None:
        @builder.transition(inputs=[inbox], outputs=[even, odd], concurrency=1)
        def route(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> dict[str, Any]:
            machine = ctx.memory.get("machine")
            if machine is None:
                machine = ctx.memory["machine"] = Router()
            token = consumed[0]
            machine.loop(token=token)
            return {machine.output: token}

    return routing_net("PythonStatemachine", attach)


# --- transitions ---------------------------------------------------------------------------------


def transitions_net() -> Any:
    from transitions import Machine

    class Router:
        def __init__(self) -> None:
            self.output = ""
            Machine(
                model=self,
                states=["routing"],
                transitions=[{"trigger": "loop", "source": "routing", "dest": "routing", "after": "decide"}],
                initial="routing",
            )

        def decide(self, token: int) -> None:
            self.output = output_for(token)

    def attach(builder: Any, inbox: Any, even: Any, odd: Any) -> None:
        @builder.transition(inputs=[inbox], outputs=[even, odd], concurrency=1)
        def route(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> dict[str, Any]:
            machine = ctx.memory.get("machine")
            if machine is None:
                machine = ctx.memory["machine"] = Router()
            token = consumed[0]
            machine.loop(token)  # type: ignore[attr-defined]
            return {machine.output: token}

    return routing_net("Transitions", attach)


# --- py_trees ------------------------------------------------------------------------------------


def py_trees_net() -> Any:
    import py_trees

    success, failure = py_trees.common.Status.SUCCESS, py_trees.common.Status.FAILURE

    class IsInt(py_trees.behaviour.Behaviour):  # type: ignore[misc]
        def __init__(self, decision: list[_Decision]) -> None:
            super().__init__("is_int")
            self.decision = decision

        def update(self) -> Any:
            return success if isinstance(self.decision[0].token, int) else failure

    class Route(py_trees.behaviour.Behaviour):  # type: ignore[misc]
        def __init__(self, decision: list[_Decision]) -> None:
            super().__init__("route")
            self.decision = decision

        def update(self) -> Any:
            decision = self.decision[0]
            decision.route(output_for(decision.token))
            return success

    def make_tree() -> tuple[Any, list[_Decision]]:
        holder: list[_Decision] = []  # where the leaves find the token of the current firing
        root = py_trees.composites.Sequence("decide", memory=True, children=[IsInt(holder), Route(holder)])
        return root, holder

    def attach(builder: Any, inbox: Any, even: Any, odd: Any) -> None:
        @builder.transition(inputs=[inbox], outputs=[even, odd], concurrency=1)
        def route(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> dict[str, Any]:
            tree = ctx.memory.get("tree")
            if tree is None:
                tree = ctx.memory["tree"] = make_tree()
            root, holder = tree
            decision = _Decision(consumed[0])
            holder[:] = [decision]
            root.tick_once()
            assert root.status == success
            return {decision.output: decision.token}

    return routing_net("PyTrees", attach)


def peer_cases(settings: Settings) -> list[Case]:
    cases = []
    for name, workload, make in (
        (PSM, WORKLOAD_DRIVEN, python_statemachine_net),
        (TRANSITIONS, WORKLOAD_DRIVEN, transitions_net),
        (PY_TREES, WORKLOAD_TREE, py_trees_net),
    ):
        tokens = _tokens(settings, PEER_TOKENS[name])
        cases.append(routing_case(name, workload, make(), tokens, note=f"{tokens:,} tokens per sample"))
    return cases


# --- run -----------------------------------------------------------------------------------------


def cases(settings: Settings) -> list[Case]:
    floor = routing_case(FLOOR, WORKLOAD_FLOOR, floor_net(), _tokens(settings))
    return [floor, *mycorrhizal_cases(settings), *peer_cases(settings)]


def _overhead(contender: str, workload: str, label: str, target: float | None = None) -> Derived:
    return Derived(
        contender, f"{label} {OVERHEAD}", (contender, workload), (FLOOR, WORKLOAD_FLOOR), "-", "us", target
    )


DERIVED = [
    _overhead(MYCORRHIZAL, WORKLOAD_FSM, "FSM-in-PN", TARGET_FSM_US),
    _overhead(MYCORRHIZAL, WORKLOAD_BT, "BT-in-PN", TARGET_BT_US),
    _overhead(MYCORRHIZAL, WORKLOAD_HAND, "septum by hand"),
    _overhead(MYCORRHIZAL, WORKLOAD_HAND_BT, "rhizomorph by hand"),
    _overhead(PSM, WORKLOAD_DRIVEN, "driven machine"),
    _overhead(TRANSITIONS, WORKLOAD_DRIVEN, "driven machine"),
    _overhead(PY_TREES, WORKLOAD_TREE, "driven tree"),
]


def main(argv: Sequence[str] | None = None) -> list[Row]:
    """Measure every contender and print the table; returns the rows for callers and tests."""
    return run_benchmark(
        argv,
        __doc__,
        name="mycelium",
        peers=(PSM, TRANSITIONS, PY_TREES),
        cases=cases,
        derived=DERIVED,
        unit=", microseconds per token",
    )


if __name__ == "__main__":
    main()
