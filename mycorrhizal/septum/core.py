"""The public names of :mod:`mycorrhizal.septum`, also importable from ``mycorrhizal.septum.core``.

It also holds the module-level decorator aliases 0.x programs import from here (``state``,
``on_state``, ..., ``events``, ``root``; see :mod:`.dsl`).  They are not in the package namespace,
where ``events`` is the module of observer records.
"""

from . import *  # noqa: F403 - the same public surface under the name the seeds import from
from . import __all__ as _package_all
from .dsl import events, on_enter, on_fail, on_leave, on_state, on_timeout, root, state, transitions

__all__ = [
    *_package_all,
    "events",
    "on_enter",
    "on_fail",
    "on_leave",
    "on_state",
    "on_timeout",
    "root",
    "state",
    "transitions",
]
