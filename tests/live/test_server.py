"""The live view's server: its answers to good and bad requests, the stream, and the run's safety."""

import asyncio
import json
import re
from typing import Any

import aiohttp
import pytest

from mycorrhizal.live import LiveView
from mycorrhizal.live import view as view_module

PREFIX = "CircuitBreakerOrchestrator."


async def send(world: Any, cb: dict[str, Any], *ids: str, healthy: bool = True) -> None:
    world.bb.backend.healthy = healthy
    world.runner.add_tokens("input_queue", [cb["Request"](i, "/x") for i in ids])
    await world.runner.run_until_idle()


async def get_json(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def test_the_page_its_files_and_the_picture(view: LiveView, http: aiohttp.ClientSession) -> None:
    async with http.get(view.url) as page:
        assert page.status == 200
        assert 'src="static/live.js"' in await page.text()
    for name, kind in [("live.js", "text/javascript"), ("live.css", "text/css")]:
        async with http.get(view.url + "static/" + name) as response:
            assert response.status == 200 and response.content_type == kind
    async with http.get(view.url + "diagram.svg") as response:
        svg = await response.text()
    assert svg.startswith("<svg")
    # Every place, transition and breaker state can be found by its id.
    for node in (
        "input_queue",
        "success",
        "validate_request",
        "route_through_circuit_breaker.CircuitBreakerOpen",
    ):
        assert f'data-node="{PREFIX}{node}"' in svg


async def test_snapshot_follows_the_run(
    view: LiveView, world: Any, cb: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    before = await get_json(http, view.url + "api/snapshot")
    # The breaker machine is made when the first request reaches it.
    assert before["machines"] == [{"name": PREFIX + "route_through_circuit_breaker", "keys": []}]
    assert before["places"][PREFIX + "success"] == 0
    await send(world, cb, "a", "b")
    await send(world, cb, "c", "d", "e", healthy=False)
    snap = await get_json(http, view.url + "api/snapshot")
    assert snap["places"][PREFIX + "success"] == 2 and snap["places"][PREFIX + "failure"] == 3
    [machine] = snap["machines"]
    assert machine["name"] == PREFIX + "route_through_circuit_breaker"
    assert machine["keys"] == [
        {
            "key": "",
            "state": "CircuitBreakerOpen",
            "node": PREFIX + "route_through_circuit_breaker.CircuitBreakerOpen",
            "nodes": [PREFIX + "route_through_circuit_breaker.CircuitBreakerOpen"],
            "complete": False,
        }
    ]
    assert snap["control"]["pausable"] and snap["control"]["paused"]
    # 5 requests x 2 transitions x (started, committed); the breaker entering CLOSED, its
    # MessageHandled for each request, and its move to OPEN (left, entered)
    assert snap["stats"]["seen"] == 20 + 1 + 5 + 2


async def test_events_with_filters(
    view: LiveView, world: Any, cb: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    await send(world, cb, "a", "b")
    everything = await get_json(http, view.url + "api/events")
    assert [e["seq"] for e in everything["events"]] == list(range(1, 12))  # 8 of the net, 3 of the breaker
    committed = await get_json(http, view.url + "api/events?type=FiringCommitted&since=4&limit=2")
    # The first two after seq 4, of three (6, 8, 11): the next ask, since=8, brings 11.
    assert [(e["seq"], e["type"]) for e in committed["events"]] == [
        (6, "FiringCommitted"),
        (8, "FiringCommitted"),
    ]
    latest = await get_json(http, view.url + "api/events?limit=3")  # no since: the most recent
    assert [e["seq"] for e in latest["events"]] == [9, 10, 11]
    first = everything["events"][0]
    assert first["engine"] == "hypha" and first["nodes"] == [PREFIX + "validate_request"]
    assert first["text"].startswith("transition=validate_request consumed=")


@pytest.mark.parametrize("limit", [1, 3, 5])
async def test_paging_with_since_gets_every_event_once(
    view: LiveView, world: Any, cb: dict[str, Any], http: aiohttp.ClientSession, limit: int
) -> None:
    # A poller asks for what came after the last event it got: with fewer per answer than came,
    # it still gets every one, in order (the 11 events of two requests, `limit` at a time).
    await send(world, cb, "a", "b")
    got: list[int] = []
    while True:
        page = await get_json(http, view.url + f"api/events?since={got[-1] if got else 0}&limit={limit}")
        if not page["events"]:
            break
        assert len(page["events"]) <= limit
        got += [e["seq"] for e in page["events"]]
    assert got == list(range(1, 12))


@pytest.mark.parametrize(
    "path, status, message",
    [
        ("nowhere", 404, "no page '/nowhere' here. Fix: ask for one of /, /diagram.svg"),
        (
            "static/secret.py",
            404,
            "no file 'secret.py' in /static/. Fix: ask for index.html, live.css or live.js",
        ),
        ("static/../view.py", 404, "no page"),
        ("api/events?since=abc", 400, "parameter since='abc' must be a whole number from 0 to"),
        ("api/events?limit=0", 400, "parameter limit='0' must be a whole number from 1 to 1000"),
        (
            "api/events?sort=time",
            400,
            "unknown parameter 'sort' for /api/events. Fix: use only since, limit, type",
        ),
        ("api/stream?history=-1", 400, "parameter history='-1' must be a whole number from 0 to 1000"),
        (
            "api/snapshot?x=1",
            400,
            "unknown parameter 'x' for /api/snapshot. Fix: leave the query out (it takes none)",
        ),
    ],
)
async def test_bad_requests_get_one_clear_line(
    view: LiveView, http: aiohttp.ClientSession, path: str, status: int, message: str
) -> None:
    async with http.get(view.url + path) as response:
        text = await response.text()
    assert response.status == status
    assert text.startswith(message) and re.fullmatch(r"[^\n]+\. Fix: [^\n]+\n", text)


async def test_wrong_method(view: LiveView, http: aiohttp.ClientSession) -> None:
    async with http.post(view.url + "api/snapshot") as response:
        assert response.status == 405
        assert await response.text() == "POST is not accepted at '/api/snapshot'. Fix: use GET or HEAD\n"
    async with http.get(view.url + "api/control") as response:
        assert (
            response.status == 405
            and await response.text() == "GET is not accepted at '/api/control'. Fix: use POST\n"
        )


@pytest.mark.parametrize(
    "body, message",
    [
        (
            b"not json",
            'the body is not JSON naming an action. Fix: send {"action": "pause"}; actions: pause, ',
        ),
        (b'["pause"]', 'the body is not JSON naming an action. Fix: send {"action": "pause"}'),
        (b'{"action": "rewind"}', 'the body is not JSON naming an action. Fix: send {"action": "pause"}'),
        (b'{"action": "speed"}', '"speed" needs a number. Fix: send {"action": "speed", "speed": 2}'),
        (b'{"action": "speed", "speed": 0}', "speed must be a number above 0"),
        (b'{"action": "speed", "speed": "fast"}', "speed must be a number above 0"),
        (b'{"action": "speed", "speed": 1e300}', "speed must be a number above 0 and at most 1e+06"),
    ],
)
async def test_bad_controls(view: LiveView, http: aiohttp.ClientSession, body: bytes, message: str) -> None:
    async with http.post(view.url + "api/control", data=body) as response:
        assert response.status == 400
        text = await response.text()
    assert text.startswith(message) and re.fullmatch(r"[^\n]+\. Fix: [^\n]+\n", text)
    assert view.pacer is not None and view.pacer.paused and view.pacer.speed == 1.0


@pytest.mark.parametrize(
    "control",
    [{"action": "pause"}, {"action": "step"}, {"action": "resume"}, {"action": "speed", "speed": 2}],
)
async def test_controls_of_a_view_that_does_not_pace(
    world: Any, http: aiohttp.ClientSession, control: dict[str, Any]
) -> None:
    async with LiveView(world.runner, port=0) as view:
        async with http.post(view.url + "api/control", json=control) as response:
            assert response.status == 409
            assert await response.text() == (
                "this view cannot pause or step its target: it paces no virtual clock (a real-time run "
                "cannot be paused). Fix: give LiveView the run's virtual clock (clock=ManualClock())\n"
            )
        snap = await get_json(http, view.url + "api/snapshot")
        assert snap["control"] == {"pausable": False}
        with pytest.raises(RuntimeError, match=r"^this live view paces no clock.*\. Fix: pass clock="):
            view.step()


async def wait_for(condition: Any, what: str) -> None:
    """Let the loop run (real time: the server is real) until ``condition()``; at most 5 s."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def test_step_moves_to_the_next_deadline(
    view: LiveView, world: Any, cb: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    await send(world, cb, "a", "b", "c", healthy=False)  # trips the breaker: OPEN, 5 s timeout
    assert world.clock.now() == 0.0
    async with http.post(view.url + "api/control", json={"action": "step"}) as response:
        assert response.status == 200
    assert view.pacer is not None
    await wait_for(lambda: view.pacer.steps == 1, "the step")
    assert world.clock.now() == 5.0 and world.bb.circuit == "HALF_OPEN"
    snap = await get_json(http, view.url + "api/snapshot")
    assert snap["time"] == 5.0 and snap["machines"][0]["keys"][0]["state"] == "CircuitBreakerHalfOpen"
    assert snap["control"]["paused"] and snap["control"]["steps"] == 1


async def test_resume_runs_the_clock_at_the_speed_asked(
    view: LiveView, world: Any, http: aiohttp.ClientSession
) -> None:
    async with http.post(view.url + "api/control", json={"action": "speed", "speed": 1000}) as response:
        assert (await response.json())["speed"] == 1000
    async with http.post(view.url + "api/control", json={"action": "resume"}) as response:
        assert (await response.json())["paused"] is False
    await wait_for(lambda: world.clock.now() > 10, "virtual time to move")
    view.pause()
    await asyncio.sleep(0.1)
    stopped = world.clock.now()
    await asyncio.sleep(0.1)
    assert world.clock.now() == stopped


async def read_event(stream: aiohttp.ClientResponse) -> tuple[str, Any]:
    """The next server-sent event of ``stream``: (kind, data)."""
    kind, data = "", ""
    async for raw in stream.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif not line and kind:
            return kind, json.loads(data)
    raise AssertionError("the stream ended")


async def test_the_stream_sends_a_snapshot_then_updates(
    view: LiveView, world: Any, cb: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    await send(world, cb, "a")
    async with http.get(view.url + "api/stream?history=1") as stream:
        assert stream.content_type == "text/event-stream"
        kind, data = await read_event(stream)
        assert kind == "snapshot" and [e["seq"] for e in data["history"]] == [6]
        assert data["server"] == view.hub.instance and len(view.hub.instance) == 16
        assert data["snapshot"]["places"][PREFIX + "success"] == 1
        await send(world, cb, "b")
        kind, data = await read_event(stream)
        # b's four net events and the breaker machine's MessageHandled
        assert kind == "update" and [e["seq"] for e in data["events"]] == [7, 8, 9, 10, 11]
        assert data["snapshot"]["places"][PREFIX + "success"] == 2


async def test_a_client_that_disconnects_mid_stream_does_not_disturb_the_run(
    view: LiveView, world: Any, cb: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    stream = await http.get(view.url + "api/stream")
    await read_event(stream)
    assert len(view.hub.clients) == 1
    stream.close()  # gone without a goodbye, mid-stream
    for i in range(5):  # the next updates find the connection closed
        await send(world, cb, f"r{i}")
        await asyncio.sleep(0.06)
    await wait_for(lambda: not view.hub.clients, "the server to notice")
    assert len(world.runner.tokens("success")) == 5 and not world.runner.errors
    snap = await get_json(http, view.url + "api/snapshot")  # and the view still serves
    assert snap["places"][PREFIX + "success"] == 5


async def test_a_client_that_disconnects_while_the_view_is_idle_is_no_longer_counted(
    view: LiveView, http: aiohttp.ClientSession
) -> None:
    stream = await http.get(view.url + "api/stream")
    assert (await read_event(stream))[0] == "snapshot"
    assert (await read_event(stream))[0] == "update"  # the view's first look sends the state it saw
    assert (await get_json(http, view.url + "api/snapshot"))["stats"]["clients"] == 1
    stream.close()  # gone while the paused run is idle: no update will find its connection closed
    await wait_for(lambda: not view.hub.clients, "the server to notice")  # not a keep-alive later
    assert (await get_json(http, view.url + "api/snapshot"))["stats"]["clients"] == 0


async def test_closing_the_view_ends_open_streams(
    world: Any, cb: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    view = LiveView(world.runner, port=0)
    await view.start()
    stream = await http.get(view.url + "api/stream")
    await read_event(stream)
    await view.close()
    assert await stream.content.read() == b""  # the stream ended cleanly
    await send(world, cb, "after")  # the runner goes on without the view
    assert [r.id for r in world.runner.tokens("success")] == ["after"]
    assert not view.hub.clients and len(world.runner.errors) == 0


async def test_the_picture_follows_a_net_changed_while_running(
    view: LiveView, world: Any, http: aiohttp.ClientSession
) -> None:
    first = await get_json(http, view.url + "api/snapshot")
    world.runner.add_place("audit")
    await world.runner.run_until_idle()
    snap = await get_json(http, view.url + "api/snapshot")
    assert snap["picture"] == first["picture"] + 1 and snap["places"][PREFIX + "audit"] == 0
    async with http.get(view.url + "diagram.svg") as response:
        assert f'data-node="{PREFIX}audit"' in await response.text()


async def test_many_pages_asking_for_a_changed_picture_get_it_drawn_once(
    view: LiveView, world: Any, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: list[str] = []

    def counting(diagram: Any) -> str:
        drawn.append(diagram.name)
        return picture_svg(diagram)

    picture_svg = view_module.picture_svg
    monkeypatch.setattr(view_module, "picture_svg", counting)
    world.runner.add_place("audit")

    async def picture() -> str:
        async with http.get(view.url + "diagram.svg") as response:
            return await response.text()

    pictures = await asyncio.gather(*(picture() for _ in range(8)))
    assert drawn == ["CircuitBreakerOrchestrator"] and all(f'"{PREFIX}audit"' in svg for svg in pictures)
