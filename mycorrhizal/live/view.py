"""LiveView: a web page showing a running net, state machine or tree as it runs.

::

    async with LiveView(runner, port=8000) as view:   # the run goes on as usual meanwhile
        print("open", view.url)
        await runner.run_until_idle()

With ``clock=`` (the run's virtual clock) the view also paces it in real time (``speed`` virtual
seconds per real second) and the page gets pause and step buttons; see :mod:`.pacer`.
"""

from __future__ import annotations

import asyncio
import errno
import html
import ipaddress
import logging
import os
import re
import socket
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web

from ..common.diagram import Diagram, graphviz_ids, render_diagram
from ..common.numbers import is_count
from .hub import Hub
from .pacer import Pacer
from .server import make_app
from .watch import Watched, watch

__all__ = ["LiveView", "is_loopback", "picture_svg"]

log = logging.getLogger("mycorrhizal.live")

POLL = 0.25
"""Real seconds between two looks at the runtime for changes no event announced (timers, tokens)."""


def is_loopback(host: str) -> bool:
    """True when ``host`` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_NODE = re.compile(r'(<g id="[^"]*" class="node")(>\s*<title>)([^<]*)(</title>)')


def picture_svg(diagram: Diagram) -> str:
    """``diagram`` as SVG (Graphviz's ``dot``, else graphviz-pure), each node tagged ``data-node="<id>"``.

    The XML prolog is left out, so the page can put the picture inline and style its nodes.
    """
    with tempfile.TemporaryDirectory(prefix="mycorrhizal-live-") as folder:
        path = render_diagram(diagram, Path(folder) / "view.svg", "svg")
        text = path.read_text(encoding="utf-8")
    node_of = {gv: node for node, gv in graphviz_ids(diagram).items()}

    def tag(match: re.Match[str]) -> str:
        node = node_of.get(html.unescape(match.group(3)))
        extra = "" if node is None else f' data-node="{html.escape(node, quote=True)}"'
        return match.group(1) + extra + match.group(2) + match.group(3) + match.group(4)

    return _NODE.sub(tag, text[text.find("<svg") :])


class LiveView:
    """Serve a live web view of ``target`` (a net runner, state machine or tree runner) while it runs.

    ``host`` is 127.0.0.1 unless asked otherwise (any other address is logged as a WARNING: the view
    has no authentication).  ``port=0`` picks a free port (see :attr:`url`).  ``clock``: the run's
    virtual clock, paced at ``speed`` (and started ``paused`` if asked); it enables pause and step.
    ``history`` events are kept for new pages; each page may fall ``client_buffer`` updates behind
    before its backlog is replaced by a fresh snapshot (counted; the run never waits for a page).
    """

    def __init__(
        self,
        target: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 8000,
        clock: Any = None,
        speed: float = 1.0,
        paused: bool = False,
        history: int = 500,
        client_buffer: int = 64,
    ) -> None:
        if not is_count(port, least=0) or port > 65535:
            raise ValueError(
                f"live view: port={port!r} is not a TCP port. Fix: pass an int from 0 to 65535 (0: any "
                "free port), e.g. port=8000"
            )
        self.watched: Watched = watch(target)
        self.host = host
        self.port = port
        self.pacer: Pacer | None = None
        self.hub = Hub(self.watched, history=history, client_buffer=client_buffer, control=self._control)
        if clock is not None:
            self.pacer = Pacer(clock, speed=speed, paused=paused, moved=self.hub.poke)
        self._runner: web.AppRunner | None = None
        self._poller: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()
        self._drawn: tuple[int, str] = (-1, "")  # (picture revision, its SVG)
        self._drawing: tuple[int, asyncio.Future[str]] | None = None  # the one drawing under way

    @property
    def url(self) -> str:
        """The page's address (with the real port once started, when ``port=0`` was asked for)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def _control(self) -> dict[str, Any]:
        if self.pacer is None:
            return {"pausable": False}
        return self.pacer.state()

    async def start(self) -> None:
        """Draw the picture, start the server and attach to the runtime."""
        await self._picture()  # drawn now, so a picture that cannot be drawn fails here
        # handler_cancellation: a page that closes its stream while the run is idle (no update to
        # write) ends its handler at once, so it is no longer counted nor fed.
        runner = web.AppRunner(
            make_app(self.hub, self._picture, self.pacer),
            access_log=None,
            shutdown_timeout=0.5,
            handler_cancellation=True,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise self._cannot_listen(exc) from exc
        self._runner = runner
        self.port = runner.addresses[0][1]
        self.watched.attach(self.hub.observe)
        if self.pacer is not None:
            self.pacer.start()
        self._poller = asyncio.get_running_loop().create_task(self._poll(), name="mycorrhizal live poll")
        log.info("live view of %s %r at %s", self.watched.kind, self.watched.name, self.url)
        if not is_loopback(self.host):
            log.warning(
                "live view serving on %s, reachable from other machines (it has no authentication)",
                self.host,
            )

    def _cannot_listen(self, exc: OSError) -> OSError:
        """Why the server could not listen, and what to change: the host or the port."""
        where = f"cannot serve the live view on {self.host}:{self.port}"
        code = exc.errno if exc.errno is not None else _bind_errno(self.host, self.port)
        # The host is at fault when it names no address, or none of this machine's.
        if isinstance(exc, socket.gaierror):
            reason = f"no address found for {self.host!r}"
        elif code == errno.EADDRNOTAVAIL:
            reason = f"{self.host} is not an address of this machine"
        else:
            reason = os.strerror(code).lower() if code else str(exc)
            other = "pick another port (--port, or port= in Python; 0: any free one)"
            if code == errno.EADDRINUSE:
                other = f"stop the program listening on port {self.port}, or {other}"
            return OSError(f"{where}: {reason}. Fix: {other}")
        return OSError(
            f"{where}: {reason}. Fix: give host (--host) an address of this machine: 127.0.0.1 (this "
            "machine only) or 0.0.0.0 (every network it is on)"
        )

    async def _picture(self) -> str:
        """The picture as SVG, drawn again when the watched net was changed since."""
        revision = self.watched.picture
        if self._drawn[0] == revision:
            return self._drawn[1]
        # One drawing per revision, whatever the number of pages asking for it meanwhile.
        if self._drawing is None or self._drawing[0] != revision:
            drawing = asyncio.ensure_future(asyncio.to_thread(picture_svg, self.watched.diagram))
            self._drawing = (revision, drawing)
        svg = await asyncio.shield(self._drawing[1])
        if self._drawn[0] < revision:
            self._drawn = (revision, svg)
        return svg

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLL)
            if self.hub.clients:
                self.hub.flush()

    async def close(self) -> None:
        """Detach from the runtime, end every page's stream and stop the server."""
        if self._runner is None:
            return
        runner, self._runner = self._runner, None
        if self.pacer is not None:
            await self.pacer.stop()
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        self.watched.detach()
        self.hub.close()
        await runner.cleanup()
        self._closed.set()
        log.info("live view of %r closed", self.watched.name)

    async def wait_closed(self) -> None:
        """Wait until :meth:`close` (e.g. to keep the page open after the run until Ctrl-C)."""
        await self._closed.wait()

    async def __aenter__(self) -> LiveView:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ controls from Python

    def pause(self) -> None:
        """Stop the paced clock (needs ``clock=``)."""
        self._pacer().pause()

    def resume(self) -> None:
        """Let the paced clock run again."""
        self._pacer().resume()

    def step(self) -> None:
        """Move the paced clock to the next deadline and stay paused."""
        self._pacer().step()

    def _pacer(self) -> Pacer:
        if self.pacer is None:
            raise RuntimeError(
                "this live view paces no clock, so it cannot pause or step. Fix: pass clock=<the run's "
                "ManualClock> to LiveView"
            )
        return self.pacer

    def __repr__(self) -> str:
        state = "serving" if self._runner is not None else "closed"
        return f"<LiveView of {self.watched.kind} {self.watched.name!r} {state} at {self.url}>"


def _bind_errno(host: str, port: int) -> int | None:
    """The error number binding ``host:port`` fails with, found by trying it: Python 3.13's asyncio
    reports a failed bind on every address of a host as one OSError without one."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        return exc.errno
    for family, kind, proto, _, address in found:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio's server does
            try:
                probe.bind(address)
            except OSError as exc:
                return exc.errno
    return None
