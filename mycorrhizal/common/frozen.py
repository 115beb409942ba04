"""Frozen records made at the cost of a tuple: what every engine's observer events are built on.

A record class lists its fields as annotations, like an attrs or dataclass class::

    class Moved(FrozenRecord):
        source: str
        time: float
        token: Any = field(eq=False)

Instances are made with keywords (``Moved(source="net", time=0.0, token=t)``), are immutable (setting
or deleting an attribute raises ``attrs.exceptions.FrozenInstanceError``), compare equal when of the
same class with equal compared fields, hash by those fields and show every field in their repr.
Under the hood an instance is a tuple of its field values (a subclass's fields follow its base's)
and each field a property reading its slot: a tuple is the cheapest immutable object Python makes
(a frozen slotted attrs instance costs about four times as much to build), which is what an engine
telling observers about every transition needs.  :func:`fields` and :func:`evolve` play the part
of ``attrs.fields`` and ``attrs.evolve``; :func:`maker` gives the engines' hot paths a positional
constructor.  The tuple is an implementation detail: read records by field name.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from operator import itemgetter
from typing import Any, TypeVar, dataclass_transform

import attrs

__all__ = ["Field", "FrozenRecord", "evolve", "field", "fields", "maker"]

_NOTHING: Any = object()


@attrs.frozen
class Field:
    """One field of a record class: its name, whether ``==`` compares it, its default if any."""

    name: str
    eq: bool = True
    default: Any = _NOTHING
    read: Callable[[Any], Any] | None = None
    """What reading the field does with the value stored (None: returns it as stored)."""

    @property
    def has_default(self) -> bool:
        """Whether the field may be left out of the constructor's keywords."""
        return self.default is not _NOTHING


class _Spec:
    __slots__ = ("eq", "default", "read")

    def __init__(self, eq: bool, default: Any, read: Callable[[Any], Any] | None) -> None:
        self.eq = eq
        self.default = default
        self.read = read


def field(*, eq: bool = True, default: Any = _NOTHING, read: Callable[[Any], Any] | None = None) -> Any:
    """Declare a field's options in a record class body: ``token: Any = field(eq=False)``
    (``eq=False``: ``==`` and ``hash`` ignore it).

    ``read``: the field is stored as the engine had it and ``read(stored)`` is what reading it
    gives (made on every read, e.g. tokens grouped by place only when somebody looks).  ``read``
    also gets the values the keyword constructor was given, and must return a value of the field's
    type unchanged.  Only for ``eq=False`` fields; repr, :func:`evolve`'s copy and pickling see the
    value read."""
    return _Spec(eq, default, read)


_new = tuple.__new__
# ``type.__call__(cls, values)``: tuple's own C constructor for a class defining no ``__new__`` (a
# record class defines none: its keyword constructor is the metaclass's ``__call__``), ~270
# instructions cheaper per record than ``tuple.__new__(cls, values)`` (no argument tuple sliced).
_call = type.__call__


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(field,))
class _FrozenRecordType(type):
    """Makes each record class: its field properties, its keyword constructor, its field list."""

    __record_fields__: tuple[Field, ...]
    """The class's fields, its bases' first."""
    __record_key__: Callable[[Any], tuple[Any, ...]]
    """A record's values of the fields ``==`` and ``hash`` compare."""
    __record_make__: Callable[..., Any]
    """The keyword constructor: ``make(cls, *, field, ...)``."""

    def __new__(
        mcs, name: str, bases: tuple[type, ...], ns: dict[str, Any], **kwargs: Any
    ) -> _FrozenRecordType:
        parents = [b for b in bases if isinstance(b, _FrozenRecordType)]
        if len(parents) > 1:
            raise TypeError(
                f"record class {name}: one record base at most, got {parents}. "
                "Fix: derive it from one of them"
            )
        if ns.get("__slots__"):
            raise TypeError(
                f"record class {name}: it is a tuple and takes no slots (attrs.frozen or __slots__ "
                "adds them). Fix: declare its fields as plain annotations, options with field(eq=False)"
            )
        inherited: tuple[Field, ...] = parents[0].__record_fields__ if parents else ()
        own: list[Field] = []
        for fname, annotation in ns.get("__annotations__", {}).items():
            if "ClassVar" in str(annotation):
                continue
            if hasattr(tuple, fname) or fname.startswith("_"):
                raise TypeError(
                    f"record class {name}: field {fname!r} would hide tuple.{fname}. Fix: rename it"
                )
            spec = ns.pop(fname, _NOTHING)
            if isinstance(spec, _Spec):
                if spec.read is not None and spec.eq:
                    raise TypeError(
                        f"record class {name}: field {fname!r} has read= and is compared. Fix: add eq=False"
                    )
                own.append(Field(fname, spec.eq, spec.default, spec.read))
            else:
                own.append(Field(fname, True, spec))
        everything = (*inherited, *own)
        for i, f in enumerate(everything[len(inherited) :], len(inherited)):
            get = itemgetter(i) if f.read is None else _reader(i, f.read)
            ns[f.name] = property(get, doc=f"The record's ``{f.name}``.")
        ns.setdefault("__slots__", ())
        cls = super().__new__(mcs, name, bases, ns, **kwargs)
        cls.__record_fields__ = everything
        compared = [i for i, f in enumerate(everything) if f.eq]
        cls.__record_key__ = staticmethod(lambda record: tuple(record[i] for i in compared))  # type: ignore[assignment,unused-ignore]
        # Each class its own constructor, so that its errors name it.
        make = cls.__record_make__ = _constructor(cls, everything)
        # What help(), IDEs and inspect.signature show for Cls(...): the fields, not *args.
        shown = inspect.signature(make)
        cls.__signature__ = shown.replace(parameters=list(shown.parameters.values())[1:])  # type: ignore[attr-defined]
        return cls

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        """``Cls(field=value, ...)``: the keyword constructor written for the class's fields."""
        return cls.__record_make__(cls, *args, **kwargs)


