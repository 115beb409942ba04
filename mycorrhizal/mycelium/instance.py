"""Trees whose actions drive long-lived state machines (0.x's FSM-in-BT): the runtime.

An ``@Action(fsm=Initial)`` leaf (declared in :mod:`.trees`) is a :class:`DrivenMachine`.  A
:class:`TreeInstance` runs one tree over one blackboard and keeps one machine per such action, made
when the instance is made: it is the ``ctx`` its tree's leaves get, and each tick of a driven action
first lets its machine handle what is pending (messages, fired timeouts), then calls the user's
``fn(bb, tb, fsm_runner)``, whose result is the leaf's status.  The machines share the tree's
blackboard (a dict as it is; any other object through a :class:`~mycorrhizal.common.BlackboardView`,
so handlers written for 0.x's dict, ``ctx.common["k"]``, keep working) and run their timeouts on the
tree's timebase, through a :class:`~mycorrhizal.common.timebase.TimerScope` that closing the
instance closes.  :class:`TreeRunner` is the 0.x runner around an instance.
"""

import asyncio
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..common.blackboard import BlackboardView
from ..common.diagram import Diagram, Edge, to_mermaid_text
from ..common.errors import ExecutionError, FSMInstantiationError, HandlerError, fix_last, reason
from ..common.numbers import is_seconds
from ..common.timebase import Timebase, default_timebase
from ..common.timer_scope import TimerScope
from ..rhizomorph import Runner, Status, Tree
from ..septum import State, StateMachine
from ..septum.durable import unseen
from ..septum.failures import UNROUTED, routed_elsewhere

__all__ = ["FSMRunner", "FSMs", "DrivenMachine", "TreeInstance", "TreeRunner", "driven_machines"]


class DrivenMachine:
    """The function of an ``Action(fsm=...)`` leaf: ticks its machine, then asks ``fn`` for the status."""

    __slots__ = ("name", "initial", "fn", "_is_async")

    def __init__(self, name: str, initial: Any, fn: Callable[..., Any], is_async: bool) -> None:
        self.name = name
        self.initial = initial
        self.fn = fn
        self._is_async = is_async

    # (This module does not use ``from __future__ import annotations``: rhizomorph reads the annotation
    # of ``bb`` of a leaf function, which a callable object's string annotations could not resolve.)
    async def __call__(self, bb: Any, tb: Timebase, ctx: Any) -> Any:
        if not isinstance(ctx, TreeInstance):
            raise ExecutionError(
                f"action {self.name!r} drives a state machine that mycelium's TreeRunner keeps, but its "
                f"tree runs elsewhere. Fix: run the tree with mycelium.TreeRunner(tree, bb, tb)",
                node=self.name,
            )
        runner = ctx.fsms[self.name]
        await runner.tick(0)
        result = self.fn(bb, tb, runner)
        return (await result) if self._is_async else result

    def __repr__(self) -> str:
        return f"<action {self.name!r} driving {self.initial.name}>"


def driven_machines(tree: Tree) -> dict[str, DrivenMachine]:
    """The ``Action(fsm=...)`` leaves of ``tree`` (subtrees included), by action name."""
    return {leaf.fn.name: leaf.fn for leaf in tree.leaves() if isinstance(leaf.fn, DrivenMachine)}


def _check_timeout(action: str, call: str, timeout: Any) -> None:
    """Refuse a ``timeout`` of :class:`FSMRunner` that means nothing (negative, NaN, a bool, a str)."""
    if timeout is not None and not is_seconds(timeout):
        raise ValueError(
            f"fsm_runner of action {action!r}: {call}(timeout={timeout!r}) means nothing. Fix: pass "
            "seconds >= 0 on the tree's timebase, or None to wait as long as it takes"
        )


async def _bounded(work: Any, timebase: Timebase, timeout: float | None) -> None:
    """Await ``work`` (a coroutine), giving up after ``timeout`` seconds on ``timebase`` (None: never)."""
    if timeout is None:
        await work
        return
    task = asyncio.ensure_future(work)
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        task.cancel()

    timer = timebase.call_later(timeout, expire)
    try:
        await task
    except asyncio.CancelledError:
        if not expired:
            raise
    finally:
        timer.cancel()


_NO_OPTIONS = (
    ", returning the label of a state that recovers (an Action(fsm=...) machine takes no error_state "
    "or on_error to route failures to)"
)
"""The end of a machine's fix in place of septum's :data:`~mycorrhizal.septum.failures.UNROUTED`."""


def _no_options(exc: HandlerError) -> None:
    """Have ``exc``, raised by an ``Action(fsm=...)`` machine, not tell to give it an error_state:
    it is made by the tree instance, with no options."""
    exc.args = (routed_elsewhere(str(exc), {UNROUTED: _NO_OPTIONS}),)


