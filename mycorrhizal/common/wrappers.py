"""Views of a blackboard shaped by an interface: the fields it has, and which may be written.

Every view here is a :class:`~mycorrhizal.common.blackboard.BlackboardView`: reads and writes go
straight to the one blackboard (a ``dict``, a Pydantic model or any object), nothing is copied.
A field outside the view raises ``AttributeError`` (it does not exist there); a field the view
has but may not write (or, for a write-only view, read) raises :class:`AccessControlError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .blackboard import BlackboardView, refuse_strings
from .errors import AccessControlError, DefinitionError, Problem, did_you_mean, split_fix
from .interface_builder import interface_field_specs

__all__ = [
    "AccessControlError",
    "CompositeView",
    "ConstrainedView",
    "ReadOnlyView",
    "View",
    "WriteOnlyView",
    "create_constrained_view",
    "create_readonly_view",
    "create_view_from_protocol",
]


#: How to reach a field a view refuses, by how the view was made: (a field it lacks, one it may not
#: write, one it may not read), formatted with ``key``.  Each names what the user passed; one may
#: start with why ("<why>. Fix: <what to do>"), said in the problem so that the fix stays last.
INTERFACE_FIXES = (
    "add {key!r} to the interface",
    "mark it readwrite in the interface if this handler should",
    "make it readable in the interface if this handler should",
)


class _FieldView(BlackboardView):
    """A view with a fixed set of fields; anything else is an unknown attribute."""

    __slots__ = ("_fields", "_fixes")

    def __init__(
        self,
        bb: Any,
        fields: Iterable[str],
        *,
        readable: Iterable[str] | None,
        writable: Iterable[str] | None,
        name: str,
        fixes: tuple[str, str, str] = INTERFACE_FIXES,
    ) -> None:
        super().__init__(bb, readable=readable, writable=writable, name=name)
        object.__setattr__(self, "_fields", frozenset(fields))
        object.__setattr__(self, "_fixes", fixes)

    def _refusal(self, key: str, allowed: frozenset[str], verb: str) -> Exception:
        missing, unwritable, unreadable = self._fixes
        if key not in self._fields:
            shown = ", ".join(sorted(self._fields)) or "none"
            fix = did_you_mean(key, self._fields, missing.format(key=key))
            return AttributeError(f"{self._name!r} has no field {key!r} (its fields: {shown}). Fix: {fix}")
        kind, advice = ("read-only", unwritable) if verb == "write" else ("write-only", unreadable)
        why, fix_given = split_fix(advice.format(key=key))
        if fix_given is None:  # advice that is all fix (or none: say where such a field can be reached)
            why, fix_given = "", why or f"{verb} {key!r} through a view that may"
        said = f"{self._name!r} may not {verb} {key!r}: the field is {kind} here"
        return AccessControlError(
            f"{said} ({why}). Fix: {fix_given}" if why else f"{said}. Fix: {fix_given}", key, verb
        )

    def _has(self, key: str) -> bool:
        return key in self._fields

    def _called(self) -> str:
        return repr(self._name)  # as its other refusals: the interface's own name

    def __dir__(self) -> list[str]:
        return sorted(self._fields)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._name!r}, fields={sorted(self._fields)}, bb={self._bb!r})"


def _problem(subject: str, message: str, fix: str) -> DefinitionError:
    return DefinitionError([Problem(subject, message, fix)], what=subject)


class ConstrainedView(_FieldView):
    """The fields ``allowed_fields``, of which ``readonly_fields`` may only be read."""

    __slots__ = ()

    def __init__(
        self,
        bb: Any,
        allowed_fields: Iterable[str],
        readonly_fields: Iterable[str] | None = None,
        *,
        name: str = "view",
    ) -> None:
        refuse_strings(name, allowed_fields=allowed_fields, readonly_fields=readonly_fields)
        allowed = frozenset(allowed_fields)
        frozen = frozenset(readonly_fields or ())
        if frozen - allowed:
            raise _problem(
                name,
                f"read-only fields {sorted(frozen - allowed)} are not among its fields {sorted(allowed)}",
                "add them to the allowed fields or drop them from the read-only ones",
            )
        # (it reads every field it has: no fix for a refused read)
        fixes = ("add {key!r} to its allowed fields", "drop {key!r} from its readonly_fields", "")
        super().__init__(bb, allowed, readable=allowed, writable=allowed - frozen, name=name, fixes=fixes)


class ReadOnlyView(_FieldView):
    """The fields ``fields``, read-only: any write raises :class:`AccessControlError`."""

    __slots__ = ()

    def __init__(self, bb: Any, fields: Iterable[str], *, name: str = "read-only view") -> None:
        refuse_strings(name, fields=fields)
        fields = frozenset(fields)
        fixes = (
            "add {key!r} to its fields",
            "a ReadOnlyView writes none of its fields. Fix: write {key!r} through a view that may, e.g. "
            "ConstrainedView(bb, fields)",
            "",
        )
        super().__init__(bb, fields, readable=fields, writable=(), name=name, fixes=fixes)


class WriteOnlyView(_FieldView):
    """The fields ``fields``, write-only: any read raises :class:`AccessControlError`."""

    __slots__ = ()

    def __init__(self, bb: Any, fields: Iterable[str], *, name: str = "write-only view") -> None:
        refuse_strings(name, fields=fields)
        fields = frozenset(fields)
        fixes = (
            "add {key!r} to its fields",
            "",
            "a WriteOnlyView reads none of its fields. Fix: read {key!r} through a view that may, e.g. "
            "ReadOnlyView(bb, fields)",
        )
        super().__init__(bb, fields, readable=(), writable=fields, name=name, fixes=fixes)


def _fields_of(view: BlackboardView) -> frozenset[str]:
    if isinstance(view, _FieldView):
        return frozenset(view._fields)
    return frozenset(view._readable or ()) | frozenset(view._writable or ())


def _union(sets: Sequence[frozenset[str] | None]) -> frozenset[str] | None:
    if any(s is None for s in sets):
        return None
    return frozenset().union(*(s for s in sets if s is not None))


class CompositeView(_FieldView):
    """Several views of one blackboard as one: a field may be read (written) if any view allows it."""

    __slots__ = ("_views",)

    def __init__(self, bb: Any, views: Iterable[BlackboardView], *, name: str = "composite view") -> None:
        parts = tuple(views)
        foreign = [repr(v) for v in parts if v.target is not bb]
        if foreign:
            raise _problem(
                name, f"views of another blackboard: {', '.join(foreign)}", "combine views of one blackboard"
            )
        fields = frozenset().union(*(_fields_of(v) for v in parts))
        super().__init__(
            bb,
            fields,
            readable=_union([v._readable for v in parts]),
            writable=_union([v._writable for v in parts]),
            name=name,
            fixes=(
                "add {key!r} to one of its views",
                "none of its views may write it. Fix: add a view that may",
                "none of its views may read it. Fix: add a view that may",
            ),
        )
        object.__setattr__(self, "_views", parts)

    @classmethod
    def combine(cls, views: Iterable[BlackboardView]) -> CompositeView:
        """One view over ``views``, which must all look at the same blackboard."""
        parts = tuple(views)
        if not parts:
            raise _problem("CompositeView.combine", "got no views", "pass at least one view")
        return cls(parts[0].target, parts)


def create_view_from_protocol(
    bb: Any, protocol: type, readonly_fields: Iterable[str] | None = None
) -> ConstrainedView:
    """A :class:`ConstrainedView` of ``bb`` with the fields ``protocol`` annotates.

    The read-only fields are ``readonly_fields`` when given, else those the protocol marks (an
    interface's ``_readonly_fields``, or ``Annotated[T, readonly]`` fields of a plain class).
    """
    specs = interface_field_specs(protocol)
    frozen = readonly_fields if readonly_fields is not None else (n for n, s in specs.items() if s.readonly)
    view = ConstrainedView(bb, specs, frozen, name=protocol.__name__)
    # Its fields come from the interface; read-only ones too, unless readonly_fields named them.
    unwritable = INTERFACE_FIXES[1] if readonly_fields is None else "drop {key!r} from its readonly_fields"
    object.__setattr__(view, "_fixes", (INTERFACE_FIXES[0], unwritable, ""))
    return view


def View(bb: Any, protocol: type) -> ConstrainedView:  # noqa: N802 - the 0.x name of this factory
    """The same as ``create_view_from_protocol(bb, protocol)``."""
    return create_view_from_protocol(bb, protocol)


def create_readonly_view(bb: Any, fields: Iterable[str]) -> ReadOnlyView:
    """A :class:`ReadOnlyView` of ``bb`` with ``fields``."""
    return ReadOnlyView(bb, fields)


def create_constrained_view(bb: Any, allowed: Iterable[str], readonly: Iterable[str] = ()) -> ConstrainedView:
    """A :class:`ConstrainedView` of ``bb``: ``allowed`` fields, of which ``readonly`` are read-only."""
    return ConstrainedView(bb, allowed, readonly)
