"""Checking, when a net or tree is defined, the machine an embedder will build at run time.

An ``fsm=`` transition and a ``machine_action`` build their :class:`StateMachine` later, from the
user's options plus the blackboard and timebase they provide themselves. Building one now, from
the same options, reports broken states and bad options as definition problems naming the
transition or action, instead of failing every firing or tick later.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from ..common.errors import DefinitionError, Problem
from ..septum import State, StateMachine

__all__ = ["PROVIDED", "trial_machine"]

PROVIDED = ("common_data", "timebase")
"""StateMachine options an embedder always sets itself: the shared blackboard and clock."""

_ACCEPTED = tuple(
    name
    for name, p in inspect.signature(StateMachine).parameters.items()
    if p.kind is p.KEYWORD_ONLY and name not in PROVIDED
)


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
        return None, [Problem(f"{subject} {p.subject}", p.message, p.fix) for p in exc.problems]
    except (TypeError, ValueError) as exc:  # an option's value: StateMachine says what is wrong
        return None, [Problem(subject, f"{what}: {exc}", f"correct it in {what}")]
