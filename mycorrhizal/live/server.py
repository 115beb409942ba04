"""The live view's web server (aiohttp): one page, its picture, a snapshot, events, a stream, controls.

Routes::

    GET  /                 the page (static HTML, JavaScript and CSS shipped in the package)
    GET  /static/NAME      live.js, live.css
    GET  /diagram.svg      the target's Graphviz picture (drawn again after a net changed)
    GET  /api/snapshot     the runtime's state now (JSON)
    GET  /api/events       the latest events, or those after SEQ (JSON); ?since=SEQ&limit=N&type=A,B
    GET  /api/stream       server-sent events: "snapshot" first, then "update"s; ?history=N
    POST /api/control      {"action": "pause" | "resume" | "step" | "speed", "speed": F}

Every bad request gets a plain-text, one-line answer saying what was wrong and what is accepted
(400 malformed parameter, 404 unknown path, 405 wrong method, 409 control the target lacks).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import web

from .hub import Client, Hub
from .pacer import Pacer, check_speed

__all__ = ["KEEPALIVE", "make_app"]

log = logging.getLogger("mycorrhizal.live")

KEEPALIVE = 15.0
"""Real seconds between keep-alive comments on an idle stream, so that no proxy in between closes it
(a page that closes its stream is noticed at once: the server cancels its handler)."""
ROUTES = "/, /diagram.svg, /api/snapshot, /api/events, /api/stream, /api/control (POST)"
FILES = "index.html, live.css or live.js"
STATIC = {"live.js": "text/javascript", "live.css": "text/css", "index.html": "text/html"}
ACTIONS = ("pause", "resume", "step", "speed")
MAX_HISTORY = 1000

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_HUB: web.AppKey[Hub] = web.AppKey("hub", Hub)
_PACER: web.AppKey[Pacer | None] = web.AppKey("pacer", object)  # type: ignore[arg-type]
Draw = Callable[[], Awaitable[str]]
_DRAW: web.AppKey[Draw] = web.AppKey("draw", object)  # type: ignore[arg-type]


def _text(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message + "\n", content_type="text/plain")


@web.middleware
async def _clear_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own 404/405 pages as one clear line naming the path and what exists."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return _text(404, f"no page {request.path!r} here. Fix: ask for one of {ROUTES}")
    except web.HTTPMethodNotAllowed as exc:
        allowed = " or ".join(sorted(exc.allowed_methods))
        return _text(405, f"{request.method} is not accepted at {request.path!r}. Fix: use {allowed}")


def _static(name: str) -> str:
    return resources.files(__package__).joinpath("static", name).read_text(encoding="utf-8")


async def _index(request: web.Request) -> web.StreamResponse:
    return web.Response(text=_static("index.html"), content_type="text/html")


async def _static_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in STATIC:
        return _text(404, f"no file {name!r} in /static/. Fix: ask for {FILES}")
    return web.Response(text=_static(name), content_type=STATIC[name])


async def _diagram(request: web.Request) -> web.StreamResponse:
    svg = await request.app[_DRAW]()
    return web.Response(text=svg, content_type="image/svg+xml", headers={"Cache-Control": "no-cache"})


def _whole(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """Query parameter ``name`` as a whole number in [low, high], or a 400 saying so."""
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise web.HTTPBadRequest(
            text=f"parameter {name}={raw!r} must be a whole number from {low} to {high}. Fix: pass one, "
            f"e.g. {name}={default}\n",
            content_type="text/plain",
        )
    return value


async def _snapshot(request: web.Request) -> web.StreamResponse:
    _no_unknown(request, ())
    return web.json_response(request.app[_HUB].snapshot())


def _no_unknown(request: web.Request, known: tuple[str, ...]) -> None:
    unknown = sorted(set(request.query) - set(known))
    if unknown:
        fix = f"use only {', '.join(known)}" if known else "leave the query out (it takes none)"
        raise web.HTTPBadRequest(
            text=f"unknown parameter {unknown[0]!r} for {request.path}. Fix: {fix}\n",
            content_type="text/plain",
        )


async def _events(request: web.Request) -> web.StreamResponse:
    _no_unknown(request, ("since", "limit", "type"))
    hub = request.app[_HUB]
    since = _whole(request, "since", 0, 0, 2**62)
    limit = _whole(request, "limit", 100, 1, MAX_HISTORY)
    types = {t for t in request.query.get("type", "").split(",") if t}
    hub.flush_pending_only()
    found = [r for r in hub.history if r["seq"] > since and (not types or r["type"] in types)]
    # Asked from a `since`: the oldest `limit` after it, not the newest, so that a poller asking again
    # from the last seq it got gets every event the view still holds, however many came between two
    # looks.  Asked without one: the most recent `limit`.
    shown = found[:limit] if "since" in request.query else found[-limit:]
    return web.json_response({"events": shown, "seen": hub.seen})


async def _stream(request: web.Request) -> web.StreamResponse:
    _no_unknown(request, ("history",))
    hub = request.app[_HUB]
    history = _whole(request, "history", 200, 0, MAX_HISTORY)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    client = hub.connect()
    try:
        await _send(response, "snapshot", hub.snapshot_message(client, history))
        await _pump(response, hub, client)
    except (ConnectionResetError, ConnectionError):
        log.debug("live view: a client went away mid-stream")
    finally:
        hub.disconnect(client)
    return response


async def _pump(response: web.StreamResponse, hub: Hub, client: Client) -> None:
    """Send ``client``'s updates as they come; a fresh snapshot when its backlog was coalesced."""
    while not client.closed:
        try:
            await asyncio.wait_for(client.wake.wait(), KEEPALIVE)
        except TimeoutError:
            await response.write(b": keep-alive\n\n")
            continue
        client.wake.clear()
        if client.resync:
            client.resync = False
            await _send(response, "snapshot", hub.snapshot_message(client, 0))
        while client.queue and not client.resync:
            message, _ = client.queue.popleft()
            await _send(response, "update", message)