class FSMRunner:
    """What an ``Action(fsm=...)`` function gets as ``fsm_runner``: its machine, and how to move it."""

    __slots__ = ("name", "fsm")

    def __init__(self, name: str, fsm: StateMachine) -> None:
        self.name = name
        """The action's name."""
        self.fsm = fsm
        """The :class:`~mycorrhizal.septum.StateMachine` itself."""

    @property
    def current_state(self) -> State:
        """The state the machine is in (its initial state before the first tick)."""
        return self.fsm.current_state

    def send_message(self, msg: Any) -> bool:
        """Queue ``msg`` for the machine; it is handled at the action's next tick (or by :meth:`tick`)."""
        return self.fsm.send_message(msg)

    async def tick(self, timeout: float | None = None) -> None:
        """Let the machine handle what is pending (entering its initial state the first time), and
        raise what its timeout's background run hit since the last call, if anything.

        With ``timeout`` other than 0, a machine with nothing to do first waits that long (seconds on
        the tree's timebase; None: as long as it takes) for a message or a timeout to handle.
        """
        if timeout is not None:  # (the default: no call per tick)
            _check_timeout(self.name, "tick", timeout)
        fsm = self.fsm
        try:
            # A machine idle after its timeout's background run failed owes that error: run() raises it.
            if not fsm.is_idle or unseen(fsm) is not None:
                await fsm.run()
                return
            # (an idle machine is not run: run() would yield to the event loop, making the tick wait)
            if timeout == 0 or fsm.is_complete:
                return
            await _bounded(fsm.run(max_steps=1, wait=True), fsm.timebase, timeout)
            if not fsm.is_idle:
                await fsm.run()
        except HandlerError as exc:
            _no_options(exc)
            raise

    async def run(self, timeout: float | None = None) -> None:
        """Run the machine until it reaches a terminal state, or until ``timeout`` seconds (on the tree's
        timebase) have passed; the machine keeps its state either way."""
        _check_timeout(self.name, "run", timeout)
        try:
            await _bounded(self.fsm.run(wait=True), self.fsm.timebase, timeout)
        except HandlerError as exc:
            _no_options(exc)
            raise

    def __repr__(self) -> str:
        return f"<fsm_runner {self.name!r} in {self.fsm.current_state.name}>"


class FSMs(Mapping[str, FSMRunner]):
    """The machines of a tree instance by action name: ``fsms.drive``, ``fsms["drive"]``, ``in``, ``len``."""

    __slots__ = ("_runners",)

    def __init__(self, runners: dict[str, FSMRunner]) -> None:
        self._runners = runners

    def __getitem__(self, name: str) -> FSMRunner:
        try:
            return self._runners[name]
        except KeyError:
            known = sorted(self._runners)
            raise KeyError(
                f"no Action(fsm=...) named {name!r}; the tree's are {known}. Fix: name one of those actions"
            ) from None

    def __getattr__(self, name: str) -> FSMRunner:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(str(exc)) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._runners)

    def __len__(self) -> int:
        return len(self._runners)

    def __repr__(self) -> str:
        return f"FSMs({self._runners!r})"


def _shared(bb: Any) -> Any:
    """The machines' ``ctx.common``: a dict (or view, or None) as it is, any other object through a view."""
    if bb is None or isinstance(bb, Mapping | BlackboardView):
        return bb
    return BlackboardView(bb, name="tree blackboard")


