"""Every definition rule of mycelium, one small function each, run when a net or tree is defined.

Problems are collected as :class:`~mycorrhizal.common.errors.Problem` (who, what, how to fix it) and
raised once by the caller as a :class:`~mycorrhizal.common.errors.DefinitionError`.

An ``fsm=`` transition and a ``machine_action`` build their :class:`StateMachine` later, from the
user's options plus the blackboard and timebase they provide themselves. :func:`trial_machine`
builds one now, from the same options, so that broken states and bad options are reported as
definition problems naming the transition or action, instead of failing every firing or tick later.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from ..common.callables import is_async_callable
from ..common.errors import DefinitionError, Problem
from ..rhizomorph import Tree
from ..septum import State, StateConfiguration, StateMachine

__all__ = [
    "BT_MODES",
    "PROVIDED",
    "action_problems",
    "describe",
    "embedded_problems",
    "eviction_problems",
    "interruptible",
    "key_problems",
    "produces_outputs",
    "stray_keywords",
    "tree_state_problems",
    "trial_machine",
]

BT_MODES = ("token", "batch")
"""How a tree runs in a transition: once per consumed token, or once over the whole batch."""

PROVIDED = ("common_data", "timebase")
"""StateMachine options an embedder always sets itself: the shared blackboard and clock."""

_ACCEPTED = tuple(
    name
    for name, p in inspect.signature(StateMachine).parameters.items()
    if name != "initial_state" and name not in PROVIDED
)


def describe(obj: Any) -> str:
    """How a message names something the user passed: a state's or function's name, else its repr."""
    if isinstance(obj, State):
        return obj.name
    name = getattr(obj, "__name__", None)
    return name if isinstance(name, str) else repr(obj)


def _states(machine: StateMachine) -> Collection[State]:
    """The states a machine can be in (those reachable from its initial state, and its error state)."""
    return machine.spec.nodes.keys()


def interruptible(machine: StateMachine) -> bool:
    """True if some state of the machine has a timeout and an async ``on_state`` it may interrupt."""
    for state in _states(machine):
        on_state = state.handler("on_state")
        if state.config.timeout is not None and on_state is not None and is_async_callable(on_state):
            return True
    return False


# -- the machine an embedder will build ---------------------------------------------------------------


def trial_machine(
    subject: str, initial: State, options: Mapping[str, Any], *, what: str, owner: str
) -> tuple[StateMachine | None, list[Problem]]:
    """A machine built from ``initial`` and ``options`` now, or None and the problems found.

    ``what`` names the options in messages (``"fsm_options"``), ``owner`` what provides the
    blackboard and timebase (``"the net"``).
    """
    problems = [
        Problem(
            subject,
            f"{what} may not set {key}: the machine uses {owner}'s",
            f"drop {key} from {what}; {owner} passes its own",
        )
        for key in PROVIDED
        if key in options
    ]
    problems += [
        Problem(
            subject, f"{what} has {key}, which StateMachine does not take", f"use only {', '.join(_ACCEPTED)}"
        )
        for key in options
        if key not in PROVIDED and key not in _ACCEPTED
    ]
    if problems:
        return None, problems
    try:
        return StateMachine(initial, **options), []
    except DefinitionError as exc:
        if exc.what == "StateMachine options":  # an option's value: StateMachine says what is wrong
            return None, [Problem(subject, f"{what}: {p.message}", p.fix) for p in exc.problems]
        return None, [Problem(f"{subject} {p.subject}", p.message, p.fix) for p in exc.problems]
    except (TypeError, ValueError) as exc:  # an option's value: StateMachine says what is wrong
        return None, [Problem(subject, f"{what}: {exc}", f"correct it in {what}")]


def _state_list(subject: str, keyword: str, value: Any) -> tuple[list[State] | None, list[Problem]]:
    """``value`` as a list of states, or None and why not (a string or one state is not a list)."""
    if isinstance(value, str):
        return None, [
            Problem(
                subject,
                f"{keyword}={value!r} is a string, not a collection of states",
                f"list the states themselves: {keyword}=[{value}]",
            )
        ]
    if isinstance(value, State):
        return None, [
            Problem(
                subject,
                f"{keyword}={value.name} is one state, not a collection of states",
                f"put it in a list: {keyword}=[{value.name}]",
            )
        ]
    if not isinstance(value, Iterable):
        return None, [
            Problem(
                subject, f"{keyword}={value!r} is not a collection of states", f"list them: {keyword}=[...]"
            )
        ]
    items = list(value)
    problems = [
        Problem(subject, f"{keyword} has {item!r}, a string, not a state", f"list the state {item} itself")
        if isinstance(item, str)
        else Problem(subject, f"{keyword} has {item!r}, which is not a state", "list @septum.state states")
        for item in items
        if not isinstance(item, State)
    ]
    return (None if problems else items), problems


# -- transitions ----------------------------------------------------------------------------------------


def embedded_problems(
    name: str, bt: Any, bt_mode: str, fsm: Any, outputs: list[Any], rejected: Any
) -> list[Problem]:
    """What is wrong with a transition's ``bt=``/``fsm=``, ``outputs`` and ``rejected``."""
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
        problems.append(Problem(subject, "has no outputs to route tokens to", "declare outputs=[place, ...]"))
    problems += [
        Problem(
            subject,
            f"output {item!r} has a weight",
            "list plain places: the tree or machine routes one token at a time",
        )
        for item in outputs
        if isinstance(item, tuple)
    ]
    if rejected is not None and any(str(o) == str(rejected) for o in outputs):
        problems.append(
            Problem(subject, f"rejected={str(rejected)!r} is also an output", "use a separate place")
        )
    return problems


