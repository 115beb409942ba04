"""Per-state configuration."""

from __future__ import annotations

import attrs

from ..common.errors import DefinitionError, Problem
from ..common.numbers import is_seconds

__all__ = ["StateConfiguration"]


def _refuse(name: str, message: str, fix: str) -> None:
    raise DefinitionError(
        [Problem("StateConfiguration", f"{name} {message}", fix)], what="StateConfiguration"
    )


def _seconds_or_none(_inst: object, attr: attrs.Attribute[float | None], value: float | None) -> None:
    # 0.x ran what it was given as asyncio.sleep(timeout): 0 is a timer due at once and infinity one
    # that never fires, so both stay; NaN is refused with negative numbers.
    if value is not None and not is_seconds(value):
        _refuse(
            attr.name,
            f"must be a number >= 0 or None, got {value!r}",
            f"give {attr.name} in seconds, e.g. {attr.name}=5.0, or leave it out",
        )


def _count_or_none(_inst: object, attr: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        _refuse(
            attr.name,
            f"must be an int >= 0 or None, got {value!r}",
            f"give a whole number, e.g. {attr.name}=3, or leave it out",
        )


def _flag(_inst: object, attr: attrs.Attribute[bool], value: bool) -> None:
    if not isinstance(value, bool):
        _refuse(
            attr.name, f"must be True or False, got {value!r}", f"write {attr.name}=True or {attr.name}=False"
        )


@attrs.frozen
class StateConfiguration:
    """How one state behaves: its timeout, retry budget, whether it ends the machine or may dwell.

    - ``timeout``: seconds on the machine's timebase from state entry until ``on_timeout`` runs
      (0: due at once).
    - ``retries``: how many times ``Retry`` may re-enter the state before ``on_fail`` runs.
    - ``terminal``: entering this state completes the machine (``run()`` returns normally).
    - ``can_dwell``: the state may have no outgoing transitions and wait for ever.
    """

    timeout: float | None = attrs.field(default=None, validator=_seconds_or_none)
    retries: int | None = attrs.field(default=None, validator=_count_or_none)
    terminal: bool = attrs.field(default=False, validator=_flag)
    can_dwell: bool = attrs.field(default=False, validator=_flag)
