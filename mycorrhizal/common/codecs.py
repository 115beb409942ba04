"""Codecs: tokens, messages and blackboards as plain, versioned, JSON-compatible data, and back.

A :class:`CodecRegistry` turns a Python value into data made only of ``None``, ``bool``, ``int``,
``float``, ``str``, ``list`` and ``dict`` with ``str`` keys (:data:`JSON`), and turns that data back
into an equal value of the same types.  Plain JSON values stay as they are; everything else becomes a
*tagged* object ``{"$t": name, "v": data}`` whose ``name`` is looked up in the registry:

- builtins that JSON lacks: tuples, sets, frozensets, bytes, bytearrays, dicts whose keys are not all
  strings (or that contain the key ``"$t"``), non-finite floats, integers beyond 2**53, complex
  numbers, ``Decimal``, ``UUID``, ``datetime``/``date``/``time``/``timedelta``;
- types the user registered: attrs classes, dataclasses, enums and pydantic models need only
  ``registry.register(cls)``; any other type gives ``encode=`` and ``decode=`` functions.

Decoding never executes code from the document: a tag is resolved only against the registry, never
by importing a module by name.  Unknown tags, documents of a newer version, malformed, too deeply
nested or too large input all raise :class:`CodecError` naming the type or limit and the fix.
Pickle is an explicit opt-in (``CodecRegistry(allow_pickle=True)``) for stores you trust.

Pure function of the registry: no process-wide state, so two registries never interfere.
"""

from __future__ import annotations

import base64
import json
import math
import pickle
import sys
from collections.abc import Callable, Iterable
from typing import Any, TypeAlias, TypeVar

from .callables import written_name
from .codec_types import TypeCodec, builtin_codecs, derive_functions, name_problems, preview
from .errors import CodecError, DefinitionError, Problem

__all__ = ["CODEC_FORMAT", "JSON", "CodecRegistry", "parse_json"]

JSON: TypeAlias = None | bool | int | float | str | list["JSON"] | dict[str, "JSON"]
"""Data that ``json.dumps`` writes as it is: what codecs produce and stores keep."""

CODEC_FORMAT = 1
"""Version of the tagged form; a document of a newer format is refused with an error."""

T = TypeVar("T")
TAG = "$t"
VALUE = "v"
_SAFE_INT = 2**53  # integers JSON readers of every language hold exactly
_PLAIN = frozenset({str, bool, type(None)})
_INT_DIGITS = 4300  # longest decimal integer literal accepted in JSON text (CPython's own default)


