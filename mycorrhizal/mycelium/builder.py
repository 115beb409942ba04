"""The mycelium net builder: hypha's builder whose transitions can embed a tree or a state machine.

    @builder.transition(bt=RouteTree, bt_mode="token", outputs=[fast, slow], rejected=bad)
    @builder.transition(fsm=BreakerClosed, outputs=[ok, failed, refused], fsm_key=lambda t: t.service)

Everything else is hypha unchanged: the result is an ordinary net spec for the hypha runner.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from ..common.errors import Problem
from ..hypha import PN, NetBuilder, OnError, build_net
from ..hypha import NetBuilder as HyphaBuilder
from ..rhizomorph import Tree
from ..septum import State
from . import checks
from .body import BodyHook, Handler
from .checks import BT_MODES
from .machine_handler import machine_handler
from .machine_snapshot import teacher
from .spec import EmbeddedMachine, EmbeddedTree, Routes
from .tree_handler import tree_handler

__all__ = ["BT_MODES", "MyceliumBuilder", "MyceliumPN", "pn", "pn_net"]

log = logging.getLogger("mycorrhizal.mycelium")


class MyceliumBuilder(NetBuilder):
    """A :class:`~mycorrhizal.hypha.NetBuilder` whose ``transition()`` also takes ``bt=`` / ``fsm=``."""

    def transition(
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        bt: Tree | None = None,
        bt_mode: str = "token",
        fsm: State | None = None,
        fsm_key: Callable[[Any], Any] | None = None,
        fsm_options: Mapping[str, Any] | None = None,
        fsm_idle_ttl: float | None = None,
        fsm_max_machines: int | None = None,
        fsm_idle_states: Collection[State] | None = None,
        rejected: Any = None,
        outputs: Iterable[Any] | None = None,
        **hypha_options: Any,
    ) -> Any:
        """Declare a transition; with ``bt=`` or ``fsm=`` the tree/machine routes each token to ``outputs``.

        ``rejected`` names the place that receives :class:`~mycorrhizal.mycelium.Rejection` records for
        tokens the tree/machine rejects or leaves unrouted. The decorated function runs first on every
        firing (for bookkeeping) and must return None. ``fsm_idle_ttl``/``fsm_max_machines`` evict
        ``fsm_key`` machines (see docs/mycelium.md). Other keywords go to hypha unchanged.
        """
        given = {
            "fsm_key": fsm_key,
            "fsm_options": fsm_options,
            "fsm_idle_ttl": fsm_idle_ttl,
            "fsm_max_machines": fsm_max_machines,
            "fsm_idle_states": fsm_idle_states,
            "rejected": rejected,
        }

        def decorate(body: BodyHook) -> Any:
            options = dict(hypha_options)
            name = options.pop("name", None) or getattr(body, "__name__", "transition")
            if bt is None and fsm is None:
                stray = {k: v for k, v in given.items() if v is not None}
                if bt_mode != "token":
                    stray["bt_mode"] = bt_mode
                self._problems.extend(checks.stray_keywords(name, stray))
                return super(MyceliumBuilder, self).transition(body, name=name, outputs=outputs, **options)
            return self._embedded(name, body, bt, bt_mode, fsm, given, list(outputs or ()), options)

        if fn is not None:
            return decorate(fn)
        named = hypha_options.get("name")
        what = "a transition" if named is None else f"transition {named!r}"
        return self._expect_function(decorate, what, "builder.transition(...)")  # forgotten: an error

    def _embedded(
        self,
        name: str,
        body: BodyHook,
        bt: Any,
        bt_mode: str,
        fsm: Any,
        given: Mapping[str, Any],
        outputs: list[Any],
        options: dict[str, Any],
    ) -> Any:
        """Add a transition whose tree or machine routes its tokens: checks, handler and picture."""
        rejected = given["rejected"]
        problems = checks.embedded_problems(name, bt, bt_mode, fsm, outputs, rejected)
        if fsm is not None and bt is None and checks.produces_outputs(body):
            return self._drawn_machine(name, body, fsm, given, outputs, options, problems)
        routes = Routes(
            MappingProxyType({str(o): str(o) for o in outputs if not isinstance(o, tuple)}),
            None if rejected is None else str(rejected),
        )
        if fsm is not None:
            # One token at a time through a machine keeps its state changes in token order.
            options.setdefault("concurrency", 1)
        handler: Handler | BodyHook = body  # never runs if problems were found: build() raises them
        if bt is not None and not problems:
            parks = not isinstance(options.get("on_error", OnError.RETURN), OnError)
            handler = tree_handler(EmbeddedTree(bt, bt_mode, routes, parks), body, options.get("eager", True))
            options["attachment"] = options.get("attachment") or bt.to_diagram()
        elif fsm is not None and not problems:
            handler = self._machine_transition(name, body, fsm, given, routes, options, problems)
        self._problems.extend(problems)
        if rejected is not None and str(rejected) not in routes.outputs:
            outputs = [*outputs, rejected]  # (already an output is a problem reported above, not twice)
        return super().transition(handler, name=name, outputs=outputs, **options)

    def _drawn_machine(
        self,
        name: str,
        body: BodyHook,
        fsm: State,
        given: Mapping[str, Any],
        outputs: list[Any],
        options: dict[str, Any],
        problems: list[Problem],
    ) -> Any:
        """0.x's ``fsm=`` on a body that yields its outputs: the body fires as usual, the machine is drawn."""
        problems += checks.stray_keywords(name, {k: v for k, v in given.items() if v is not None}, drawn=True)
        if isinstance(fsm, State):
            subject = f"transition {name!r} fsm"
            problems += checks.trial_machine(subject, fsm, {}, what="fsm_options", owner="the net")[1]
        if not problems and isinstance(fsm, State):
            options["attachment"] = options.get("attachment") or fsm.to_diagram()
            log.info(
                "transition %s: its body yields the outputs, so it routes the tokens and the machine %s is "
                "only drawn beside it (0.x's fsm=); write the body as a hook to have the machine route",
                name,
                fsm.name,
            )
        self._problems.extend(problems)
        return super().transition(body, name=name, outputs=outputs, **options)

    @staticmethod
    def _machine_transition(
        name: str,
        body: BodyHook,
        fsm: State,
        given: Mapping[str, Any],
        routes: Routes,
        options: dict[str, Any],
        problems: list[Problem],
    ) -> Handler | BodyHook:
        """The handler of an ``fsm=`` transition; problems go to ``problems``, the picture to ``options``."""
        machine_options = dict(given["fsm_options"] or {})
        # Building one now checks the states and options at net definition, not at the first token.
        trial, found = checks.trial_machine(
            f"transition {name!r} fsm", fsm, machine_options, what="fsm_options", owner="the net"
        )
        problems += found
        problems += checks.key_problems(name, given["fsm_key"])
        idle_states, found = checks.eviction_problems(name, fsm, trial, given)
        problems += found
        if trial is None or problems:
            return body
        picture = options.get("attachment") or fsm.to_diagram(machine_options.get("error_state"))
        options["attachment"] = picture
        if checks.interruptible(trial):
            # septum interrupts a hung async on_state at its state's timeout by cancelling the task
            # running it; hypha's eager firings have no task until they suspend.
            options.setdefault("eager", False)
        spec = EmbeddedMachine(
            initial=fsm,
            key=given["fsm_key"],
            options=MappingProxyType(machine_options),
            routes=routes,
            serial=options["concurrency"] == 1,
            idle_ttl=given["fsm_idle_ttl"],
            max_machines=given["fsm_max_machines"],
            idle_states=idle_states,
        )
        options["memory_codecs"] = teacher(spec)  # so that runner snapshots write the machines down
        return machine_handler(spec, body)


class MyceliumPN(PN):
    """The ``pn`` namespace of mycelium: nets built with :class:`MyceliumBuilder`."""

    NetBuilder = MyceliumBuilder

    def net(
        self,
        body: Callable[..., Any] | None = None,
        /,
        *,
        name: str | None = None,
        builder_class: type[HyphaBuilder] = MyceliumBuilder,
    ) -> Any:
        """Decorate ``def Net(builder)``; the builder also accepts ``bt=`` and ``fsm=`` transitions."""
        if body is not None:
            return build_net(body, builder_class=builder_class, name=name)
        return super().net(name=name, builder_class=builder_class)


pn = MyceliumPN()
"""``@pn.net`` for composed nets: ``def Net(builder)`` gets a :class:`MyceliumBuilder`."""

pn_net = pn.net
"""``@pn_net``: 0.x's name of ``@pn.net``."""
