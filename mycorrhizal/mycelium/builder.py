"""The mycelium net builder: hypha's builder whose transitions can embed a tree or a state machine.

    @builder.transition(bt=RouteTree, bt_mode="token", outputs=[fast, slow], rejected=bad)
    @builder.transition(fsm=BreakerClosed, outputs=[ok, failed, refused], fsm_key=lambda t: t.service)

Everything else is hypha unchanged: the result is an ordinary net spec for the hypha runner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..common.errors import Problem
from ..hypha import PN, NetBuilder, build_net
from ..rhizomorph import Tree
from ..septum import State, StateMachine
from .options import trial_machine
from .transitions import BodyHook, machine_handler, tree_handler

__all__ = ["BT_MODES", "MyceliumBuilder", "MyceliumPN", "pn"]

BT_MODES = ("token", "batch")
"""How a tree runs in a transition: once per consumed token, or once over the whole batch."""


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
        rejected: Any = None,
        outputs: Iterable[Any] | None = None,
        **hypha_options: Any,
    ) -> Any:
        """Declare a transition; with ``bt=`` or ``fsm=`` the tree/machine routes each token to ``outputs``.

        ``rejected`` names the place that receives :class:`~mycorrhizal.mycelium.Rejection` records for
        tokens the tree/machine rejects or leaves unrouted. The decorated function runs first on every
        firing (for bookkeeping) and must return None. Other keywords go to hypha unchanged.
        """

        def decorate(body: BodyHook) -> Any:
            name = hypha_options.pop("name", None) or getattr(body, "__name__", "transition")
            if bt is None and fsm is None:
                self._problems.extend(_stray_keywords(name, bt_mode, fsm_key, fsm_options, rejected))
                return super(MyceliumBuilder, self).transition(
                    body, name=name, outputs=outputs, **hypha_options
                )
            declared = list(outputs or ())
            problems = self._embedded_problems(name, bt, bt_mode, fsm, declared, rejected)
            routes = {str(o): str(o) for o in declared if not isinstance(o, tuple)}
            reject_to = None if rejected is None else str(rejected)
            attachment = hypha_options.pop("attachment", None)
            if fsm is not None:
                # One token at a time through a machine keeps its state changes in token order.
                hypha_options.setdefault("concurrency", 1)
            if bt is not None and not problems:
                handler = tree_handler(bt, bt_mode, body, routes, reject_to)
                attachment = attachment or bt.to_diagram()
            elif fsm is not None and not problems:
                options = dict(fsm_options or {})
                serial = hypha_options["concurrency"] == 1
                handler = machine_handler(fsm, fsm_key, body, routes, reject_to, options, serial=serial)
                # Building one now checks the states and options at net definition, not at the first token.
                trial, found = trial_machine(
                    f"transition {name!r} fsm", fsm, options, what="fsm_options", owner="the net"
                )
                problems.extend(found)
                if trial is not None:
                    attachment = attachment or fsm.to_diagram(options.get("error_state"))
                    if _interruptible(trial):
                        # septum interrupts a hung async on_state at its state's timeout by cancelling
                        # the task running it; hypha's eager firings have no task until they suspend.
                        hypha_options.setdefault("eager", False)
            else:
                handler = body  # type: ignore[assignment]  # never runs: build() raises the problems collected here
            self._problems.extend(problems)
            return super(MyceliumBuilder, self).transition(
                handler,
                name=name,
                outputs=[*declared, *([rejected] if rejected is not None else [])],
                attachment=attachment,
                **hypha_options,
            )

        if fn is not None:
            return decorate(fn)
        return decorate

    @staticmethod
    def _embedded_problems(
        name: str, bt: Any, bt_mode: str, fsm: Any, outputs: list[Any], rejected: Any
    ) -> list[Problem]:
        subject = f"transition {name!r}"
        problems: list[Problem] = []
        if bt is not None and fsm is not None:
            problems.append(Problem(subject, "has both bt= and fsm=", "embed one of them per transition"))
        if bt is not None and not isinstance(bt, Tree):
            problems.append(Problem(subject, f"bt={bt!r} is not a behaviour tree", "pass a @bt.tree tree"))
        if fsm is not None and not isinstance(fsm, State):
            problems.append(
                Problem(subject, f"fsm={fsm!r} is not a state", "pass the machine's initial @septum.state")
            )
        if bt is not None and bt_mode not in BT_MODES:
            problems.append(Problem(subject, f"bt_mode={bt_mode!r} is unknown", "use 'token' or 'batch'"))
        if not outputs:
            problems.append(
                Problem(subject, "has no outputs to route tokens to", "declare outputs=[place, ...]")
            )
        for item in outputs:
            if isinstance(item, tuple):
                problems.append(
                    Problem(
                        subject,
                        f"output {item!r} has a weight",
                        "list plain places: the tree or machine routes one token at a time",
                    )
                )
        if rejected is not None and any(str(o) == str(rejected) for o in outputs):
            problems.append(
                Problem(subject, f"rejected={str(rejected)!r} is also an output", "use a separate place")
            )
        return problems


def _interruptible(machine: StateMachine) -> bool:
    """True if some state of the machine has a timeout and an async ``on_state`` it may interrupt."""
    return any(node.timeout is not None and node.on_state_async for node in machine.spec.nodes.values())


def _stray_keywords(name: str, bt_mode: str, fsm_key: Any, fsm_options: Any, rejected: Any) -> list[Problem]:
    given = {"fsm_key": fsm_key, "fsm_options": fsm_options, "rejected": rejected}
    stray = [k for k, v in given.items() if v is not None] + (["bt_mode"] if bt_mode != "token" else [])
    if not stray:
        return []
    return [
        Problem(
            f"transition {name!r}",
            f"{', '.join(stray)} only apply to a transition with bt= or fsm=",
            "add bt=<tree> or fsm=<initial state>, or drop those keywords",
        )
    ]


class MyceliumPN(PN):
    """The ``pn`` namespace of mycelium: nets built with :class:`MyceliumBuilder`."""

    def net(
        self,
        body: Callable[..., Any] | None = None,
        /,
        *,
        name: str | None = None,
        builder_class: type[NetBuilder] = MyceliumBuilder,
    ) -> Any:
        """Decorate ``def Net(builder)``; the builder also accepts ``bt=`` and ``fsm=`` transitions."""
        if body is not None:
            return build_net(body, builder_class=builder_class, name=name)
        return super().net(name=name, builder_class=builder_class)


pn = MyceliumPN()
"""``@pn.net`` for composed nets: ``def Net(builder)`` gets a :class:`MyceliumBuilder`."""
