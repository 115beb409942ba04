"""The hub: every engine event reaches it; a slow client's backlog is coalesced, counted, never blocking."""

import json
import tracemalloc
from typing import Any

import attrs
import pytest

from mycorrhizal.live import Client, Hub, LiveView, MachineWatch, NetWatch
from mycorrhizal.septum import StateMachine

from .crossing import Crossing


def test_a_client_that_falls_behind_gets_a_snapshot_instead_of_its_backlog() -> None:
    client = Client(limit=3)
    assert all(client.offer(f"update {i}", events=2) for i in range(3))
    assert not client.offer("update 3", events=5)  # full: the backlog goes, a snapshot comes next
    assert client.resync and not client.queue
    assert (client.dropped, client.coalesced) == (3 * 2 + 5, 1)
    assert not client.offer("update 4", events=1)  # still waiting for its snapshot: covered by it
    assert (client.dropped, client.coalesced) == (12, 1)


@pytest.mark.parametrize("limit", [1, 4])
async def test_the_hub_counts_what_slow_clients_skipped(world: Any, cb: dict[str, Any], limit: int) -> None:
    hub = Hub(NetWatch(world.runner), client_buffer=limit, min_interval=0)
    world.runner.add_observer(hub.observe)
    slow, fast = hub.connect(), hub.connect()
    for i in range(6):
        world.runner.add_token("input_queue", cb["Request"](f"r{i}", "/x"))
        await world.runner.run_until_idle()
        hub.flush()
        while fast.queue:  # this one keeps up; the slow one never reads
            fast.queue.popleft()
    # Every engine event reached the view: 24 of the net and 7 of the breaker machine, which the net
    # forwards from the moment the first request makes it (it enters CLOSED, then a MessageHandled
    # per request).
    assert hub.seen == 31 and len(hub.history) == 31
    assert fast.dropped == 0 and fast.coalesced == 0
    assert slow.coalesced == 1 and slow.dropped == 31  # all its events: it read none
    assert (hub.dropped, hub.coalesced) == (slow.dropped, 1)
    # What it gets instead: the state now, with its counters.
    message = json.loads(hub.snapshot_message(slow, history=0))
    assert message["snapshot"]["places"]["CircuitBreakerOrchestrator.success"] == 6
    assert (message["dropped"], message["coalesced"]) == (31, 1)
    hub.disconnect(slow)
    assert (hub.dropped, hub.coalesced) == (31, 1)  # counts outlive the client
    world.runner.remove_observer(hub.observe)


async def test_more_events_between_flushes_than_the_history_holds(world: Any, cb: dict[str, Any]) -> None:
    hub = Hub(NetWatch(world.runner), history=10, min_interval=3600)
    world.runner.add_observer(hub.observe)
    world.runner.add_tokens("input_queue", [cb["Request"](f"r{i}", "/x") for i in range(5)])
    await world.runner.run_until_idle()
    hub.flush()
    assert (hub.seen, hub.skipped) == (26, 16)  # 20 of the net, 6 of the breaker machine
    assert [r["seq"] for r in hub.history] == list(range(17, 27))  # the newest, numbered as seen
    world.runner.remove_observer(hub.observe)
    hub.close()


@attrs.frozen
class Beat:
    """An event of a runtime that emits a great many."""

    n: int


@pytest.mark.parametrize(("history", "kept"), [(100, 100), (0, 1000)])
async def test_a_burst_of_events_between_two_flushes_holds_no_more_than_it_keeps(
    history: int, kept: int
) -> None:
    """A runtime that emits without yielding to the loop (a machine's run_sync, a long synchronous
    handler) holds off the flush: the view holds the newest events only, the rest it counts."""
    hub = Hub(MachineWatch(StateMachine(Crossing)), history=history, min_interval=3600)
    burst = 20_000
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(burst):
            hub.observe(Beat(n))
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 500 * kept  # every one of them held: over 100 bytes each, 2 MB
    page = hub.connect()
    hub.flush()
    assert (hub.seen, hub.skipped) == (burst, burst - kept)
    [message] = [json.loads(text) for text, _ in page.queue]
    sent = [(record["seq"], record["fields"]["n"]) for record in message["events"]]
    assert sent == [(n + 1, n) for n in range(burst - kept, burst)]  # the newest, numbered as seen
    hub.close()