class TreeInstance:
    """One run of a composed tree over one blackboard, with the machines of its ``Action(fsm=...)`` leaves.

    It is the ``ctx`` the tree's leaves get.  The machines are made now (and entered at their
    action's first tick); :meth:`close` / :meth:`aclose` halt the tree and stop them.
    """

    __slots__ = ("spec", "bb", "tb", "runner", "fsms", "_scope")

    def __init__(self, spec: Tree, bb: Any, tb: Timebase) -> None:
        self.spec = spec
        self.bb = bb
        self.tb = tb
        self._scope = TimerScope(tb)
        common = _shared(bb)
        runners = {}
        for name, driven in driven_machines(spec).items():
            try:
                fsm = StateMachine(driven.initial, common_data=common, timebase=self._scope)
            except Exception as exc:
                said = f"tree {spec.name!r}: the machine of action {name!r} (from {driven.initial.name}) "
                # The cause's own fix (a state's problem says what to add) stays the one, and last.
                raise FSMInstantiationError(
                    fix_last(
                        f"{said}could not be made: {reason(exc)}",
                        "",
                        otherwise="correct the state or the blackboard",
                    ),
                    node=name,
                ) from exc
            runners[name] = FSMRunner(name, fsm)
        self.fsms = FSMs(runners)
        """The machines by action name."""
        self.runner = Runner(spec, bb, tb, self)
        """The :class:`~mycorrhizal.rhizomorph.Runner` ticking the tree."""

    def get_fsm_runner(self, action_name: str) -> FSMRunner:
        """The machine of the action named ``action_name``."""
        return self.fsms[action_name]

    async def tick(self) -> Status:
        """Tick the tree once."""
        return await self.runner.tick()

    def to_diagram(self) -> Diagram:
        """The tree (coloured by its last tick, once ticked) with each action's machine drawn beside it."""
        picture = self.runner.to_diagram() if self.runner.ticks else self.spec.to_diagram()
        return tree_with_machines(picture, driven_machines(self.spec))

    def to_mermaid(self) -> str:
        """:meth:`to_diagram` as Mermaid text."""
        return to_mermaid_text(self.to_diagram())

    def close(self) -> None:
        """Halt the tree and cancel every timer of its machines (none fires afterwards)."""
        self.runner.reset()
        self._scope.close()

    async def aclose(self) -> None:
        """:meth:`close`, then wait for the tree's cancelled leaves and close the machines."""
        self._scope.close()
        await self.runner.aclose()
        await asyncio.gather(*(runner.fsm.aclose() for runner in self.fsms.values()))


def tree_with_machines(picture: Diagram, driven: Mapping[str, DrivenMachine]) -> Diagram:
    """``picture`` (a tree's) with the machine of each driven action as a cluster, joined by ``ticks``."""
    clusters, edges = list(picture.clusters), list(picture.edges)
    for node in picture.nodes:
        machine = driven.get(node.label)
        if machine is None:
            continue
        cluster, inner = machine.initial.to_diagram().as_cluster(f"{node.id}.", label=f"FSM: {node.label}")
        clusters.append(cluster)
        edges.extend(inner)
        first = next(cluster.all_nodes(), None)
        if first is not None:
            edges.append(Edge(node.id, first.id, "ticks", "dotted"))
    return Diagram(picture.name, picture.nodes, tuple(edges), tuple(clusters), picture.direction)


class TreeRunner:
    """0.x's runner of a composed tree: ``TreeRunner(tree, bb, tb)``, ``await tick()``, ``await run()``.

    It holds a :class:`TreeInstance` (``instance``); ``reset()`` replaces it (a fresh tree, fresh
    machines); ``fsms`` are the current instance's machines.  ``await aclose()`` stops everything.
    """

    __slots__ = ("spec", "bb", "tb", "instance")

    def __init__(self, tree: Tree, bb: Any = None, tb: Timebase | None = None) -> None:
        self.spec = tree
        """The tree."""
        self.bb = bb
        """The blackboard."""
        self.tb = tb if tb is not None else default_timebase()
        """The timebase (without one, the default monotonic clock, as 0.x's docs wrote it)."""
        self.instance = TreeInstance(tree, bb, self.tb)
        """The current run of the tree and its machines."""

    @property
    def fsms(self) -> FSMs:
        """The machines of the ``Action(fsm=...)`` leaves, by action name."""
        return self.instance.fsms

    @property
    def tree(self) -> Tree:
        """The tree (``spec``, under the name 0.x's documents used: ``runner.tree.to_mermaid()``)."""
        return self.spec

    async def tick(self) -> Status:
        """Tick the tree once (a CycleClock then moves one step) and return its status."""
        return await self.instance.tick()

    async def run(self, max_ticks: int = 100) -> Status:
        """Tick until the tree ends (SUCCESS, FAILURE, ERROR...) or ``max_ticks`` ticks: then RUNNING.

        Between ticks it waits for the tree's async leaves and timers, as rhizomorph's
        ``tick_until_complete`` does.
        """
        return await self.instance.runner.tick_until_complete(max_ticks=max_ticks)

    def reset(self) -> None:
        """Halt the tree, stop its machines' timers, and start again with a new instance and new machines."""
        self.instance.close()
        self.instance = TreeInstance(self.spec, self.bb, self.tb)

    async def aclose(self) -> None:
        """Halt the tree and close its machines; nothing of theirs runs afterwards."""
        await self.instance.aclose()

    def to_diagram(self) -> Diagram:
        """The tree with its machines (see :meth:`TreeInstance.to_diagram`)."""
        return self.instance.to_diagram()

    def to_mermaid(self) -> str:
        """The picture as Mermaid text inside a Markdown code fence (```` ```mermaid ````), as in 0.x."""
        return f"```mermaid\n{self.instance.to_mermaid()}\n```"

    def __repr__(self) -> str:
        return f"<mycelium TreeRunner {self.spec.name!r}, {len(self.fsms)} machine(s)>"