class CodecRegistry:
    """Encodes values to JSON-compatible data and decodes them back, for the types it knows."""

    __slots__ = ("_by_type", "_by_name", "_allow_pickle", "_max_depth", "_max_bytes")

    def __init__(self, *, allow_pickle: bool = False, max_depth: int = 100, max_bytes: int = 1 << 28) -> None:
        """``max_depth`` bounds nesting and ``max_bytes`` the size of a text document in ``loads``;
        ``allow_pickle`` pickles unregistered types and loads pickles (trusted stores only)."""
        problems = [
            Problem("CodecRegistry", f"{option} must be a positive int, got {value!r}", f"pass {option}=...")
            for option, value in (("max_depth", max_depth), ("max_bytes", max_bytes))
            if type(value) is not int or value < 1
        ]
        DefinitionError.raise_if_any(problems, what="CodecRegistry options")
        self._by_type: dict[type[Any], TypeCodec] = {}
        self._by_name: dict[str, TypeCodec] = {}
        self._allow_pickle = allow_pickle
        self._max_depth = max_depth
        self._max_bytes = max_bytes
        for codec in builtin_codecs():
            self._add(codec)

    # --- registration ----------------------------------------------------------------------------

    def register(
        self,
        cls: type[T],
        *,
        name: str | None = None,
        encode: Callable[[T], Any] | None = None,
        decode: Callable[[Any], T] | None = None,
        version: int = 1,
        upgrade: Callable[[int, Any], Any] | None = None,
    ) -> type[T]:
        """Teach the registry ``cls`` under a stable ``name`` (default ``module.QualName``); returns it.

        attrs classes, dataclasses, enums and pydantic models need nothing else.  Other types give
        ``encode`` (value -> anything this registry can encode) and ``decode`` (that, decoded -> value).
        ``version`` numbers the encoded form; ``upgrade(old_version, data)`` turns data written by an
        older version into the current form.  Usable as a class decorator.
        """
        if not isinstance(cls, type):
            raise DefinitionError(
                [
                    Problem(
                        f"codec for {cls!r}", "what is registered must be a class", "pass the class itself"
                    )
                ],
                what="registering a codec",
            )
        type_name = name if name is not None else f"{cls.__module__}.{cls.__qualname__}"
        subject = f"codec for {type_name!r}"
        problems = name_problems(type_name, subject, self._by_name, cls)
        if type(version) is not int or version < 1:
            problems.append(Problem(subject, f"version must be an int >= 1, got {version!r}", "pass 1, 2..."))
        if cls in self._by_type:
            problems.append(
                Problem(
                    subject,
                    f"{written_name(cls)} is already registered as {self._by_type[cls].name!r}",
                    "register each class once",
                )
            )
        fields = None
        if (encode is None) != (decode is None):
            problems.append(Problem(subject, "encode= and decode= go together", "pass both, or neither"))
        elif encode is None or decode is None:
            functions = derive_functions(cls, subject, problems)
            if functions is not None:
                encode, decode, fields = functions
        DefinitionError.raise_if_any(problems, what=f"registering {written_name(cls)}")
        assert encode is not None and decode is not None
        self._add(TypeCodec(cls, type_name, version, encode, decode, upgrade, fields))
        return cls

    def _add(self, codec: TypeCodec) -> None:
        self._by_type[codec.cls] = codec
        self._by_name[codec.name] = codec

    def names(self) -> tuple[str, ...]:
        """Every type name this registry encodes and decodes, builtins included."""
        return tuple(self._by_name)

    def __contains__(self, cls: object) -> bool:
        return cls in self._by_type

    # --- encoding --------------------------------------------------------------------------------

    def encode(self, value: Any) -> JSON:
        """``value`` as JSON-compatible data; raises :class:`CodecError` for what it cannot encode."""
        try:
            return self._encode(value, 0)
        except RecursionError:
            raise CodecError(
                f"the value nests too deeply for this interpreter's recursion limit. "
                f"Fix: lower max_depth (now {self._max_depth}) or flatten the value"
            ) from None
        except CodecError as exc:
            if not exc.where:
                raise
            text = f"in {exc.where}: {exc}"
            raise CodecError(text, type_name=exc.type_name, unregistered=exc.unregistered) from exc

    def _encode(self, value: Any, depth: int) -> JSON:
        kind = type(value)
        if kind in _PLAIN:
            return value  # type: ignore[no-any-return]
        if kind is int and -_SAFE_INT <= value <= _SAFE_INT or kind is float and math.isfinite(value):
            return value  # type: ignore[no-any-return]
        if depth >= self._max_depth:
            raise CodecError(
                f"the value nests deeper than max_depth={self._max_depth} levels (does it contain "
                f"itself?). Fix: CodecRegistry(max_depth=...) if such nesting is expected"
            )
        try:
            if kind is list:
                # The hot path of journaling a firing's tokens: plain items without a call each.
                return [
                    item
                    if type(item) is str or type(item) is int and -_SAFE_INT <= item <= _SAFE_INT
                    else self._encode(item, depth + 1)
                    for item in value
                ]
            if kind is dict and TAG not in value and all(type(key) is str for key in value):
                return {key: self._encode(item, depth + 1) for key, item in value.items()}
        except CodecError as exc:
            self._place(exc, value, depth)
            raise
        # big ints, non-finite floats and other dicts have builtin codecs too
        return self._tagged(self._by_type.get(kind), value, depth)

    def _tagged(self, codec: TypeCodec | None, value: Any, depth: int) -> JSON:
        if codec is None:
            return self._pickled(value)
        if codec.fields is not None:
            return {TAG: codec.tag, VALUE: self._fields(codec.fields, value, depth + 2)}
        try:
            data = codec.encode(value)
        except CodecError:
            raise
        except Exception as exc:
            raise CodecError(
                f"cannot encode a {codec.name}: its encoder raised {exc!r}. Fix: check the encode= "
                f"function registered for it",
                type_name=codec.name,
            ) from exc
        return {TAG: codec.tag, VALUE: self._encode(data, depth + 1)}

    def _fields(self, fields: tuple[str, ...], value: Any, depth: int) -> dict[str, JSON]:
        """The fields of an attrs class or dataclass instance, encoded.  The hot path of journaling
        tokens: plain field values are taken as they are, without a call each."""
        encoded: dict[str, JSON] = {}
        for name in fields:
            item = getattr(value, name)
            kind = type(item)
            if kind is str or kind is int and -_SAFE_INT <= item <= _SAFE_INT or item is None:
                encoded[name] = item
                continue
            try:
                encoded[name] = self._encode(item, depth)
            except CodecError as exc:
                if exc.type_name is not None:  # (a type met inside it: say which field holds it)
                    exc.path = f".{name}{exc.path}"
                    exc.where = f"{written_name(type(value))}{exc.path}"
                raise
        return encoded

    def _place(self, exc: CodecError, value: Any, depth: int) -> None:
        """Put the index or key of the item of ``value`` (a list or dict) that raised ``exc`` in
        front of its :attr:`~CodecError.path`; found again by encoding the items one by one (errors only)."""
        if exc.type_name is None:
            return
        items: Iterable[tuple[Any, Any]] = enumerate(value) if type(value) is list else value.items()
        for step, item in items:
            try:
                self._encode(item, depth + 1)
            except CodecError:
                exc.path = f"[{step!r}]{exc.path}"
                return

    def _pickled(self, value: Any) -> JSON:
        name = f"{type(value).__module__}.{type(value).__qualname__}"
        if not self._allow_pickle:
            written = written_name(type(value))  # register(f.<locals>.Board) is no Python to write
            raise CodecError(
                f"cannot encode a {type(value).__module__}.{written}: its type is not registered. Fix: "
                f"registry.register({written}) (attrs classes, dataclasses, enums and pydantic models need "
                f"nothing more; other types pass encode= and decode=)",
                type_name=name,
                unregistered=True,
            )
        try:
            text = base64.b64encode(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)).decode("ascii")
        except Exception as exc:
            raise CodecError(
                f"cannot pickle a {name}: {exc!r}. Fix: register {name} with a codec (registry.register)",
                type_name=name,
            ) from exc
        return {TAG: "pickle", VALUE: [name, text]}

    # --- decoding --------------------------------------------------------------------------------

    def decode(self, data: JSON) -> Any:
        """The value ``data`` (made by :meth:`encode`) stands for; :class:`CodecError` if it cannot."""
        try:
            return self._decode(data, 0)
        except RecursionError:
            raise CodecError(
                f"the document nests too deeply for this interpreter's recursion limit. "
                f"Fix: lower max_depth (now {self._max_depth})"
            ) from None

    def _decode(self, data: Any, depth: int) -> Any:
        kind = type(data)
        if kind is str or kind is int or kind is float or kind is bool or data is None:
            return data
        if depth >= self._max_depth:
            raise CodecError(
                f"the document nests deeper than max_depth={self._max_depth} levels. "
                f"Fix: CodecRegistry(max_depth=...) if the document is trusted and such nesting expected"
            )
        if kind is list:
            return [self._decode(item, depth + 1) for item in data]
        if kind is dict:
            if TAG in data:
                return self._untag(data, depth)
            if not all(type(key) is str for key in data):
                raise CodecError("a dict with non-str keys is not JSON data. Fix: decode what encode() made")
            return {key: self._decode(item, depth + 1) for key, item in data.items()}
        raise CodecError(f"a {kind.__name__} is not JSON data. Fix: decode only what encode() or json made")

    def _untag(self, data: dict[str, Any], depth: int) -> Any:
        tag = data[TAG]
        if type(tag) is not str or len(data) != 2 or VALUE not in data:
            raise CodecError(
                f"malformed tagged value {preview(data)}: expected exactly the keys '$t' (a type name) "
                f"and 'v'. Fix: decode only what encode() made"
            )
        name, version = _split_tag(tag)
        codec = self._by_name.get(name)
        if codec is None:
            if name == "pickle":
                return self._unpickle(data[VALUE])
            raise CodecError(
                f"unknown type {name!r} in the document: this registry has no codec for it. Fix: register "
                f"the class under that name, registry.register(TheClass, name={name!r})",
                type_name=name,
                unregistered=True,
            )
        inner = self._decode(data[VALUE], depth + 1)
        if version != codec.version:
            inner = _upgrade(codec, version, inner)
        try:
            return codec.decode(inner)
        except CodecError as exc:
            if exc.type_name is not None:
                raise
            raise _shape_error(name, exc) from exc
        except Exception as exc:
            raise CodecError(
                f"cannot decode a {name} from {preview(inner)}: {exc!r}. Fix: check that the document "
                f"was written for this version of {name} (or give register() an upgrade=)",
                type_name=name,
            ) from exc

    def _unpickle(self, data: Any) -> Any:
        if type(data) is not list or len(data) != 2 or not all(type(part) is str for part in data):
            raise CodecError(
                "malformed pickled value: expected [type name, base64 text]. "
                "Fix: decode only what encode() made"
            )
        name, text = data
        if not self._allow_pickle:
            raise CodecError(
                f"the document holds a pickled {name}; loading a pickle can run any code, so this "
                f"registry refuses it. Fix: register {name} with a codec, or, only for a store you "
                f"trust, use CodecRegistry(allow_pickle=True)",
                type_name=name,
            )
        try:
            return pickle.loads(base64.b64decode(text, validate=True))  # noqa: S301 - opted in above
        except Exception as exc:
            raise CodecError(
                f"cannot unpickle a {name}: {exc!r}. Fix: check that the program reading it defines {name} "
                "as the one that wrote it did",
                type_name=name,
            ) from exc

    # --- documents -------------------------------------------------------------------------------

    def document(self, value: Any) -> dict[str, JSON]:
        """``value`` encoded inside a versioned envelope: ``{"codec": 1, "value": ...}``."""
        return {"codec": CODEC_FORMAT, "value": self.encode(value)}

    def from_document(self, document: JSON) -> Any:
        """The value inside an envelope made by :meth:`document`; refuses newer or unknown formats."""
        if type(document) is not dict or set(document) != {"codec", "value"}:
            raise CodecError(
                f"not a codec document: {preview(document)}. Fix: pass what document() or dumps() made"
            )
        version = document["codec"]
        if type(version) is not int or version < 1:
            raise CodecError(
                f"malformed codec version {version!r} in the document. "
                "Fix: pass what document() or dumps() made"
            )
        if version > CODEC_FORMAT:
            raise CodecError(
                f"the document is in codec format {version}, newer than format {CODEC_FORMAT} that this "
                f"mycorrhizal reads. Fix: read it with the (newer) mycorrhizal version that wrote it"
            )
        return self.decode(document["value"])

    def dumps(self, value: Any) -> str:
        """``value`` as a versioned JSON text document (strict JSON: no NaN or Infinity literals)."""
        return json.dumps(self.document(value), ensure_ascii=False, allow_nan=False, separators=(",", ":"))

    def loads(self, text: str | bytes) -> Any:
        """The value in a JSON text document made by :meth:`dumps`, within the registry's limits."""
        if len(text) > self._max_bytes:
            raise CodecError(
                f"the document is {len(text)} bytes, more than max_bytes={self._max_bytes}. "
                f"Fix: CodecRegistry(max_bytes=...) if the document is trusted and that large"
            )
        return self.from_document(parse_json(text))


