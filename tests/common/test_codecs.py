"""Codecs: every supported value round-trips with its exact types; bad and hostile input fails cleanly."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
import pickle
import re
import sys
import uuid
import zoneinfo
from decimal import Decimal
from typing import Any

import attrs
import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mycorrhizal.common import CodecError, CodecRegistry, DefinitionError
from mycorrhizal.common.codecs import CODEC_FORMAT, parse_json


@attrs.frozen
class Job:
    id: int
    tags: tuple[str, ...] = ()
    _secret: str = "s"  # attrs takes it as ``secret=`` in __init__
    note: str = attrs.field(default="", init=False)


@attrs.define
class Mutable:
    items: list[Any]
    meta: dict[Any, Any] = attrs.field(factory=dict)


@dataclasses.dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str = dataclasses.field(default="", init=False)


class Colour(enum.Enum):
    RED = "red"
    GREEN = (0, 255, 0)  # a value JSON cannot hold: members are written by name


class Access(enum.Flag):
    READ = 1
    WRITE = 2


class Size(enum.IntEnum):
    SMALL = 1
    LARGE = 2


class Order(pydantic.BaseModel):
    id: int
    lines: list[str]
    when: dt.datetime


class Money:
    """A type that is none of the known kinds: it registers encode= and decode=."""

    def __init__(self, cents: int, currency: str) -> None:
        self.cents, self.currency = cents, currency

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Money) and (self.cents, self.currency) == (other.cents, other.currency)

    def __hash__(self) -> int:
        return hash((self.cents, self.currency))


@pytest.fixture
def registry() -> CodecRegistry:
    registry = CodecRegistry()
    registry.register(Job, name="Job")
    registry.register(Mutable)
    registry.register(Point, name="Point")
    registry.register(Colour, name="Colour")
    registry.register(Access, name="Access")
    registry.register(Size, name="Size")
    registry.register(Order, name="Order")
    registry.register(
        Money, name="Money", encode=lambda m: (m.cents, m.currency), decode=lambda data: Money(*data)
    )
    return registry


def same(a: Any, b: Any) -> bool:
    """Equal with exactly the same types all the way down (so 1 != 1.0 != True, tuple != list); nan
    equals nan."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or math.isnan(a) and math.isnan(b)
    if isinstance(a, complex):
        return same(a.real, b.real) and same(a.imag, b.imag)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return len(a) == len(b) and all(k in b and same(v, b[k]) for k, v in a.items())
    if attrs.has(type(a)):
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in attrs.fields(type(a)))
    return bool(a == b)


def round_trip(registry: CodecRegistry, value: Any) -> Any:
    """Through the data form and through JSON text, checking both give the same value."""
    data = registry.encode(value)
    text = json.dumps(data, allow_nan=False)  # encoded data is strict JSON
    back = registry.decode(json.loads(text))
    assert same(back, registry.loads(registry.dumps(value)))
    return back