def _keywords_apply(keywords: Iterable[str]) -> str:
    """``"fsm_key only applies"``, ``"fsm_key, rejected only apply"``: the verb agrees with the list."""
    names = list(keywords)
    return f"{', '.join(names)} only {'applies' if len(names) == 1 else 'apply'}"


def stray_keywords(name: str, given: Mapping[str, Any], *, drawn: bool = False) -> list[Problem]:
    """Keywords of embedded transitions given to a plain one (``given``: only those the user set).

    ``drawn``: the transition has ``fsm=`` but its body yields the outputs (the machine is only drawn).
    """
    if not given:
        return []
    if drawn:
        return [
            Problem(
                f"transition {name!r}",
                f"{_keywords_apply(given)} when the machine routes the tokens, but the body yields "
                "the outputs itself (so the machine is only drawn)",
                "write the body as a hook that returns None and route with ctx.msg.route(...), or drop them",
            )
        ]
    return [
        Problem(
            f"transition {name!r}",
            f"{_keywords_apply(given)} to a transition with bt= or fsm=",
            "add bt=<tree> or fsm=<initial state>, or drop those keywords",
        )
    ]


def produces_outputs(body: Any) -> bool:
    """True if a transition body is a generator: it yields outputs, so it routes its tokens itself."""
    return inspect.isasyncgenfunction(body) or inspect.isgeneratorfunction(body)


def key_problems(name: str, fsm_key: Any) -> list[Problem]:
    """``fsm_key`` must be a function of one token."""
    subject = f"transition {name!r}"
    if fsm_key is None:
        return []
    if not callable(fsm_key):
        return [
            Problem(
                subject,
                f"fsm_key={fsm_key!r} is not callable",
                "pass a function of the token that returns its machine's key, e.g. "
                f"fsm_key=lambda token: token[{fsm_key!r}]",
            )
        ]
    try:
        inspect.signature(fsm_key).bind(None)
    except TypeError:
        return [
            Problem(
                subject,
                f"fsm_key={describe(fsm_key)} cannot be called with one token",
                "give it exactly one required parameter, the token",
            )
        ]
    except ValueError:
        pass  # no signature to read (some builtins): its first call will tell
    return []


def _ttl_problems(subject: str, ttl: Any, max_machines: Any) -> list[Problem]:
    problems = []
    if ttl is not None and (
        isinstance(ttl, bool) or not isinstance(ttl, int | float) or not math.isfinite(ttl) or ttl <= 0
    ):
        problems.append(
            Problem(
                subject,
                f"fsm_idle_ttl={ttl!r} is not a positive number of seconds",
                "give how long a machine at rest is kept after its last token, e.g. fsm_idle_ttl=300",
            )
        )
    if max_machines is not None and (
        isinstance(max_machines, bool) or not isinstance(max_machines, int) or max_machines < 1
    ):
        problems.append(
            Problem(
                subject,
                f"fsm_max_machines={max_machines!r} is not a whole number >= 1",
                "give the most machines to keep, e.g. fsm_max_machines=10_000",
            )
        )
    return problems


def _idle_state_problems(subject: str, states: list[State], trial: StateMachine | None) -> list[Problem]:
    problems = []
    for state in states:
        if trial is not None and state not in _states(trial):
            problems.append(
                Problem(
                    subject,
                    f"fsm_idle_states has {state.name}, which the machine never reaches",
                    "list states of this machine",
                )
            )
        elif state.config.timeout is not None:
            problems.append(
                Problem(
                    subject,
                    f"fsm_idle_states has {state.name}, which has timeout={state.config.timeout}: a machine "
                    "waiting for its timeout is never at rest",
                    "list only states without a timeout",
                )
            )
    return problems