def parse_json(text: str | bytes) -> JSON:
    """Strict JSON text -> data; malformed, too deep or oversized-number input is a CodecError."""
    limit = sys.get_int_max_str_digits()
    try:
        return json.loads(  # type: ignore[no-any-return]
            text,
            parse_constant=_refuse_constant,
            parse_int=None if 0 < limit <= _INT_DIGITS else _bounded_int,
        )
    except RecursionError:
        raise CodecError("the document nests too deeply to parse. Fix: refuse such input") from None
    except CodecError:
        raise
    except ValueError as exc:  # JSONDecodeError, and integer literals past the digit limit
        raise CodecError(
            f"the document is not valid JSON data: {exc}. Fix: pass what dumps() or json.dumps() made"
        ) from None


def _refuse_constant(name: str) -> Any:
    raise CodecError(
        f"the document contains the non-JSON literal {name} (encoded floats are tagged). "
        "Fix: pass what dumps() made, not the json module's output"
    )


def _bounded_int(text: str) -> int:
    if len(text) > _INT_DIGITS:
        raise CodecError(
            f"the document holds an integer of {len(text)} digits, more than {_INT_DIGITS}. "
            "Fix: refuse such input (encode() writes big ints as tagged hexadecimal text)"
        )
    return int(text)


def _shape_error(name: str, exc: CodecError) -> CodecError:
    """``exc``, raised by the decoder of ``name`` about the data's shape, naming the type and a fix
    (a decoder only describes the shape it expected)."""
    message = str(exc)
    if "Fix: " not in message:
        message += ". Fix: decode only what encode() made, with a registry that encodes the same way"
    return CodecError(f"cannot decode a {name}: {message}", type_name=name)


