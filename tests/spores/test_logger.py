"""get_spore_sync/async(...).log_event, event(), log_object() and spore (UPSTREAM-API 6.3, 6.4)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum, auto
from typing import Annotated, Any

import pytest

from mycorrhizal import spores
from mycorrhizal.common import DefinitionError
from mycorrhizal.hypha import NetBuilder
from mycorrhizal.rhizomorph import bt
from mycorrhizal.septum import LabeledTransition, StateConfiguration, StateMachine, septum
from mycorrhizal.spores import Relationship, SporesAttr, get_spore_async, get_spore_sync, spore

from .conftest import MemorySink


@spore.object("Customer")
@dataclass
class Customer:
    id: str
    name: Annotated[str, SporesAttr]
    tier: Annotated[str, SporesAttr(name="level")] = "gold"
    secret: str = "not logged"


@dataclass
class Order:
    id: str
    total: float
    items: list[str] = field(default_factory=list)


@dataclass
class Shop:
    owner: Customer
    last: Order | None = None


log = get_spore_async(__name__)
sync_log = get_spore_sync(__name__)


@log.log_event(
    event_type="OrderCreated",
    relationships={"order": ("return", "Order", ["total"]), "customer": ("customer", "Customer")},
    attributes={
        "item_count": lambda items: len(items),
        "who": "customer.name",
        "channel": "web",
        "n": "count",
    },
)
async def create_order(customer: Customer, items: list[str], count: int = 1) -> Order:
    return Order("o1", 9.5, items)


async def test_objects_are_written_before_their_event_with_the_given_qualifiers(sink: MemorySink) -> None:
    await create_order(Customer("c1", "Ann"), ["a", "b"])
    assert sink.kinds() == ["object", "object", "event"]
    order, customer = sink.objects()
    assert order == {"id": "o1", "type": "Order", "attributes": {"total": 9.5}, "relationships": []}
    assert customer["type"] == "Customer"
    assert customer["attributes"] == {"name": "Ann", "level": "gold"}  # only the SporesAttr fields
    (event,) = sink.events()
    assert event["type"] == "OrderCreated"
    assert event["attributes"] == {"item_count": 2, "who": "Ann", "channel": "web", "n": 1}
    assert event["relationships"] == [("o1", "order"), ("c1", "customer")]


def test_sync_functions_self_dict_attributes_and_the_blackboard_source(sink: MemorySink) -> None:
    class Cashier:
        id = "till-3"

        @sync_log.log_event(
            "Paid",
            relationships={
                "till": ("self", "Till", {"label": lambda till: f"T{till.id}", "fixed": 1, "ident": "id"}),
                "order": ("bb", "Order", ["total"]),
                "owner": ("bb", "Customer"),
                "missing": ("ret", "Receipt"),
            },
        )
        def pay(self, bb: Shop) -> None:
            return None

    Cashier().pay(Shop(Customer("c2", "Bo"), Order("o7", 3.0)))
    objects = {o["id"]: o for o in sink.objects()}
    assert objects["till-3"]["attributes"] == {"label": "Ttill-3", "fixed": 1, "ident": "till-3"}
    assert objects["o7"] == {"id": "o7", "type": "Order", "attributes": {"total": 3.0}, "relationships": []}
    assert objects["c2"]["type"] == "Customer"
    (event,) = sink.events("Paid")
    assert event["relationships"] == [("till-3", "till"), ("o7", "order"), ("c2", "owner")]  # None skipped


def test_nothing_is_written_when_the_function_raises(sink: MemorySink) -> None:
    @sync_log.log_event("Boom", attributes={"x": 1})
    def boom() -> None:
        raise KeyError("no")

    with pytest.raises(KeyError, match="'no'"):
        boom()
    assert sink.records == []


def test_sources_and_callables_that_name_nothing_are_definition_errors() -> None:
    with pytest.raises(DefinitionError, match=r"relationship 'order' reads 'odrer'") as info:

        @sync_log.log_event(
            "X",
            relationships={"order": ("odrer", "Order"), "bad": ["ret", "T"]},
            attributes={"n": lambda itms: len(itms)},
        )
        def f(order: Order) -> None: ...

    assert len(info.value.problems) == 3
    assert "itms" in str(info.value)


@pytest.mark.parametrize("logger", [sync_log, log], ids=["sync", "async"])
def test_a_problem_names_a_local_function_as_written(logger: Any) -> None:
    # It read "log_event('X') on 'test_...<locals>.f'": the test's name, and Python's <locals>.
    with pytest.raises(
        DefinitionError, match=r"^log_event\('X'\) on f has 1 problem:\n  - log_event\('X'\) on f: "
    ):

        @logger.log_event("X", relationships={"order": ("odrer", "Order")})
        def f(order: Order) -> None: ...


def test_relationship_singular_is_accepted_with_a_deprecation_warning(sink: MemorySink) -> None:
    with pytest.warns(DeprecationWarning, match="the keyword is 'relationships'"):

        @sync_log.log_event("Made", relationship={"order": ("return", "Order", ["total"])})
        def make() -> Order:
            return Order("o2", 1.0)

    make()
    assert sink.events()[0]["relationships"] == [("o2", "order")]
    with pytest.raises(TypeError, match="relationships= only"):
        sync_log.log_event("X", relationships={}, relationship={})


def test_a_failing_attribute_is_logged_and_the_event_still_written(
    sink: MemorySink, caplog: pytest.LogCaptureFixture
) -> None:
    @sync_log.log_event("Div", attributes={"ratio": lambda a, b: a / b, "a": "a"})
    def div(a: int, b: int) -> None: ...

    div(1, 0)
    assert sink.events()[0]["attributes"] == {"a": 1}
    assert "attribute 'ratio' could not be computed" in caplog.text


async def test_event_and_log_object_methods(sink: MemorySink) -> None:
    await log.log_object("Order", "o1", status="new")
    await log.event("Shipped", relationships={"order": Relationship("o1", "order")}, weight=2.5)
    sync_log.log_object("Order", "o1", status="shipped")
    sync_log.event("Closed")
    assert sink.kinds() == ["object", "event", "object", "event"]
    assert sink.events("Shipped")[0]["attributes"] == {"weight": 2.5}
    assert sink.events("Shipped")[0]["relationships"] == [("o1", "order")]
    assert [o["attributes"]["status"] for o in sink.objects("o1")] == ["new", "shipped"]


async def test_disabled_spores_write_nothing(sink: MemorySink) -> None:
    spores.configure(enabled=False, transport=sink)
    await create_order(Customer("c1", "Ann"), [])
    sync_log.event("X")
    assert sink.records == []


def test_spore_object_and_the_older_spore_event(sink: MemorySink) -> None:
    assert Customer._spores_object_type == "Customer"  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="decorates a class"):
        spore.object("X")(lambda: None)  # type: ignore[arg-type]

    @spore.event("Greeted", attributes={"loud": True}, objects=["customer", "return"])
    def greet(customer: Customer) -> Order:
        return Order("o3", 0.0)

    greet(Customer("c3", "Cy"))
    event = sink.events("Greeted")[0]
    assert event["relationships"] == [("c3", "customer"), ("o3", "return")]
    assert {o["id"]: o["type"] for o in sink.objects()} == {"c3": "Customer", "o3": "Order"}
    with pytest.raises(DefinitionError, match="objects names 'nope'"):
        spore.event("X", objects=["nope"])(lambda customer: None)


def test_loggers_have_names() -> None:
    assert repr(get_spore_sync("a.b")) == "SyncEventLogger('a.b')"
    assert get_spore_async("x").name == "x"


def doubled_with_cls(cls: type, a: int) -> int:
    return a * 2


def doubled(a: int) -> int:
    return a * 2


@pytest.mark.parametrize(("kind", "fn"), [(classmethod, doubled_with_cls), (staticmethod, doubled)])
def test_log_event_above_classmethod_or_staticmethod_decorates_the_function_inside(
    sink: MemorySink, kind: type, fn: object
) -> None:
    # inspect refused the classmethod object itself ("is not a callable object"), naming no fix.
    class Till:
        double = sync_log.log_event("Doubled", attributes={"a": "a", "result": lambda ret: ret})(kind(fn))

    assert Till.double(3) == Till().double(3) == 6
    assert [event["attributes"] for event in sink.events("Doubled")] == [{"a": 3, "result": 6}] * 2


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"object_cache_size": 0}, r"object_cache_size=0: the cache holds 1 object or more"),
        (
            {"touch_resend_n": -1},
            r"touch_resend_n=-1 is not a count of 0 or more\. "
            r"Fix: pass touch_resend_n= 0 \(never resend unchanged objects\) or more",
        ),
        (
            {"eviction_policy": "lru"},
            r"eviction_policy='lru' is not a policy\. Fix: use one of 'evict_and_log'",
        ),
        ({"object_cache_size": True}, r"object_cache_size=True: the cache holds 1 object or more \(an int"),
        ({"object_cache_size": float("nan")}, r"object_cache_size=nan: the cache holds 1 object or more"),
        ({"object_cache_size": 64.0}, r"object_cache_size=64.0: the cache holds 1 object or more \(an int"),
        ({"object_cache_size": "64"}, r"object_cache_size='64': the cache holds 1 object or more"),
        (
            {"touch_resend_n": float("inf")},
            r"touch_resend_n=inf is not a count of 0 or more\. "
            r"Fix: pass touch_resend_n= 0 \(never resend unchanged objects\) or more",
        ),
        (
            {"touch_resend_n": True},
            r"touch_resend_n=True is not a count of 0 or more\. "
            r"Fix: pass touch_resend_n= 0 .* or more \(an int\)$",
        ),
    ],
)
def test_bad_cache_settings_are_refused_naming_the_keyword(settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=r"configure\(\): " + message):
        spores.configure(**settings)


# -- log_event on engine handlers ---------------------------------------------------------------------


@septum.state(config=StateConfiguration(terminal=True))
class Shipped:
    pass


def logged_on_state(logger: Any, above: bool) -> tuple[Any, Any]:
    """``@septum.on_state`` and a log_event, outer first: log_event written above it, or below."""
    logged = logger.log_event("Packed", attributes={"state": lambda ctx: ctx.state.name})
    return (logged, septum.on_state) if above else (septum.on_state, logged)


def class_form_state(logger: Any, above: bool) -> Any:
    """A class-form state whose logged ``on_state`` returns a label by the class body's bare name."""
    outer, inner = logged_on_state(logger, above)

    @septum.state
    class Packing:
        class Events(Enum):
            PACKED = auto()

        @outer
        @inner
        async def on_state(ctx: Any) -> Any:
            return Events.PACKED  # noqa: F821 - septum resolves the class body's names, through the wrapper

        @septum.transitions
        def transitions() -> list[LabeledTransition]:
            return [LabeledTransition(Events.PACKED, Shipped)]  # noqa: F821

    return Packing