def _reader(i: int, read: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The getter of a field declared with ``read=``."""

    def get(record: Any) -> Any:
        return read(record[i])

    return get


def _constructor(cls: type, everything: tuple[Field, ...]) -> Any:
    """The keyword constructor of a record class, written out for its fields (as attrs writes
    ``__init__``): ``def make(cls, *, source, time): return _call(cls, (source, time))``."""
    names = [f.name for f in everything]
    params = ", ".join(f"{f.name}=_d{i}" if f.has_default else f.name for i, f in enumerate(everything))
    star = "*, " if names else ""
    values = "".join(f"{n}, " for n in names)
    source = f"def make(cls, {star}{params}):\n    return _call(cls, ({values}))\n"
    scope: dict[str, Any] = {"_call": _call}
    scope.update({f"_d{i}": f.default for i, f in enumerate(everything) if f.has_default})
    exec(source, scope)  # noqa: S102 - generated from the class's own field names, as attrs does
    make = scope["make"]
    make.__qualname__ = make.__name__ = cls.__qualname__  # errors read "Moved() takes ..."
    return staticmethod(make)


class FrozenRecord(tuple, metaclass=_FrozenRecordType):  # type: ignore[type-arg]
    """Base of frozen records (see the module documentation)."""

    __slots__ = ()

    # Another class is not equal; NotImplemented would let a tuple's own == compare the values.
    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return False if isinstance(other, tuple) else NotImplemented
        key = type(self).__record_key__
        return bool(key(self) == key(other))

    def __ne__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return True if isinstance(other, tuple) else NotImplemented
        key = type(self).__record_key__
        return bool(key(self) != key(other))

    def __hash__(self) -> int:
        return hash((self.__class__, type(self).__record_key__(self)))

    def _unordered(self, other: object) -> Any:
        return NotImplemented  # records have no order (a tuple's would compare field by field)

    __lt__ = __le__ = __gt__ = __ge__ = _unordered

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in type(self).__record_fields__)
        return f"{self.__class__.__qualname__}({shown})"

    def __setattr__(self, name: str, value: Any) -> None:
        raise attrs.exceptions.FrozenInstanceError()

    def __delattr__(self, name: str) -> None:
        raise attrs.exceptions.FrozenInstanceError()

    def __reduce__(self) -> tuple[Any, ...]:
        # The values read: a field stored as the engine had it (read=) may hold engine objects.
        return _rebuild, (self.__class__, tuple(getattr(self, f.name) for f in type(self).__record_fields__))


def _rebuild(cls: type[R], values: tuple[Any, ...]) -> R:
    """Unpickle a record (its constructor takes keywords)."""
    return _new(cls, values)


R = TypeVar("R", bound=FrozenRecord)


def fields(cls: type[FrozenRecord] | FrozenRecord) -> tuple[Field, ...]:
    """The fields of a record class (or of a record's class), in constructor order."""
    if not isinstance(cls, type):
        cls = type(cls)
    found = getattr(cls, "__record_fields__", None)
    if found is None:
        raise TypeError(
            f"fields({cls!r}): not a record class. Fix: pass a class made as mycorrhizal.common.frozen says"
        )
    return found  # type: ignore[no-any-return]


def is_record(obj: Any) -> bool:
    """Whether ``obj`` is a record class or a record."""
    return isinstance(obj if isinstance(obj, type) else type(obj), _FrozenRecordType)


def evolve(record: R, **changes: Any) -> R:
    """A copy of ``record`` with the fields named in ``changes`` replaced."""
    cls = type(record)
    values = [
        changes.pop(f.name) if f.name in changes else getattr(record, f.name) for f in cls.__record_fields__
    ]
    if changes:
        raise TypeError(
            f"evolve({cls.__qualname__}): no field named {', '.join(map(repr, changes))}. "
            f"Fix: name only its fields: {', '.join(f.name for f in cls.__record_fields__)}"
        )
    return _new(cls, tuple(values))


def maker(cls: type[R]) -> Callable[[tuple[Any, ...]], R]:
    """A function building ``cls`` records from the tuple of every field's value, in the order
    :func:`fields` lists them: ``maker(StateLeft)((source, time, state, label, target))``.

    What engines' hot paths call instead of the keyword constructor: the same record, made by one
    call into C (no Python frame, no keywords parsed).  The caller passes every field, in order."""
    fields(cls)  # a record class
    # type.__call__ bound to cls: tuple's C constructor, with cls in front of the arguments and
    # without the tuple a functools.partial concatenates per call (-300 instructions per record).
    return _call.__get__(cls)  # type: ignore[no-any-return]