async def test_the_view_never_waits_for_a_page(world: Any, cb: dict[str, Any]) -> None:
    async with LiveView(world.runner, port=0, client_buffer=2) as view:
        view.hub.min_interval = 0
        stuck = view.hub.connect()  # a page that never reads
        for i in range(20):
            world.runner.add_token("input_queue", cb["Request"](f"r{i}", "/x"))
            await world.runner.run_until_idle()
            view.hub.flush()
        assert len(world.runner.tokens("success")) == 20
        assert len(stuck.queue) <= 2 and stuck.coalesced >= 1 and view.hub.seen == 80 + 21  # net + machine


@pytest.mark.parametrize("history", [500, 0])
@pytest.mark.parametrize("look", ["a page connects", "someone reads /api/events"])
async def test_open_pages_get_every_event_when_another_looks_in_between(
    world: Any, cb: dict[str, Any], look: str, history: int
) -> None:
    hub = Hub(NetWatch(world.runner), history=history, min_interval=3600)
    hub.flush()  # the next flush is an hour away: only the flush below sends anything
    world.runner.add_observer(hub.observe)
    page = hub.connect()
    newcomers: list[tuple[Client, list[int]]] = []
    for i in range(3):
        world.runner.add_token("input_queue", cb["Request"](f"r{i}", "/x"))
        await world.runner.run_until_idle()
        if i == 2:
            break
        if look == "a page connects":
            newcomer = hub.connect()
            first = json.loads(hub.snapshot_message(newcomer, history=200))
            newcomers.append((newcomer, [record["seq"] for record in first["history"]]))
        else:
            hub.flush_pending_only()  # what /api/events does before it answers
    hub.flush()

    def sent(client: Client) -> list[int]:
        return [record["seq"] for message, _ in client.queue for record in json.loads(message)["events"]]

    assert hub.seen > 12 and sent(page) == list(range(1, hub.seen + 1))
    for newcomer, had in newcomers:  # what its first snapshot had, then what came after: none twice
        got = had + sent(newcomer)
        assert got == sent(page)[-len(got) :] and (len(got) == hub.seen or not history)
    world.runner.remove_observer(hub.observe)
    hub.close()


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("history", -1, r"history=-1 \(events kept for pages that open later: an int >= 0"),
        ("history", True, r"history=True \(events kept"),
        ("history", 10.0, r"history=10.0 \(events kept"),
        ("client_buffer", -1, r"client_buffer=-1 \(updates a page may fall behind"),
        ("client_buffer", 2.5, r"client_buffer=2.5 \(updates"),
        ("client_buffer", "64", r"client_buffer='64' \(updates"),
        ("min_interval", -0.1, r"min_interval=-0.1 \(real seconds between two updates of the pages"),
        ("min_interval", float("nan"), r"min_interval=nan \(real seconds"),
        ("min_interval", float("inf"), r"min_interval=inf \(real seconds"),  # the pages would never update
        ("min_interval", True, r"min_interval=True \(real seconds"),
    ],
)
def test_hub_options_that_mean_nothing_are_refused(world: Any, option: str, value: Any, says: str) -> None:
    with pytest.raises(ValueError, match=rf"^live view: {says}.*\. Fix: pass the values in brackets$"):
        Hub(NetWatch(world.runner), **{option: value})
    if option != "min_interval":  # (LiveView has no min_interval: its hub keeps the default)
        with pytest.raises(ValueError, match=rf"^live view: {says}"):
            LiveView(world.runner, port=0, **{option: value})


@pytest.mark.parametrize("port", [-1, 65536, True, 80.0, "8000"])
def test_a_port_that_is_no_tcp_port_is_refused(world: Any, port: Any) -> None:
    # True bound port 1 (and '8000' was handed to the server as it was) until start() found out
    with pytest.raises(
        ValueError, match=r"live view: port=.* is not a TCP port\. Fix: pass an int from 0 to 65535"
    ):
        LiveView(world.runner, port=port)