EXAMPLES = [
    None,
    True,
    0,
    -(2**53),
    2**53 + 1,
    -(2**200),
    10**5000,  # past CPython's 4300-digit str() limit: written as hex, exactly
    1.5,
    -0.0,
    math.inf,
    -math.inf,
    math.nan,
    1e308,
    "",
    "naïve ✓ \x00",
    [],
    [1, [2, [3]]],
    (),
    (1, "a", (2.0,)),
    {1, 2, 3},
    frozenset({"a", (1, 2)}),
    b"\x00\xff",
    bytearray(b"ab"),
    {},
    {"a": 1, "b": [True, None]},
    {"$t": "tuple", "v": [1]},  # a plain dict that looks like a tagged value
    {1: "one", (1, 2): "pair", None: "none", 2.5: "float", frozenset(): "empty"},
    {"a": {1: {"b": (1,)}}},
    1 + 2j,
    complex(math.inf, -1),
    Decimal("1.10"),
    Decimal("-Infinity"),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    dt.datetime(2024, 3, 31, 2, 30),
    dt.datetime(2024, 3, 31, 2, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    dt.datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
    dt.date(2024, 2, 29),
    dt.time(23, 59, 59, 999999),
    dt.timedelta(days=-3, seconds=5, microseconds=7),
]


@pytest.mark.parametrize("value", EXAMPLES, ids=lambda value: type(value).__name__)
def test_builtins_round_trip_with_their_types(registry: CodecRegistry, value: Any) -> None:
    assert same(round_trip(registry, value), value)


def test_zone_aware_datetimes_keep_their_zone(registry: CodecRegistry) -> None:
    value = dt.datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
    back = round_trip(registry, value)
    assert back.tzinfo is value.tzinfo and back.fold == 1 and back.utcoffset() == value.utcoffset()


def test_registered_classes_round_trip(registry: CodecRegistry) -> None:
    job = Job(7, ("urgent",), "key")
    object.__setattr__(job, "note", "set after init")
    point = Point(1.0, -2.5)
    object.__setattr__(point, "label", "origin-ish")
    values = [
        job,
        Mutable([job, {1: Colour.GREEN}], {"k": (Access.READ | Access.WRITE,)}),
        point,
        Colour.RED,
        Colour.GREEN,
        Access.READ | Access.WRITE,
        Size.LARGE,
        Order(id=1, lines=["a", "b"], when=dt.datetime(2024, 1, 1, tzinfo=dt.UTC)),
        Money(1999, "EUR"),
        {Money(1, "USD"): [Point(0.0, 0.0)]},
    ]
    for value in values:
        back = round_trip(registry, value)
        assert back == value and type(back) is type(value)
    assert round_trip(registry, job).note == "set after init"
    assert round_trip(registry, point).label == "origin-ish"


def test_the_encoded_form_is_plain_and_readable(registry: CodecRegistry) -> None:
    assert registry.encode({"job": Job(1)}) == {
        "job": {"$t": "Job", "v": {"id": 1, "tags": {"$t": "tuple", "v": []}, "_secret": "s", "note": ""}}
    }
    assert registry.encode(Colour.GREEN) == {"$t": "Colour", "v": "GREEN"}
    assert registry.encode([2**60]) == [{"$t": "int", "v": hex(2**60)}]
    assert registry.dumps((1,)) == f'{{"codec":{CODEC_FORMAT},"value":{{"$t":"tuple","v":[1]}}}}'


def test_default_names_are_module_and_qualified_name() -> None:
    registry = CodecRegistry()
    registry.register(Mutable)
    assert registry.encode(Mutable([]))["$t"] == f"{__name__}.Mutable"  # type: ignore[index,call-overload]
    assert f"{__name__}.Mutable" in registry.names() and Mutable in registry


def test_register_works_as_a_class_decorator() -> None:
    registry = CodecRegistry()

    @registry.register
    @attrs.frozen
    class Local:
        x: int

    assert registry.decode(registry.encode(Local(3))) == Local(3)


# --- strategies: nested values of every supported kind --------------------------------------------

hashables = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=5)
    | st.binary(max_size=5),
    lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3),
    max_leaves=6,
)
leaves = (
    hashables
    | st.floats()
    | st.complex_numbers()
    | st.decimals(allow_nan=False)
    | st.uuids()
    | st.datetimes(timezones=st.none() | st.timezones())
    | st.dates()
    | st.times()
    | st.timedeltas()
    | st.sampled_from([Colour.RED, Colour.GREEN, Access.READ, Size.SMALL])
    | st.builds(Job, st.integers(), st.tuples(st.text(max_size=3)))
    | st.builds(Point, st.floats(allow_nan=False), st.floats(allow_nan=False))
)
values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=4), inner, max_size=4)
        | st.dictionaries(hashables, inner, max_size=3)
        | st.sets(hashables, max_size=3)
        | st.builds(Mutable, st.lists(inner, max_size=3), st.dictionaries(hashables, inner, max_size=2))
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(values)
def test_any_supported_value_round_trips(value: Any) -> None:
    registry = CodecRegistry()
    for cls in (Job, Mutable, Point, Colour, Access, Size):
        registry.register(cls)
    assert same(round_trip(registry, value), value)


plain_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=4).filter(lambda key: key != "$t"), inner, max_size=4)
    ),
    max_leaves=15,
)


@settings(max_examples=100, deadline=None)
@given(plain_json)
def test_plain_json_data_is_encoded_as_itself(value: Any) -> None:
    assert CodecRegistry().encode(value) == value


# --- registration mistakes -------------------------------------------------------------------------


def test_unsupported_class_needs_encode_and_decode() -> None:
    with pytest.raises(DefinitionError, match=r"is not an attrs class.*Fix: pass encode="):
        CodecRegistry().register(Money)
    with pytest.raises(DefinitionError, match="encode= and decode= go together"):
        CodecRegistry().register(Money, encode=lambda m: m.cents)


