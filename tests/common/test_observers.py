"""The observer set every engine emits through: order, async delivery, failures, shutdown."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, ClassVar

import attrs
import pytest

from mycorrhizal.common.frozen import field
from mycorrhizal.common.observers import ON_REQUEST, Event, Forwarded, Observers, maker, wants_all
from tests._observing import Recorder

LOG = logging.getLogger("mycorrhizal.test")


@pytest.fixture
def observers() -> Observers:
    return Observers(LOG, "machine M")


def events(n: int) -> list[Event]:
    return [Event(source="M", time=float(i)) for i in range(n)]


def test_empty_set_is_false_and_attached_set_is_true(observers: Observers) -> None:
    assert not observers
    observers.add(lambda e: None)
    assert observers and len(observers) == 1


def test_plain_observer_sees_every_event_in_order_at_once(observers: Observers) -> None:
    seen: list[Event] = []
    observers.add(seen.append)
    for e in events(5):
        observers.emit(e)
    assert seen == events(5)


async def test_async_observer_gets_every_event_in_order_even_when_slow(observers: Observers) -> None:
    seen: list[float] = []

    async def slow(event: Event) -> None:
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        seen.append(event.time)

    observers.add(slow)
    for e in events(50):
        observers.emit(e)
    assert seen == []  # delivered by its own task, never inline
    await observers.drain()
    assert seen == [float(i) for i in range(50)]


async def test_plain_callable_returning_a_coroutine_becomes_async_without_duplicates(
    observers: Observers,
) -> None:
    seen: list[float] = []

    async def record(event: Event) -> None:
        seen.append(event.time)

    observers.add(lambda event: record(event))
    for e in events(3):
        observers.emit(e)
    await observers.drain()
    assert seen == [0.0, 1.0, 2.0]


async def test_a_plain_callable_returning_a_coroutine_that_removed_itself_stays_removed(
    observers: Observers,
) -> None:
    # A one-shot observer: it removes itself on its first record.  The coroutine it returned for that
    # record is still awaited, but it is not attached again and gets nothing more.
    seen: list[float] = []

    async def record(event: Event) -> None:
        seen.append(event.time)

    def once(event: Event) -> Any:
        observers.remove(once)
        return record(event)

    observers.add(once)
    for e in events(3):
        observers.emit(e)
    await observers.drain()
    assert seen == [0.0]
    assert not observers


@pytest.mark.parametrize("kind", ["plain", "async"])
async def test_an_observer_that_raises_is_logged_and_detached_and_others_go_on(
    observers: Observers, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    good: list[float] = []

    def bad_plain(event: Event) -> None:
        raise KeyError("boom")

    async def bad_async(event: Event) -> None:
        raise KeyError("boom")

    observers.add(bad_plain if kind == "plain" else bad_async)
    observers.add(good.append)
    # The engine never sees the failure.
    with caplog.at_level(logging.WARNING, logger="mycorrhizal.test"):
        for e in events(3):
            observers.emit(e)
            await observers.drain()
    assert [e.time for e in good] == [0.0, 1.0, 2.0]  # type: ignore[attr-defined]
    assert len(observers) == 1
    failures = [r for r in caplog.records if "detached" in r.getMessage()]
    assert len(failures) == 1 and "machine M" in failures[0].getMessage()
    assert failures[0].exc_info is None  # one line at WARNING; the traceback is DEBUG only


@pytest.mark.parametrize("started", [True, False], ids=["in-a-record", "not-started"])
def test_an_async_observer_cut_off_by_the_loop_ending_says_what_it_did_not_get(
    observers: Observers, caplog: pytest.LogCaptureFixture, started: bool
) -> None:
    # A program ending without the runtime's aclose()/stop() lost an async observer's queued
    # records without a word: asyncio.run() cancelled its task at shutdown.
    got: list[float] = []

    async def slow(event: Event) -> None:
        await asyncio.Event().wait()  # (never set: the loop ends first)
        got.append(event.time)

    async def program() -> None:
        observers.add(slow)
        for e in events(3):
            observers.emit(e)
        if started:
            await asyncio.sleep(0)  # its task starts, and waits in the first record

    with caplog.at_level(logging.WARNING, logger=LOG.name):
        asyncio.run(program())
    assert got == []
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and re.fullmatch(
        r"machine M: async observer <function .*slow at .*> was cancelled with 3 records not delivered "
        r"\(the event loop ended\?\); await the runtime's aclose\(\) \(a net runner's stop\(\)\) "
        r"before the program ends",
        warnings[0],
    )


async def test_events_emitted_before_a_loop_runs_are_delivered_by_drain(observers: Observers) -> None:
    seen: list[float] = []

    async def record(event: Event) -> None:
        seen.append(event.time)

    observers.add(record)

    def emit_without_loop() -> None:
        for e in events(3):
            observers.emit(e)

    # Emitting from a worker thread has no running loop there: the events wait, none is lost.
    await asyncio.to_thread(emit_without_loop)
    await observers.drain()
    assert seen == [0.0, 1.0, 2.0]


async def test_removing_an_async_observer_still_delivers_what_was_queued(observers: Observers) -> None:
    seen: list[float] = []

    async def record(event: Event) -> None:
        seen.append(event.time)

    observers.add(record)
    for e in events(3):
        observers.emit(e)
    observers.remove(record)
    observers.emit(Event(source="M", time=99.0))
    await observers.drain()
    assert seen == [0.0, 1.0, 2.0]
    assert not observers


async def test_an_async_observer_removed_and_added_again_gets_its_events_in_order(
    observers: Observers,
) -> None:
    # Attached again while records are still queued for it: the new records come after those, not
    # from a second task running beside the first.
    seen: list[float] = []

    async def slow(event: Event) -> None:
        for _ in range(3):  # several turns of the loop per record
            await asyncio.sleep(0)
        seen.append(event.time)

    observers.add(slow)
    for e in events(3):
        observers.emit(e)
    observers.remove(slow)
    observers.add(slow)
    for e in events(6)[3:]:
        observers.emit(e)
    await observers.drain()
    assert seen == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


@attrs.define
class Named:
    """An observer with value equality (as attrs and dataclass classes have): two of one name are equal."""

    name: str
    seen: list[Event] = attrs.field(factory=list, eq=False)
    fail: bool = attrs.field(default=False, eq=False)

    def __call__(self, event: Event) -> None:
        if self.fail:
            raise RuntimeError("broken")
        self.seen.append(event)


@pytest.mark.parametrize("how", ["removed", "raised"])
async def test_an_observer_equal_to_another_is_not_taken_for_it(observers: Observers, how: str) -> None:
    # Removing one of two equal observers, or one of them raising, leaves the other attached.
    kept, gone = Named("log"), Named("log")
    observers.add(kept)
    observers.add(gone)
    if how == "removed":
        observers.remove(gone)
    else:
        gone.fail = True
        observers.emit(Event(source="M", time=-1.0))
    for e in events(2):
        observers.emit(e)
    assert kept.seen[-2:] == events(2) and gone.seen == []
    assert len(observers) == 1


class Told:
    """An observer that counts how often it was told it is no longer called."""

    def __init__(self, fails: bool = False) -> None:
        self.fails = fails
        self.detached = 0

    def __call__(self, event: Event) -> None:
        if self.fails:
            raise KeyError("boom")

    def on_detached(self) -> None:
        self.detached += 1


class ToldAsync(Told):
    async def __call__(self, event: Event) -> None:  # type: ignore[override]
        super().__call__(event)


@pytest.mark.parametrize("cls", [Told, ToldAsync], ids=["plain", "async"])
@pytest.mark.parametrize("how", ["removed", "raised"])
async def test_an_observer_is_told_when_it_is_no_longer_called(
    observers: Observers, cls: type[Told], how: str, caplog: pytest.LogCaptureFixture
) -> None:
    # An observer had no way to know the runtime stopped calling it (spores' observations kept
    # taking themselves for attached: attach() did nothing, observe() was refused).
    observer, other = cls(fails=how == "raised"), Told()
    observers.add(observer)
    observers.add(other)
    with caplog.at_level(logging.CRITICAL, logger=LOG.name):
        if how == "removed":
            observers.remove(observer)
        else:
            observers.emit(events(1)[0])
            await observers.drain()
    assert (observer.detached, other.detached, len(observers)) == (1, 0, 1)


def test_remove_of_an_unknown_observer_says_so(observers: Observers) -> None:
    with pytest.raises(ValueError, match=r"machine M: remove_observer\(.*\): that observer is not attached"):
        observers.remove(print)


def test_add_of_something_not_callable_says_what_to_pass(observers: Observers) -> None:
    with pytest.raises(TypeError, match=r"machine M: add_observer.* got 42\. Fix: pass a function"):
        observers.add(42)  # type: ignore[arg-type]


def test_events_are_frozen_and_keyword_only() -> None:
    event = Event(source="M", time=1.0)
    with pytest.raises(AttributeError, match="can't set attribute"):
        event.time = 2.0  # type: ignore[misc]
    with pytest.raises(TypeError, match="takes 1 positional argument but 3 were given"):
        Event("M", 1.0)  # type: ignore[misc]


async def test_watchers_hear_when_the_first_observer_comes_and_the_last_goes(observers: Observers) -> None:
    heard: list[bool] = []
    observers.watch(heard.append)

    def plain(event: Event) -> None:
        pass

    async def queued(event: Event) -> None:
        pass

    def raising(event: Event) -> None:
        raise KeyError("boom")

    observers.add(plain)
    observers.add(queued)  # not the first: nothing to tell
    observers.remove(plain)
    assert heard == [True] and observers.active
    observers.remove(queued)
    assert heard == [True, False] and not observers.active
    observers.add(raising)
    observers.emit(events(1)[0])  # it raises, is detached: the last one went
    assert heard == [True, False, True, False]
    observers.unwatch(heard.append)
    observers.add(plain)
    assert heard == [True, False, True, False]


def test_observers_want_every_record_unless_they_say_otherwise(observers: Observers) -> None:
    assert not observers.wants(Event)  # nobody attached

    def picky(event: Event) -> None:
        pass

    picky.wants = lambda kind: kind is Forwarded  # type: ignore[attr-defined]
    observers.add(picky)
    assert observers.wants(Forwarded) and not observers.wants(Event)

    async def everything(event: Event) -> None:
        pass

    observers.add(everything)
    assert observers.wants(Event)
    observers.remove(everything)
    assert not observers.wants(Event)


class Announced(Event):
    """A record told on request (as StateLeft, FiringStarted, TickStarted are)."""

    on_request: ClassVar[bool] = True
    step: int


def asks_for_announced(kind: type) -> bool:
    return kind is Announced


def test_records_told_on_request_go_only_to_observers_that_ask(observers: Observers) -> None:
    assert Announced in ON_REQUEST and Event not in ON_REQUEST
    everything, picky, default = Recorder(), Recorder(), []
    picky.wants = asks_for_announced  # type: ignore[method-assign]
    observers.add(default.append)  # no wants: every record but those told on request
    assert not observers.wants(Announced) and observers.wants(Event) and not observers.requested
    observers.add(picky)
    assert observers.requested == {Announced} and observers.wants(Announced)
    observers.add(everything)
    assert observers.requested == set(ON_REQUEST)
    note, announced = Event(source="M", time=0.0), Announced(source="M", time=1.0, step=1)
    observers.emit(note)
    observers.emit_requested(announced)
    assert default == [note] and everything == [note, announced] and picky == [note, announced]
    observers.remove(everything)
    observers.remove(picky)
    assert observers.requested == frozenset()  # nobody asks: engines build no such record
    observers.emit_requested(announced)
    assert default == [note]


@pytest.mark.parametrize("alone", [True, False], ids=["alone", "with another"])
def test_a_take_requested_gets_the_records_told_on_request_in_the_observers_place(
    observers: Observers, alone: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # A forwarder tells on what it was told as it was told: records told to everyone through the
    # observer, those told on request through its take_requested (which detaches it if it raises).
    told, requested = [], []

    @wants_all
    def forward(event: Event) -> None:
        told.append(event)

    def take_requested(event: Event) -> None:
        requested.append(event)
        if event.step == 2:  # type: ignore[attr-defined]
            raise RuntimeError("broken forwarder")

    forward.take_requested = take_requested  # type: ignore[attr-defined]
    observers.add(forward)
    if not alone:
        observers.add(Recorder())
    note, first, second = (
        Event(source="M", time=0.0),
        Announced(source="M", time=1.0, step=1),
        Announced(source="M", time=2.0, step=2),
    )
    observers.emit(note)
    observers.emit(first)  # an engine may tell a record of such a class to everyone
    send = observers.senders.get(Announced) or observers.sender(Announced)
    send(first)
    assert told == [note, first] and requested == [first]
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        try:
            send(second)
        except RuntimeError as exc:  # the lone observer's own call: the engine hands it to failed()
            observers.failed(send, exc, second)
    assert "broken forwarder" in caplog.text and "it is detached" in caplog.text
    assert len(observers) == (0 if alone else 1)  # detached, though it was its take_requested that raised
    observers.emit(note)
    assert told == [note, first]


class Forwarding:
    """An observer object whose ``take_requested`` is a method (a new bound method each read)."""

    def __init__(self) -> None:
        self.told: list[Event] = []

    def wants(self, kind: type) -> bool:
        return True

    def __call__(self, event: Event) -> None:
        self.told.append(event)

    def take_requested(self, event: Event) -> None:
        raise RuntimeError("broken forwarder")


def test_an_observer_whose_take_requested_method_raises_is_detached(
    observers: Observers, caplog: pytest.LogCaptureFixture
) -> None:
    # It was logged as detached but stayed attached (its method compared by identity): it raised
    # again, and was logged again, for every record.
    forwarding = Forwarding()
    observers.add(forwarding)
    first = Announced(source="M", time=1.0, step=1)
    send = observers.senders.get(Announced) or observers.sender(Announced)
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        try:
            send(first)
        except RuntimeError as exc:  # the lone observer's own call: the engine hands it to failed()
            observers.failed(send, exc, first)
    assert caplog.text.count("it is detached") == 1 and len(observers) == 0
    observers.emit(Event(source="M", time=2.0))
    assert forwarding.told == []


def test_wants_all_makes_a_function_or_a_method_ask_for_everything(observers: Observers) -> None:
    got: list[Event] = []

    @wants_all
    def function(event: Event) -> None:
        got.append(event)

    class Watcher:
        @wants_all
        def observe(self, event: Event) -> None:
            got.append(event)

    for observer in (function, Watcher().observe):
        observers.add(observer)
        assert observers.requested == set(ON_REQUEST)
        observers.emit_requested(Announced(source="M", time=0.0, step=2))
        observers.remove(observer)
    assert [e.step for e in got] == [2, 2]  # type: ignore[attr-defined]


async def test_an_async_observer_asking_for_records_told_on_request_gets_them_in_order(
    observers: Observers,
) -> None:
    got: list[Event] = []

    @wants_all
    async def slow(event: Event) -> None:
        await asyncio.sleep(0)
        got.append(event)

    observers.add(slow)
    first, second = Announced(source="M", time=0.0, step=1), Event(source="M", time=1.0)
    observers.emit_requested(first)
    observers.emit(second)
    await observers.drain()
    assert got == [first, second]


class Moved(Event):
    state: str
    label: Any = field(eq=False)


def test_a_maker_builds_the_same_frozen_record_positionally() -> None:
    make = maker(Moved)
    made = make(("M", 1.5, "Idle", "GO"))
    assert made == Moved(source="M", time=1.5, state="Idle", label="GO")
    assert (made.source, made.time, made.state, made.label) == ("M", 1.5, "Idle", "GO")
    assert type(made) is Moved and repr(made) == "Moved(source='M', time=1.5, state='Idle', label='GO')"
    with pytest.raises(attrs.exceptions.FrozenInstanceError, match="can't set attribute"):
        made.state = "Busy"  # type: ignore[misc]


def test_an_event_class_made_with_attrs_is_refused_with_the_way_to_declare_it() -> None:
    with pytest.raises(TypeError, match="record class Checked: .* declare its fields as plain annotations"):

        @attrs.frozen(slots=True, kw_only=True)
        class Checked(Event):
            n: int


def test_send_is_the_lone_plain_observer_itself_else_emit(observers: Observers) -> None:
    def one(event: Event) -> None:
        pass

    def two(event: Event) -> None:
        pass

    async def queued(event: Event) -> None:
        pass

    assert observers.send == observers.emit
    observers.add(one)
    assert observers.send is one  # an engine calls it without emit()'s frame
    observers.add(two)
    assert observers.send == observers.emit
    observers.remove(two)
    assert observers.send is one
    observers.add(queued)
    assert observers.send == observers.emit
    observers.remove(queued)
    observers.remove(one)
    assert observers.send == observers.emit


def test_direct_is_send_while_nobody_asks_for_records_told_on_request(observers: Observers) -> None:
    def one(event: Event) -> None:
        pass

    def picky(event: Event) -> None:
        pass

    picky.wants = asks_for_announced  # type: ignore[attr-defined]
    assert observers.direct == observers.send == observers.emit
    observers.add(one)
    assert observers.direct is observers.send is one
    observers.add(picky)  # someone asks: hot paths tell those records first, the general way
    assert observers.direct is None and observers.send == observers.emit
    observers.remove(one)
    assert observers.direct is None and observers.send is picky
    observers.remove(picky)
    observers.add(one)
    assert observers.direct is one


async def test_what_send_raised_or_returned_is_dealt_with_as_emit_would(
    observers: Observers, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[float] = []

    async def record(event: Event) -> None:
        seen.append(event.time)

    def disguised(event: Event) -> Any:
        return record(event)

    first, second = events(2)
    observers.add(disguised)
    for event in (first, second):
        send = observers.send  # read for each record, as engines do
        result = send(event)
        if result is not None:
            observers.returned(send, result)
    await observers.drain()
    assert seen == [0.0, 1.0] and observers.send == observers.emit  # it is an async one now

    def raising(event: Event) -> None:
        raise KeyError("boom")

    observers.remove(disguised)
    observers.add(raising)
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        try:
            observers.send(first)
        except KeyError as exc:
            observers.failed(raising, exc, first)
    assert not observers and "observer" in caplog.text and "is detached" in caplog.text


def test_a_wants_that_raises_is_logged_and_taken_for_a_no(
    observers: Observers, caplog: pytest.LogCaptureFixture
) -> None:
    got: list[Event] = []

    def picky(event: Event) -> None:
        got.append(event)

    # Reads what only its own engine's records have: asked about another engine's class, it raises.
    picky.wants = lambda kind: kind.step > 0  # type: ignore[attr-defined]
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        observers.add(picky)
    assert len(observers) == 1 and observers.active and Announced not in observers.requested
    assert "wants(" in caplog.text and "it is not told those records" in caplog.text
    note = Event(source="M", time=0.0)
    observers.emit(note)
    observers.emit_requested(Announced(source="M", time=1.0, step=1))
    assert got == [note]


class Second(Event):
    """Another record told on request: a wants() is asked about every such class."""

    on_request: ClassVar[bool] = True


@pytest.mark.parametrize("change", ["add plain", "add async", "remove", "ask again"])
def test_a_wants_that_raises_is_logged_once_per_observer(
    observers: Observers, caplog: pytest.LogCaptureFixture, change: str
) -> None:
    # Asked again about every class told on request at each change of the set, it was logged
    # again each time, one WARNING per class.
    def picky(event: Event) -> None:
        pass

    def other(event: Event) -> None:
        pass

    async def queued(event: Event) -> None:
        pass

    def refuses(kind: type) -> bool:
        raise LookupError(f"no {kind.__name__} here")

    picky.wants = refuses  # type: ignore[attr-defined]
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        observers.add(picky)
        for _ in range(3):
            if change == "add plain":
                observers.add(other)
            elif change == "add async":
                observers.add(queued)
            elif change == "remove":
                observers.add(other)
                observers.remove(other)
            else:
                observers.emit_requested(Second(source="M", time=0.0))
                observers.senders.clear()  # (asked again, as after a change)
        logged = [r.getMessage() for r in caplog.records if "wants(" in r.getMessage()]
        observers.remove(picky)
        observers.add(picky)  # attached anew: said again, once
    assert len(logged) == 1 and "observer <function" in logged[0] and "raised LookupError: no " in logged[0]
    assert len([r for r in caplog.records if "wants(" in r.getMessage()]) == 2
