"""A live view in the browser of a running net, state machine or tree (needs ``mycorrhizal[live]``).

``async with LiveView(runner) as view:`` serves a page at ``view.url`` (127.0.0.1:8000 by default)
showing the runtime's picture with its current states, token counts and node statuses, updated from
its events as it runs; ``mycorrhizal serve MODULE:TARGET`` does the same from the command line.
See docs/live.md.
"""

from .hub import Client, Hub
from .pacer import Pacer, is_virtual
from .serving import runtime_of, serve
from .view import LiveView, is_loopback, picture_svg
from .watch import MachineWatch, NetWatch, TreeWatch, Watched, watch

__all__ = [
    "Client",
    "Hub",
    "LiveView",
    "MachineWatch",
    "NetWatch",
    "Pacer",
    "TreeWatch",
    "Watched",
    "is_loopback",
    "is_virtual",
    "picture_svg",
    "runtime_of",
    "serve",
    "watch",
]