def test_names_must_be_unique_valid_and_not_builtin() -> None:
    registry = CodecRegistry()
    registry.register(Job, name="app.Job")
    with pytest.raises(DefinitionError, match="'app.Job' is already taken"):
        registry.register(Point, name="app.Job")
    with pytest.raises(DefinitionError, match="already registered as 'app.Job'"):
        registry.register(Job, name="app.Job2")
    with pytest.raises(DefinitionError, match="'tuple' is already taken"):
        registry.register(Point, name="tuple")
    with pytest.raises(DefinitionError, match="a type name is letters"):
        registry.register(Point, name="has@version")
    with pytest.raises(DefinitionError, match="version must be an int >= 1"):
        registry.register(Point, version=0)


def test_only_classes_are_registered() -> None:
    with pytest.raises(DefinitionError, match="what is registered must be a class. Fix: pass the class"):
        CodecRegistry().register(Job(1))  # type: ignore[arg-type]


def test_registry_options_are_checked() -> None:
    with pytest.raises(DefinitionError, match="max_depth must be a positive int"):
        CodecRegistry(max_depth=0)


# --- encoding errors -------------------------------------------------------------------------------


def test_unregistered_type_is_refused_when_encoding_with_the_fix(registry: CodecRegistry) -> None:
    class Stranger:
        pass

    with pytest.raises(CodecError, match=r"Stranger: its type is not registered. Fix: registry.register"):
        registry.encode({"token": [Stranger()]})


class Stranger:
    """A type no registry registers."""


@pytest.mark.parametrize(
    ("value", "where"),
    [
        (Mutable([1, Stranger()]), r"Mutable\.items\[1\]"),
        (Mutable([], {"k": [Stranger()]}), r"Mutable\.meta\['k'\]\[0\]"),
        ({"job": Mutable([Mutable([Stranger()])])}, r"Mutable\.items\[0\]\.items\[0\]"),
        ([Point(1.0, 2.0), Mutable([], {"p": Stranger()})], r"Mutable\.meta\['p'\]"),
    ],
    ids=["list field", "dict in a field", "nested instances", "in a list"],
)
def test_an_unregistered_type_inside_an_instance_names_the_field_holding_it(
    registry: CodecRegistry, value: Any, where: str
) -> None:
    with pytest.raises(
        CodecError,
        match=rf"^in {where}: cannot encode a {__name__}\.Stranger: its type is not registered\. "
        r"Fix: registry\.register\(Stranger\)",
    ) as caught:
        registry.encode(value)
    assert caught.value.unregistered and caught.value.type_name == f"{__name__}.Stranger"


def test_an_unregistered_type_in_plain_containers_is_named_without_a_path(registry: CodecRegistry) -> None:
    # The containers may be the caller's own (a journal's list of tokens): no path through them.
    with pytest.raises(CodecError, match=rf"^cannot encode a {__name__}\.Stranger: its type is not"):
        registry.encode([{"token": Stranger()}])


def declared_in_a_function() -> tuple[type, type, type]:
    """An unregistered class, a dataclass and an enum declared in a function: qualnames with <locals>."""

    class Stranger:
        pass

    @dataclasses.dataclass
    class Spot:
        x: int

    class Tint(enum.Enum):
        RED = "red"

    return Stranger, Spot, Tint


LOCAL_STRANGER, LOCAL_SPOT, LOCAL_TINT = declared_in_a_function()


def local_registry() -> CodecRegistry:
    registry = CodecRegistry()
    registry.register(LOCAL_SPOT, name="Spot")
    registry.register(LOCAL_TINT, name="Tint")
    return registry