def function_form_state(logger: Any, above: bool) -> Any:
    """The same state in function form."""
    outer, inner = logged_on_state(logger, above)

    @septum.state
    def Packing() -> None:
        @outer
        @inner
        async def on_state(ctx: Any) -> Any:
            return Events.PACKED

        class Events(Enum):
            PACKED = auto()

        @septum.transitions
        def transitions() -> list[LabeledTransition]:
            return [LabeledTransition(Events.PACKED, Shipped)]

    return Packing


@pytest.mark.parametrize("above", [False, True], ids=["below on_state", "above on_state"])
@pytest.mark.parametrize("form", [class_form_state, function_form_state], ids=["class form", "function form"])
@pytest.mark.parametrize("logger", [sync_log, log], ids=["sync", "async"])
async def test_log_event_on_a_state_handler_logs_above_or_below_on_state(
    sink: MemorySink, form: Any, logger: Any, above: bool
) -> None:
    # class form, below: the wrapper was not re-made around septum's copy of the handler (NameError
    # 'Events'); function form, above: the state ran the handler it had collected, unwrapped, and
    # logged nothing, silently
    fsm = StateMachine(form(logger, above), common_data={})
    await fsm.initialize()
    await fsm.run()
    assert fsm.current_state is Shipped
    assert [event["attributes"] for event in sink.events("Packed")] == [{"state": "Packing"}]