def _split_tag(tag: str) -> tuple[str, int]:
    name, at, number = tag.partition("@")
    if not at:
        return name, 1
    if not number.isdigit() or not number.isascii() or len(number) > 9 or int(number) < 1:
        raise CodecError(
            f"malformed version in type tag {preview(tag)}: expected name@<positive int>. "
            "Fix: decode only what encode() made"
        )
    return name, int(number)


def _upgrade(codec: TypeCodec, version: int, data: Any) -> Any:
    if version > codec.version:
        raise CodecError(
            f"{codec.name!r} version {version} in the document is newer than version {codec.version} "
            f"registered here: a newer program wrote it. Fix: read it with that program, or register "
            f"{codec.name} with version={version} and a decoder for that form",
            type_name=codec.name,
        )
    if codec.upgrade is None:
        raise CodecError(
            f"{codec.name!r} version {version} in the document is older than version {codec.version} "
            f"registered here, which has no upgrade. Fix: registry.register(..., version="
            f"{codec.version}, upgrade=lambda old_version, data: <data in the current form>)",
            type_name=codec.name,
        )
    try:
        return codec.upgrade(version, data)
    except Exception as exc:
        raise CodecError(
            f"upgrading {codec.name!r} from version {version} failed: {exc!r}. Fix: check its upgrade=",
            type_name=codec.name,
        ) from exc