async def _send(response: web.StreamResponse, kind: str, data: str) -> None:
    await response.write(f"event: {kind}\ndata: {data}\n\n".encode())


async def _control(request: web.Request) -> web.StreamResponse:
    _no_unknown(request, ())
    pacer = request.app[_PACER]
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    action = body.get("action") if isinstance(body, dict) else None
    if action not in ACTIONS:
        return _text(
            400,
            'the body is not JSON naming an action. Fix: send {"action": "pause"}; actions: '
            + ", ".join(ACTIONS),
        )
    if pacer is None:
        return _text(
            409,
            "this view cannot pause or step its target: it paces no virtual clock (a real-time run "
            "cannot be paused). Fix: give LiveView the run's virtual clock (clock=ManualClock())",
        )
    try:
        _apply(pacer, action, body)
    except ValueError as exc:
        return _text(400, str(exc))
    request.app[_HUB].poke()
    return web.json_response(pacer.state())


def _apply(pacer: Pacer, action: str, body: dict[str, Any]) -> None:
    if action == "pause":
        pacer.pause()
    elif action == "resume":
        pacer.resume()
    elif action == "step":
        pacer.step()
    else:
        if "speed" not in body:
            raise ValueError('"speed" needs a number. Fix: send {"action": "speed", "speed": 2}')
        pacer.set_speed(check_speed(body["speed"]))


def make_app(hub: Hub, draw: Draw, pacer: Pacer | None) -> web.Application:
    """The aiohttp application serving the page for ``hub``'s runtime; ``draw()``: its picture now."""
    app = web.Application(middlewares=[_clear_errors])
    app[_HUB] = hub
    app[_PACER] = pacer
    app[_DRAW] = draw
    app.router.add_get("/", _index)
    app.router.add_get("/static/{name}", _static_file)
    app.router.add_get("/diagram.svg", _diagram)
    app.router.add_get("/api/snapshot", _snapshot)
    app.router.add_get("/api/events", _events)
    app.router.add_get("/api/stream", _stream)
    app.router.add_post("/api/control", _control)
    return app