@pytest.mark.parametrize(
    ("act", "error", "message"),
    [
        (
            lambda r: r.encode(LOCAL_STRANGER()),
            CodecError,
            rf"^cannot encode a {__name__}\.Stranger: its type is not registered\. "
            r"Fix: registry\.register\(Stranger\) ",
        ),
        (
            lambda r: r.register(LOCAL_SPOT, name="Spot2"),
            DefinitionError,
            r"^registering Spot has 1 problem:\n  - codec for 'Spot2': Spot is already registered as ",
        ),
        (
            lambda r: r.decode({"$t": "Spot", "v": [1]}),
            CodecError,
            r"^cannot decode a Spot: the fields of Spot must",
        ),
        (
            lambda r: r.decode({"$t": "Spot", "v": {"y": 1}}),
            CodecError,
            r"^cannot decode a Spot: Spot has no field",
        ),
        (
            lambda r: r.decode({"$t": "Tint", "v": "BLUE"}),
            CodecError,
            r"^cannot decode a Tint: Tint has no member",
        ),
    ],
    ids=["unregistered", "registered twice", "fields not a mapping", "unknown field", "unknown member"],
)
def test_a_class_declared_in_a_function_is_named_as_written(act: Any, error: type, message: str) -> None:
    # Each read "declared_in_a_function.<locals>.Spot": a fix like registry.register(f.<locals>.X) is
    # no Python anyone can write.
    with pytest.raises(error, match=message) as caught:
        act(local_registry())
    assert "<locals>" not in str(caught.value)


def test_subclass_of_a_registered_class_is_not_encoded_as_its_base(registry: CodecRegistry) -> None:
    class SpecialJob(Job):
        pass

    with pytest.raises(CodecError, match="SpecialJob: its type is not registered"):
        registry.encode(SpecialJob(1))


def test_a_value_containing_itself_fails_cleanly(registry: CodecRegistry) -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(CodecError, match="nests deeper than max_depth=100"):
        registry.encode(loop)


def test_an_encoder_that_raises_names_its_type() -> None:
    registry = CodecRegistry()
    registry.register(Money, name="Money", encode=lambda m: 1 / 0, decode=lambda d: d)
    with pytest.raises(CodecError, match="cannot encode a Money: its encoder raised ZeroDivisionError"):
        registry.encode(Money(1, "EUR"))


# --- versions --------------------------------------------------------------------------------------


def test_versions_are_tagged_and_upgraded() -> None:
    old = CodecRegistry()
    old.register(Money, name="Money", encode=lambda m: m.cents, decode=lambda c: Money(c, "EUR"))
    written = old.dumps([Money(5, "EUR")])

    new = CodecRegistry()
    new.register(
        Money,
        name="Money",
        version=2,
        encode=lambda m: [m.cents, m.currency],
        decode=lambda data: Money(*data),
        upgrade=lambda version, cents: [cents, "EUR"],
    )
    assert new.loads(written) == [Money(5, "EUR")]
    assert new.encode(Money(1, "USD")) == {"$t": "Money@2", "v": [1, "USD"]}
    newer = new.dumps(Money(1, "USD"))
    with pytest.raises(CodecError, match=r"'Money' version 2 in the document is newer than version 1"):
        old.loads(newer)


def test_older_version_without_upgrade_says_how_to_add_one() -> None:
    registry = CodecRegistry()
    registry.register(Job, name="Job", version=3)
    with pytest.raises(CodecError, match=r"'Job' version 1 .* older than version 3 .* Fix: .*upgrade="):
        registry.decode({"$t": "Job", "v": {"id": 1}})


def test_document_of_a_newer_codec_format_is_refused(registry: CodecRegistry) -> None:
    text = json.dumps({"codec": CODEC_FORMAT + 1, "value": 1})
    with pytest.raises(CodecError, match=f"codec format {CODEC_FORMAT + 1}, newer than format"):
        registry.loads(text)


def test_field_added_with_a_default_reads_old_documents(registry: CodecRegistry) -> None:
    assert registry.decode({"$t": "Job", "v": {"id": 4}}) == Job(4)


# --- hostile documents -----------------------------------------------------------------------------