def made_leaf() -> Any:
    async def act(bb: Any) -> bool:
        return True

    return bt.action(act)


def declared_transition() -> Any:
    builder = NetBuilder("N")

    async def move(consumed: Any, bb: Any, timebase: Any) -> None:
        return None

    return builder.transition(inputs=[builder.place("a")], outputs=[builder.place("b")])(move)


@pytest.mark.parametrize(("engine", "below"), [(made_leaf, "@bt.action"), (declared_transition, "@builder")])
def test_log_event_above_an_engine_decorator_is_refused(engine: Callable[[], Any], below: str) -> None:
    # above @bt.action the tree said "@bt.root was applied to something that is not a node" of
    # 'wrapper'; above a transition, inspect's "is not a callable object"
    refused = rf"log_event\('X'\) decorates the function itself, got .*\. Fix: .*{below}"
    with pytest.raises(TypeError, match=refused):
        sync_log.log_event("X")(engine())


@pytest.mark.parametrize(
    ("call", "problem"),
    [
        (lambda: sync_log.log_event("X", relationships={}, relationship={}), r"got both relationships="),
        (lambda: spore.object(""), r"takes a non-empty string, got ''"),
        (lambda: spore.object("Order")(len), r"decorates a class, got <built-in function len>"),
    ],
    ids=["relationships twice", "no type name", "not a class"],
)
def test_a_misused_decorator_says_what_to_do(call: Callable[[], Any], problem: str) -> None:
    # these ended with the problem alone, not '. Fix: <what to do>' as every other error
    with pytest.raises(TypeError, match=rf"{problem}.*\. Fix: \S.*$"):
        call()
