"""Payloads and documents as text: strict JSON, written once when appended, read back on load."""

from __future__ import annotations

import json
from json.encoder import encode_basestring

from ..common.codecs import JSON
from ..common.errors import StoreError
from ..common.interpreter import compact_json
from ..common.store import Record

__all__ = ["dumps", "loads", "record_from", "record_of_text", "record_text"]


def dumps(data: JSON, what: str) -> str:
    """``data`` as compact strict JSON; a StoreError naming ``what`` if it is not JSON data."""
    try:
        return compact_json(data)
    except (TypeError, ValueError, RecursionError) as exc:
        raise _not_json(what, exc) from None


def record_text(kind: str, payload: JSON, run: str) -> str:
    """A journal record as JSON text, ``[kind, payload]``: what the journal tables keep."""
    try:
        return compact_json((kind, payload))
    except (TypeError, ValueError, RecursionError) as exc:
        raise _not_json(f"the payload of a {kind!r} record of run {run!r}", exc) from None


def record_of_text(kind: str, text: str) -> str:
    """The journal record of a payload given as JSON text: the same text as :func:`record_text`."""
    return f"[{encode_basestring(kind)},{text}]"


def _not_json(what: str, exc: BaseException) -> StoreError:
    return StoreError(
        f"{what} is not JSON data ({exc}). Fix: encode tokens and other values with a CodecRegistry "
        f"first (registry.encode(value)), which gives JSON data"
    )


def loads(text: str, what: str) -> JSON:
    """The data in ``text`` read back; a StoreError naming ``what`` if the stored text is damaged."""
    try:
        return json.loads(text)  # type: ignore[no-any-return]
    except (ValueError, RecursionError) as exc:
        raise StoreError(
            f"{what} in the store is not valid JSON ({exc}): the store was damaged. Fix: restore it from "
            f"a backup"
        ) from None


def record_from(seq: int, pair: JSON, run: str) -> Record:
    """Record ``seq`` of ``run`` from its ``[kind, payload]`` pair read back; StoreError if damaged."""
    if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str:
        raise StoreError(
            f"record {seq} of run {run!r} is damaged: {pair!r:.80}. Fix: restore the store from a backup"
        )
    return Record(seq, pair[0], pair[1])