HOSTILE = [
    ({"$t": "os.system", "v": "rm -rf /"}, r"unknown type 'os.system' .* Fix: register the class"),
    ({"$t": "builtins.eval", "v": ["1+1"]}, "unknown type 'builtins.eval'"),
    ({"$t": "Job@99", "v": {"id": 1}}, "'Job' version 99 in the document is newer than version 1"),
    ({"$t": "Job@x", "v": {}}, "malformed version in type tag"),
    ({"$t": "Job@0", "v": {}}, "malformed version in type tag"),
    ({"$t": "Job", "v": {"id": 1}, "extra": 1}, "malformed tagged value"),
    ({"$t": 5, "v": 1}, "malformed tagged value"),
    ({"$t": "Job", "v": [1]}, "fields of Job must be a mapping"),
    ({"$t": "Job", "v": {"id": 1, "evil": 2}}, r"Job has no field\(s\) \['evil'\]"),
    ({"$t": "Job", "v": {}}, r"cannot decode a Job from \{\}: TypeError"),
    ({"$t": "Colour", "v": "__class__"}, "Colour has no member '__class__'"),
    ({"$t": "tuple", "v": "abc"}, "a tuple is encoded as a list"),
    ({"$t": "set", "v": [[1]]}, "cannot decode a set"),
    ({"$t": "dict", "v": [[1]]}, r"list of \[key, value\] pairs"),
    ({"$t": "dict", "v": [[[1], 2]]}, "cannot decode a dict"),
    ({"$t": "int", "v": "12"}, "hexadecimal text"),
    ({"$t": "int", "v": "0x1_0"}, "hexadecimal text"),
    ({"$t": "float", "v": "1e400"}, "'inf', '-inf' or 'nan'"),
    ({"$t": "bytes", "v": "not base64!"}, "base64"),
    ({"$t": "complex", "v": ["1", "2"]}, "real part is encoded as a float"),
    ({"$t": "datetime", "v": ["2024-01-01T00:00", "../../etc/passwd", 0]}, "cannot decode a datetime"),
    ({"$t": "timedelta", "v": [10**20, 0, 0]}, "cannot decode a timedelta"),
    ({"$t": "pickle", "v": ["os.system", "gASV"]}, r"pickled os.system.*refuses it.*allow_pickle=True"),
    ({"$t": "pickle", "v": "gASV"}, "malformed pickled value"),
    ({"$t": "Order", "v": {"id": "x"}}, "cannot decode a Order"),
    ({1: 2}, "non-str keys is not JSON data"),
    ([object()], "a object is not JSON data"),
]


def _case_id(value: Any) -> str:
    """A case's id without object addresses: parallel workers must collect the same ids."""
    return re.sub(r" at 0x[0-9a-f]+", "", repr(value))[:40]


@pytest.mark.parametrize(("data", "message"), HOSTILE, ids=_case_id)
def test_hostile_data_fails_with_a_codec_error(registry: CodecRegistry, data: Any, message: str) -> None:
    with pytest.raises(CodecError, match=message):
        registry.decode(data)


@pytest.mark.parametrize(
    ("data", "name"),
    [
        ({"$t": "Job", "v": [1]}, "Job"),
        ({"$t": "Job", "v": {"id": 1, "evil": 2}}, "Job"),
        ({"$t": "Colour", "v": "__class__"}, "Colour"),
        ({"$t": "tuple", "v": "abc"}, "tuple"),
        ({"$t": "dict", "v": [[1]]}, "dict"),
        ({"$t": "int", "v": "12"}, "int"),
        ({"$t": "float", "v": "1e400"}, "float"),
        ({"$t": "bytes", "v": "not base64!"}, "bytes"),
        ({"$t": "complex", "v": ["1", "2"]}, "complex"),
    ],
    ids=_case_id,
)
def test_a_malformed_value_of_a_known_type_names_the_type_and_the_fix(
    registry: CodecRegistry, data: Any, name: str
) -> None:
    with pytest.raises(CodecError, match=rf"^cannot decode a {name}: .*Fix: ") as caught:
        registry.decode([data])
    assert caught.value.type_name == name


@pytest.mark.parametrize("depth", [101, 5_000, 200_000])
def test_deeply_nested_documents_fail_cleanly(registry: CodecRegistry, depth: int) -> None:
    text = json.dumps({"codec": 1, "value": 0})
    deep = text.replace("0}", "[" * depth + "]" * depth + "}")
    with pytest.raises(CodecError, match="nest"):
        registry.loads(deep)
    tagged: Any = 0
    for _ in range(min(depth, 500)):
        tagged = {"$t": "tuple", "v": [tagged]}
    with pytest.raises(CodecError, match="nests deeper than max_depth=100"):
        registry.decode(tagged)


def test_recursion_limit_is_reported_as_a_codec_error() -> None:
    registry = CodecRegistry(max_depth=10**6)
    deep: Any = []
    for _ in range(sys.getrecursionlimit() * 2):
        deep = [deep]
    with pytest.raises(CodecError, match="recursion limit"):
        registry.encode(deep)
    data: Any = []
    for _ in range(sys.getrecursionlimit() * 2):
        data = [data]
    with pytest.raises(CodecError, match="recursion limit"):
        registry.decode(data)


