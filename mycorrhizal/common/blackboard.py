"""Blackboard helpers.

A blackboard is whatever object the user shares between machines, nets and trees: a ``dict`` or
any object with attributes.  Engines never copy it.  :func:`read` and :func:`write` reach a key on
either kind; :class:`BlackboardView` restricts what a part of the system may read or write.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from typing import Any

from .errors import AccessControlError, DefinitionTypeError, Problem, did_you_mean

__all__ = ["BlackboardView", "read", "read_only", "refuse_strings", "write"]

_MISSING: Any = object()
_ABSENT: Any = object()


def read(bb: Any, key: str, default: Any = _MISSING) -> Any:
    """Read ``key`` from a dict blackboard (item) or an object blackboard (attribute)."""
    if isinstance(bb, BlackboardView):
        return bb.get(key, default) if default is not _MISSING else bb[key]
    if isinstance(bb, MutableMapping):
        if default is _MISSING:
            return bb[key]
        return bb.get(key, default)
    if default is _MISSING:
        return getattr(bb, key)
    return getattr(bb, key, default)


def write(bb: Any, key: str, value: Any) -> None:
    """Write ``key`` on a dict blackboard (item) or an object blackboard (attribute)."""
    if isinstance(bb, MutableMapping | BlackboardView):
        bb[key] = value
    else:
        setattr(bb, key, value)


def refuse_strings(owner: str, **options: object) -> None:
    """A DefinitionTypeError naming each of ``options`` that is one ``str``: taken as a collection of
    names, it would silently become the set of its letters."""
    problems = [
        Problem(
            owner,
            f"{option}={value!r} is one string, not a collection of field names",
            f"pass a set of names: {option}={{{value!r}}}",
        )
        for option, value in options.items()
        if isinstance(value, str)
    ]
    DefinitionTypeError.raise_if_any(problems, what=owner)


class BlackboardView:
    """A window on a blackboard that allows only the named keys to be read and/or written.

    ``readable=None`` allows every read; ``writable=None`` allows every write; an empty set forbids
    all.  No view deletes a key (:class:`AccessControlError`, operation ``"delete"``).  Reads and
    writes go straight through to the underlying blackboard: nothing is copied.  Keys are
    reachable both as items (``view["k"]``) and attributes (``view.k``).
    """

    __slots__ = ("_bb", "_readable", "_writable", "_name")

    def __init__(
        self,
        bb: Any,
        *,
        readable: Iterable[str] | None = None,
        writable: Iterable[str] | None = None,
        name: str = "view",
    ) -> None:
        refuse_strings(name, readable=readable, writable=writable)
        object.__setattr__(self, "_bb", bb)
        object.__setattr__(self, "_readable", None if readable is None else frozenset(readable))
        object.__setattr__(self, "_writable", None if writable is None else frozenset(writable))
        object.__setattr__(self, "_name", name)

    @property
    def target(self) -> Any:
        """The blackboard this view looks at."""
        return self._bb

    def _check(self, key: str, allowed: frozenset[str] | None, verb: str) -> None:
        if allowed is not None and key not in allowed:
            raise self._refusal(key, allowed, verb)

    def _refusal(self, key: str, allowed: frozenset[str], verb: str) -> Exception:
        """The error for a ``verb`` ('read' or 'write') of ``key`` that this view does not allow."""
        shown = ", ".join(sorted(allowed)) or "nothing"
        fix = did_you_mean(
            key, allowed, f"add {key!r} to its {'readable' if verb == 'read' else 'writable'} keys"
        )
        return AccessControlError(
            f"blackboard {self._name!r} may not {verb} {key!r} (it may {verb}: {shown}). Fix: {fix}",
            key,
            verb,
        )

    def __getitem__(self, key: str) -> Any:
        self._check(key, self._readable, "read")
        return read(self._bb, key)

    def get(self, key: str, default: Any = None) -> Any:
        """Read ``key``, or ``default`` when the blackboard has no such key."""
        self._check(key, self._readable, "read")
        return read(self._bb, key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        self._check(key, self._writable, "write")
        write(self._bb, key, value)

    def _has(self, key: str) -> bool:
        """Whether this view may reach ``key`` at all (read or write it)."""
        readable, writable = self._readable, self._writable
        return readable is None or key in readable or writable is None or key in writable

    def __contains__(self, key: str) -> bool:
        # A key the view may not reach is not in it, as hasattr() says; a sentinel other than
        # _MISSING (read()'s "no default") makes a missing key False rather than a KeyError.
        return self._has(key) and read(self._bb, key, _ABSENT) is not _ABSENT

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        try:
            return self[key]
        except KeyError as exc:
            raise AttributeError(key) from exc

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def _undeletable(self, key: str) -> AccessControlError:
        """The error for ``del view.key`` or ``del view[key]``, which no view allows."""
        # Others reading the blackboard (an interface promises its fields, a Pydantic model must
        # keep them) would find the key gone: removing one is the blackboard owner's business.
        return AccessControlError(
            f"{self._called()} may not delete {key!r}: a view reads and writes keys but removes none. "
            f"Fix: write {key!r} a value that stands for none (e.g. None), or delete it on the blackboard "
            "itself",
            key,
            "delete",
        )

    def _called(self) -> str:
        """How refusals name this view."""
        return f"blackboard {self._name!r}"

    def __delattr__(self, key: str) -> None:
        raise self._undeletable(key)

    def __delitem__(self, key: str) -> None:
        raise self._undeletable(key)

    def __repr__(self) -> str:
        return f"BlackboardView({self._name!r}, {self._bb!r})"


def read_only(bb: Any, *, name: str = "read-only view") -> BlackboardView:
    """A view that reads everything and writes nothing."""
    return _ReadOnly(bb, writable=(), name=name)


class _ReadOnly(BlackboardView):
    """:func:`read_only`'s view: it has no writable keys to add to, so its refusal says so."""

    __slots__ = ()

    def _refusal(self, key: str, allowed: frozenset[str], verb: str) -> Exception:
        return AccessControlError(
            f"blackboard {self._name!r} may not {verb} {key!r}: it is read_only() and writes nothing. "
            f"Fix: write {key!r} through the blackboard itself or a view made with writable={{{key!r}}}",
            key,
            verb,
        )
