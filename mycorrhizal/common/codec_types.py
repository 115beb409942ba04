"""How each kind of type is written down by a :class:`~mycorrhizal.common.codecs.CodecRegistry`.

One :class:`TypeCodec` per type: ``encode`` turns a value into data the registry can encode further
(a dict of fields, a list, a string...), ``decode`` takes that data, already decoded, back to a value.
This module holds the codecs of the builtins JSON lacks and derives codecs for attrs classes,
dataclasses, enums and pydantic models.  Decoders check the shape of what they are given and never
execute anything a document names.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import enum
import math
import re
import reprlib
import sys
import uuid
import zoneinfo
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, TypeVar

import attrs

from .callables import written_name
from .errors import CodecError, Problem

__all__ = ["RESERVED_NAMES", "TypeCodec", "builtin_codecs", "derive_functions", "name_problems", "preview"]

T = TypeVar("T")
Functions = tuple[Callable[[Any], Any], Callable[[Any], Any], tuple[str, ...] | None]
_NAME = re.compile(r"[A-Za-z_][\w.:<>-]*\Z")
_HEX_INT = re.compile(r"-?0x[0-9a-f]+\Z")
_NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


@attrs.frozen
class TypeCodec:
    """How one type is written down: ``encode`` gives encodable data, ``decode`` takes it back."""

    cls: type[Any]
    name: str
    version: int
    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]
    upgrade: Callable[[int, Any], Any] | None = None
    fields: tuple[str, ...] | None = None
    """For attrs classes and dataclasses: the field names ``encode`` reads, so the registry can
    encode the fields directly (the hot path of journaling tokens)."""
    tag: str = attrs.field(init=False)
    """The ``$t`` of its encoded values: the name, with ``@version`` past version 1."""

    @tag.default
    def _tag(self) -> str:
        return self.name if self.version == 1 else f"{self.name}@{self.version}"


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother, _SHORT.maxlong = 3, 60, 60, 40


def preview(data: Any) -> str:
    """A short repr of (possibly huge, deep or hostile) data for an error message."""
    return _SHORT.repr(data)


def name_problems(name: object, subject: str, taken: dict[str, TypeCodec], cls: type[Any]) -> list[Problem]:
    """What is wrong with registering ``cls`` under ``name`` (nothing: an empty list)."""
    if type(name) is not str or not _NAME.match(name):
        return [Problem(subject, "a type name is letters, digits, '_', '.', ':', '-'", "pass name='app.Job'")]
    if name in RESERVED_NAMES or name in taken and taken[name].cls is not cls:
        return [Problem(subject, f"the name {name!r} is already taken", "pass another name=")]
    return []


def derive_functions(cls: type[Any], subject: str, problems: list[Problem]) -> Functions | None:
    """``(encode, decode)`` for an attrs class, dataclass, enum or pydantic model; else a problem."""
    for applies, functions in _DERIVED:
        if isinstance(cls, type) and applies(cls):
            return functions(cls)
    problems.append(
        Problem(
            subject,
            f"{cls!r} is not an attrs class, dataclass, enum or pydantic model",
            "pass encode= (value -> encodable data) and decode= (data -> value)",
        )
    )
    return None


def _is_pydantic(cls: type[Any]) -> bool:
    pydantic = sys.modules.get("pydantic")  # never imported here: the model's own module imported it
    return pydantic is not None and issubclass(cls, pydantic.BaseModel)


def _pydantic(cls: type[Any]) -> Functions:
    return (lambda model: model.model_dump(mode="json")), cls.model_validate, None


def _attrs(cls: type[Any]) -> Functions:
    return _field_codec(cls, [(f.name, f.alias or f.name, f.init) for f in attrs.fields(cls)])


def _dataclass(cls: type[Any]) -> Functions:
    return _field_codec(cls, [(f.name, f.name, f.init) for f in dataclasses.fields(cls)])


def _flag(cls: type[Any]) -> Functions:
    return (lambda member: member.value), cls, None  # combined flags have no single name


def _enum(cls: type[Any]) -> Functions:
    def decode(name: Any) -> enum.Enum:
        if type(name) is not str or name not in cls.__members__:
            raise CodecError(
                f"{written_name(cls)} has no member {preview(name)}. Fix: give register() an upgrade= "
                f"that maps renamed members"
            )
        return cls[name]  # type: ignore[no-any-return]

    return (lambda member: member.name), decode, None


_DERIVED: list[tuple[Callable[[type[Any]], bool], Callable[[type[Any]], Functions]]] = [
    (_is_pydantic, _pydantic),
    (attrs.has, _attrs),
    (dataclasses.is_dataclass, _dataclass),
    (lambda cls: issubclass(cls, enum.Flag), _flag),
    (lambda cls: issubclass(cls, enum.Enum), _enum),
]


def _field_codec(cls: type[Any], fields: list[tuple[str, str, bool]]) -> Functions:
    """Fields by name; decoding calls the constructor (so validators run) and sets ``init=False`` ones."""
    names = tuple(name for name, _, _ in fields)
    aliases = {name: alias for name, alias, init in fields if init}
    later = {name for name, _, init in fields if not init}

    def encode(value: Any) -> dict[str, Any]:
        return {name: getattr(value, name) for name in names}

    def decode(data: Any) -> Any:
        if type(data) is not dict:
            raise CodecError(f"the fields of {written_name(cls)} must be a mapping, not {preview(data)}")
        unknown = set(data) - set(names)
        if unknown:
            raise CodecError(
                f"{written_name(cls)} has no field(s) {sorted(unknown)}. Fix: bump its version= and give "
                f"register() an upgrade= that maps the old fields"
            )
        value = cls(**{aliases[name]: item for name, item in data.items() if name in aliases})
        for name in later.intersection(data):
            object.__setattr__(value, name, data[name])
        return value

    return encode, decode, names


# --- builtins JSON lacks -------------------------------------------------------------------------


def _expect(kind: type[T], data: Any, what: str) -> T:
    # This and the builtins' decoders below only say what shape they expected: the registry, which
    # calls them, names the type and ends with the fix (codecs._shape_error).
    if type(data) is not kind:
        raise CodecError(f"a {what} is encoded as a {kind.__name__}, not {preview(data)}")
    return data


def _decode_int(data: Any) -> int:
    text = _expect(str, data, "big int")
    if not _HEX_INT.match(text):
        raise CodecError(f"a big int is encoded as hexadecimal text like '0x1f', not {preview(text)}")
    return int(text, 16)  # linear in the length: no digit limit applies to base 16


def _decode_float(data: Any) -> float:
    text = _expect(str, data, "non-finite float")
    if text not in _NON_FINITE:
        raise CodecError(f"a tagged float is 'inf', '-inf' or 'nan', not {preview(text)}")
    return _NON_FINITE[text]


def _encode_bytes(value: bytes | bytearray) -> str:
    return base64.b64encode(value).decode("ascii")


def _decode_bytes(data: Any) -> bytes:
    try:
        return base64.b64decode(_expect(str, data, "bytes value"), validate=True)
    except binascii.Error as exc:
        raise CodecError(f"bytes are encoded as base64 text: {exc}") from None


def _decode_pairs(data: Any) -> dict[Any, Any]:
    pairs = _expect(list, data, "dict")
    if not all(type(pair) is list and len(pair) == 2 for pair in pairs):
        raise CodecError("a tagged dict is a list of [key, value] pairs")
    return dict(pairs)


def _encode_datetime(value: dt.datetime) -> Any:
    zone = value.tzinfo
    if isinstance(zone, zoneinfo.ZoneInfo):
        return [value.replace(tzinfo=None).isoformat(), zone.key, value.fold]
    if zone is not None and not isinstance(zone, dt.timezone):
        raise CodecError(f"cannot encode a datetime in {zone!r}. Fix: use a datetime.timezone or a ZoneInfo")
    return value.isoformat()


def _decode_datetime(data: Any) -> dt.datetime:
    if type(data) is str:
        return dt.datetime.fromisoformat(data)
    text, key, fold = _expect(list, data, "datetime with a zone")
    return dt.datetime.fromisoformat(text).replace(tzinfo=zoneinfo.ZoneInfo(key), fold=fold)


def _decode_complex(data: Any) -> complex:
    real, imag = _expect(list, data, "complex")
    return complex(_expect(float, real, "real part"), _expect(float, imag, "imaginary part"))


def _listed(kind: Callable[[Iterable[Any]], Any], what: str) -> Callable[[Any], Any]:
    return lambda data: kind(_expect(list, data, what))


def _parsed(kind: Callable[[str], Any], what: str) -> Callable[[Any], Any]:
    return lambda data: kind(_expect(str, data, what))


def builtin_codecs() -> list[TypeCodec]:
    """A fresh list of the codecs every registry starts with (names are reserved)."""
    table: list[tuple[type[Any], str, Callable[[Any], Any], Callable[[Any], Any]]] = [
        (int, "int", lambda value: format(value, "#x"), _decode_int),  # beyond 2**53 only
        (float, "float", repr, _decode_float),  # inf, -inf and nan only
        (dict, "dict", lambda value: [[k, v] for k, v in value.items()], _decode_pairs),
        (tuple, "tuple", list, _listed(tuple, "tuple")),
        (set, "set", list, _listed(set, "set")),
        (frozenset, "frozenset", list, _listed(frozenset, "frozenset")),
        (bytes, "bytes", _encode_bytes, _decode_bytes),
        (bytearray, "bytearray", _encode_bytes, lambda data: bytearray(_decode_bytes(data))),
        (
            complex,
            "complex",
            lambda v: [v.real, v.imag],
            _decode_complex,
        ),
        (Decimal, "decimal", str, _parsed(Decimal, "decimal")),
        (uuid.UUID, "uuid", str, _parsed(uuid.UUID, "uuid")),
        (dt.datetime, "datetime", _encode_datetime, _decode_datetime),
        (dt.date, "date", dt.date.isoformat, _parsed(dt.date.fromisoformat, "date")),
        (dt.time, "time", dt.time.isoformat, _parsed(dt.time.fromisoformat, "time")),
        (
            dt.timedelta,
            "timedelta",
            lambda v: [v.days, v.seconds, v.microseconds],
            lambda data: dt.timedelta(*_expect(list, data, "timedelta")),
        ),
    ]
    return [TypeCodec(cls, name, 1, encode, decode) for cls, name, encode, decode in table]


RESERVED_NAMES = frozenset(codec.name for codec in builtin_codecs()) | {"pickle"}
"""Type names of the builtins (and of pickled values): user types cannot take them."""