def test_huge_numbers_and_documents_fail_cleanly(registry: CodecRegistry) -> None:
    with pytest.raises(CodecError, match="integer of 100000 digits|not valid JSON data"):
        registry.loads('{"codec":1,"value":' + "9" * 100_000 + "}")
    with pytest.raises(CodecError, match="non-JSON literal NaN"):
        registry.loads('{"codec":1,"value":NaN}')
    assert registry.loads('{"codec":1,"value":1e999}') == math.inf  # JSON allows it; it means inf
    small = CodecRegistry(max_bytes=1000)
    with pytest.raises(CodecError, match=r"more than max_bytes=1000. Fix: CodecRegistry\(max_bytes=...\)"):
        small.loads('{"codec":1,"value":"' + "x" * 2000 + '"}')
    with pytest.raises(CodecError, match="not valid JSON data"):
        registry.loads('{"codec":1,"value":[1,2')
    with pytest.raises(CodecError, match="not a codec document"):
        registry.loads("[1]")


def test_parse_json_bounds_integer_literals_even_without_the_interpreter_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "get_int_max_str_digits", lambda: 0)  # as with -X int_max_str_digits=0
    with pytest.raises(CodecError, match="integer of 5000 digits, more than 4300"):
        parse_json("9" * 5000)
    assert parse_json("[12]") == [12]


def test_a_decoder_that_raises_names_its_type() -> None:
    registry = CodecRegistry()
    registry.register(Money, name="Money", encode=lambda m: m.cents, decode=lambda c: Money(c // 0, ""))
    with pytest.raises(CodecError, match="cannot decode a Money from 5: ZeroDivisionError"):
        registry.decode({"$t": "Money", "v": 5})


# --- pickle: explicit opt-in only ------------------------------------------------------------------


class Opaque:
    def __init__(self, x: int) -> None:
        self.x = x


def test_pickle_is_used_only_when_the_registry_opts_in() -> None:
    trusted = CodecRegistry(allow_pickle=True)
    data = trusted.encode({"o": Opaque(3)})
    assert data["o"]["$t"] == "pickle"  # type: ignore[index,call-overload]
    assert trusted.decode(data)["o"].x == 3
    with pytest.raises(CodecError, match=r"pickled tests.common.test_codecs.Opaque.*allow_pickle=True"):
        CodecRegistry().decode(data)
    with pytest.raises(CodecError, match="Opaque: its type is not registered"):
        CodecRegistry().encode(Opaque(1))


def test_a_broken_pickle_fails_cleanly_even_when_trusted() -> None:
    text = __import__("base64").b64encode(pickle.dumps(1)[:-2]).decode()
    with pytest.raises(CodecError, match="cannot unpickle a x.Y"):
        CodecRegistry(allow_pickle=True).decode({"$t": "pickle", "v": ["x.Y", text]})


def test_pydantic_models_use_their_own_dump_and_validate(registry: CodecRegistry) -> None:
    order = Order(id=1, lines=["a"], when=dt.datetime(2024, 5, 1, 12, 0))
    assert registry.encode(order) == {
        "$t": "Order",
        "v": {"id": 1, "lines": ["a"], "when": "2024-05-01T12:00:00"},
    }
    with pytest.raises(CodecError, match="cannot decode a Order from .*: 2 validation errors for Order"):
        registry.decode({"$t": "Order", "v": {"id": 1, "lines": "x", "when": "never"}})


# --- fuzzing: any JSON data decodes to a value or fails with a CodecError, nothing else -----------

TAG_NAMES = [*CodecRegistry().names(), "pickle", "Job", "Colour", "Access", "Order", "Money", "Job@2", "nope"]
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["0x1f", "-0x0", "inf", "nan", "2024-01-01", "AAEC", "1.5", "12:00", "x@y"])
)
fuzzed_json = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=4), inner, max_size=3)
        | st.fixed_dictionaries({"$t": st.sampled_from(TAG_NAMES), "v": inner})
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(fuzzed_json)
def test_any_json_data_decodes_or_fails_with_a_codec_error(data: Any) -> None:
    registry = CodecRegistry()
    registry.register(Job, name="Job")
    registry.register(Colour, name="Colour")
    registry.register(Access, name="Access")
    registry.register(Order, name="Order")
    registry.register(Money, name="Money", encode=lambda m: (m.cents, m.currency), decode=lambda d: Money(*d))
    try:
        registry.decode(data)
    except CodecError:
        pass