def eviction_problems(
    name: str, initial: State, trial: StateMachine | None, given: Mapping[str, Any]
) -> tuple[frozenset[State], list[Problem]]:
    """The idle states, and what is wrong with ``fsm_idle_ttl``/``fsm_max_machines``/``fsm_idle_states``.

    ``given`` holds those keywords (the ones set, and ``fsm_key``).
    """
    subject = f"transition {name!r}"
    keywords = ("fsm_idle_ttl", "fsm_max_machines", "fsm_idle_states")
    ttl, bound, idle = (given.get(k) for k in keywords)
    problems = _ttl_problems(subject, ttl, bound)
    set_here = [k for k in keywords if given.get(k) is not None]
    if set_here and given.get("fsm_key") is None:
        problems.append(
            Problem(
                subject,
                f"{_keywords_apply(set_here)} to machines kept per fsm_key; without it the "
                "transition has one machine",
                "add fsm_key=<function of the token>, or drop them",
            )
        )
    if idle is None:
        if ttl is not None and initial.config.timeout is not None:
            problems.append(
                Problem(
                    subject,
                    f"fsm_idle_ttl={ttl!r}, but the initial state {initial.name} has "
                    f"timeout={initial.config.timeout}, so a machine is never at rest in it",
                    "declare fsm_idle_states=[the states without a timeout where a machine may be evicted]",
                )
            )
        return frozenset({initial}), problems
    states, found = _state_list(subject, "fsm_idle_states", idle)
    problems += found
    if states is not None:
        problems += _idle_state_problems(subject, states, trial)
    if ttl is None:
        problems.append(
            Problem(
                subject,
                "fsm_idle_states only matters with fsm_idle_ttl (fsm_max_machines evicts whatever the state)",
                "add fsm_idle_ttl=<seconds>, or drop fsm_idle_states",
            )
        )
    return frozenset(states or ()), problems


# -- bridges ----------------------------------------------------------------------------------------


def action_problems(
    subject: str, initial: Any, succeed_in: Any, options: Mapping[str, Any]
) -> tuple[frozenset[State] | None, list[Problem]]:
    """``machine_action``'s checks: the states wanted at the end, or None for any terminal state."""
    if not isinstance(initial, State):
        return None, [
            Problem(
                subject,
                f"initial={describe(initial)} is not a state",
                "pass the machine's initial @septum.state",
            )
        ]
    trial, problems = trial_machine(subject, initial, options, what="machine options", owner="the tree")
    if succeed_in is None:
        return None, problems
    states, found = _state_list(subject, "succeed_in", succeed_in)
    problems += found
    for state in states or ():
        if trial is not None and state not in _states(trial):
            problems.append(
                Problem(
                    subject,
                    f"succeed_in has {state.name}, which the machine from {initial.name} never reaches",
                    "list terminal states this machine reaches",
                )
            )
        elif not state.config.terminal:
            problems.append(
                Problem(
                    subject,
                    f"succeed_in has {state.name}, which is not a terminal state: the action ends only "
                    "in a terminal state",
                    "list terminal states (StateConfiguration(terminal=True))",
                )
            )
    return frozenset(states or ()), problems


def tree_state_problems(
    subject: str,
    tree: Any,
    name: Any,
    config: Any,
    hooks: Mapping[str, Callable[[Any], Any] | None],
) -> list[Problem]:
    """``tree_state``'s checks: a tree, a str name, a StateConfiguration and callable hooks."""
    problems = []
    if not isinstance(tree, Tree):
        problems.append(
            Problem(subject, f"tree={describe(tree)} is not a behaviour tree", "pass a @bt.tree tree")
        )
    if name is not None and not isinstance(name, str):
        problems.append(Problem(subject, f"name={name!r} is not a str", "name the state with a str"))
    if config is not None and not isinstance(config, StateConfiguration):
        problems.append(
            Problem(subject, f"config={config!r} is not a StateConfiguration", "pass StateConfiguration(...)")
        )
    elif config is not None and config.retries is not None:  # septum would ask for an on_fail it cannot add
        problems.append(
            Problem(
                subject,
                f"config has retries={config.retries}, but a tree_state has no on_fail handler to say where "
                "to go once they run out",
                "leave retries out (failure=Retry then runs the tree again until it succeeds), or bound "
                f"the attempts inside the tree with bt.retry({config.retries})",
            )
        )
    problems += [
        Problem(subject, f"{role}={hook!r} is not callable", f"pass a function {role}(ctx), sync or async")
        for role, hook in hooks.items()
        if hook is not None and not callable(hook)
    ]
    return problems
