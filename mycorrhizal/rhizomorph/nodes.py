"""Node specs: the immutable description of every kind of behaviour-tree node.

Specs are frozen attrs classes compared by identity (the same spec yielded from two composites is one
object that appears twice in the compiled tree).  They hold only what the user declared; checking
them and turning them into flat tables is the compiler's work (:mod:`.compile`), and the tree that
embeds another tree (:class:`~.tree.Subtree`) lives with :class:`~.tree.Tree`.

Wrapping is data too: every node has the fluent wrapper methods (``node.timeout(5).retry(3)``, each
wrapping what it is called on), and a :class:`Chain` is a list of wrappers not yet applied to a
child (``bt.failer().gate(ok).timeout(5)(child)``, the leftmost wrapper outermost).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal

import attrs

from ..common.errors import DefinitionError, Problem
from .status import ErrorPolicy, Status

__all__ = [
    "CONDITIONED",
    "LEAF_PARAMETERS",
    "Case",
    "Chain",
    "Composite",
    "Decorator",
    "Leaf",
    "Match",
    "Node",
    "TryCatch",
    "Wrap",
]

#: The parameter names a leaf (or halt hook) may declare; each gets the runner's value of that name
#: (``tb`` is the timebase under the name 0.x leaves use).
LEAF_PARAMETERS = ("bb", "timebase", "tb", "ctx")

LeafKind = Literal["action", "condition"]
CompositeKind = Literal["sequence", "selector", "parallel"]
DecoratorKind = Literal[
    "inverter",
    "succeeder",
    "failer",
    "retry",
    "repeat",
    "timeout",
    "rate_limit",
    "guard",
    "when",
    "do_while",
]
#: Decorators that tick a condition node before (or instead of) their child.
CONDITIONED = frozenset({"guard", "when", "do_while"})


def _period(hz: float | None, period: float | None) -> float:
    """The period of ``ratelimit(hz=...)`` / ``ratelimit(period=...)``: exactly one must be given."""
    if (hz is None) == (period is None):
        raise DefinitionError(
            [
                Problem(
                    "ratelimit",
                    f"got hz={hz!r} and period={period!r}",
                    "give exactly one of them: ratelimit(hz=5) or ratelimit(period=0.2)",
                )
            ],
            what="ratelimit",
        )
    if period is not None:
        return period
    assert hz is not None
    if not isinstance(hz, int | float) or isinstance(hz, bool) or hz <= 0:
        raise DefinitionError(
            [Problem("ratelimit", f"hz={hz!r}", "use a number of starts per second > 0")], what="ratelimit"
        )
    return 1.0 / hz


@attrs.frozen
class Wrap:
    """One wrapper of a :class:`Chain`: a decorator kind and its settings, waiting for a child."""

    kind: DecoratorKind
    arg: float | None = None
    condition: Any = None
    retry_on: frozenset[Status] | None = None

    def around(self, child: Any) -> Decorator:
        """The decorator node of this wrapper around ``child``."""
        label = child.name if isinstance(child, Node) else getattr(child, "__name__", repr(child))
        return Decorator(
            name=f"{self.kind}({label})",
            decorator_kind=self.kind,
            child=child,
            arg=self.arg,
            condition=self.condition,
            retry_on=self.retry_on,
        )


class _Wrapping:
    """The fluent wrapper methods shared by nodes (wrap this node) and chains (add a wrapper)."""

    __slots__ = ()

    def _with(self, wrap: Wrap) -> Any:
        raise NotImplementedError

    def inverter(self) -> Any:
        """Swap SUCCESS and FAILURE."""
        return self._with(Wrap("inverter"))

    def succeeder(self) -> Any:
        """Report FAILURE as SUCCESS."""
        return self._with(Wrap("succeeder"))

    def failer(self) -> Any:
        """Report SUCCESS as FAILURE."""
        return self._with(Wrap("failer"))

    def timeout(self, seconds: float) -> Any:
        """FAILURE (and the child halted) after ``seconds`` of RUNNING."""
        return self._with(Wrap("timeout", seconds))

    def retry(self, max_attempts: int, retry_on: Iterable[Status] | None = None) -> Any:
        """Run the child again when it ends with a status in ``retry_on`` (FAILURE, ERROR), up to
        ``max_attempts`` runs in all."""
        return self._with(Wrap("retry", max_attempts, retry_on=_statuses(retry_on)))

    def repeat(self, times: int) -> Any:
        """Run the child to SUCCESS ``times`` times."""
        return self._with(Wrap("repeat", times))

    def rate_limit(self, period: float) -> Any:
        """Start the child at most once per ``period`` seconds."""
        return self._with(Wrap("rate_limit", period))

    def ratelimit(self, *, hz: float | None = None, period: float | None = None) -> Any:
        """:meth:`rate_limit` given as a rate (``hz``) or a ``period``: exactly one of them."""
        return self._with(Wrap("rate_limit", _period(hz, period)))

    def guard(self, condition: Any) -> Any:
        """Tick the child only while ``condition`` (a condition node or function) succeeds."""
        return self._with(Wrap("guard", condition=condition))

    #: The 0.x name of :meth:`guard`.
    gate = guard

    def when(self, condition: Any) -> Any:
        """Like :meth:`guard`, but a condition that fails makes this node succeed (an optional step)."""
        return self._with(Wrap("when", condition=condition))

    def do_while(self, condition: Any) -> Any:
        """Run the child again and again (one run per tick) while ``condition`` holds."""
        return self._with(Wrap("do_while", condition=condition))


def _statuses(retry_on: Any) -> frozenset[Any] | None:
    """``retry_on`` as a set: one Status given alone is that one; what is not statuses is kept for
    :func:`~.checks.check_retry_on` to name (not a TypeError from inside the tree's body)."""
    if retry_on is None:
        return None
    if isinstance(retry_on, Status):
        return frozenset((retry_on,))
    try:
        return frozenset(retry_on)
    except TypeError:  # one value, not a collection: named by check_retry_on
        return frozenset((retry_on,))


@attrs.frozen(eq=False)
class Node(_Wrapping):
    """Base of every node spec; ``name`` labels it in errors, traces and pictures.

    The wrapper methods (``timeout``, ``retry``, ``gate`` ...) return a new node wrapping this one,
    so ``fetch.gate(ok).retry(3).timeout(1)`` is timeout(retry(gate(ok, fetch))).
    """

    name: str

    @property
    def kind(self) -> str:
        """What sort of node this is (``action``, ``sequence``, ``timeout`` ...)."""
        raise NotImplementedError

    @property
    def spec(self) -> Node:
        """The node itself (0.x builders returned wrappers whose ``.spec`` was the node)."""
        return self

    @property
    def node_spec(self) -> Node:
        """The node itself (0.x decorated functions carried their node as ``node_spec``)."""
        return self

    def _with(self, wrap: Wrap) -> Decorator:
        return wrap.around(self)


@attrs.frozen(eq=False)
class Leaf(Node):
    """An action or condition: a user function of ``bb`` / ``timebase`` (``tb``) / ``ctx``.

    Calling the leaf calls its function (a decorated leaf stays usable as a function).
    """

    fn: Callable[..., Any]
    leaf_kind: LeafKind
    params: tuple[str, ...]
    #: True when ``fn`` is ``async def`` (decided once, at definition).
    is_async: bool
    #: Called (with the parameters it names) when the leaf is halted while RUNNING.
    on_halt: Callable[..., Any] | None = None
    halt_params: tuple[str, ...] = ()
    #: Overrides the runner's error policy for this leaf.
    on_error: ErrorPolicy | None = None
    #: The interface ``bb`` is annotated with: the leaf gets a view of the blackboard through it.
    interface: type | None = None
    #: True when some parameter is keyword-only: the leaf is called with keyword arguments.
    by_keyword: bool = False

    @property
    def kind(self) -> str:
        return self.leaf_kind

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the leaf's function directly (outside any tree)."""
        return self.fn(*args, **kwargs)


@attrs.frozen(eq=False)
class Composite(Node):
    """A sequence, selector or parallel node over an ordered list of children."""

    composite_kind: CompositeKind
    #: Explicit children (programmatic form) ...
    children: tuple[Any, ...] = ()
    #: ... or the generator function yielding them (decorator form), called when the tree compiles.
    source: Callable[[], Iterable[Any]] | None = None
    #: Sequence/selector: resume at the RUNNING child (True) or re-evaluate from the first (False).
    memory: bool = True
    success_threshold: int | None = None
    failure_threshold: int | None = None

    @property
    def kind(self) -> str:
        return self.composite_kind


@attrs.frozen(eq=False)
class Decorator(Node):
    """A node with one child whose status it transforms or whose ticking it controls."""

    decorator_kind: DecoratorKind
    child: Any
    #: retry/repeat: a count; timeout/rate_limit: seconds on the timebase.
    arg: float | None = None
    #: guard/when/do_while: the condition (a node, or a function made into a condition leaf).
    condition: Any = None
    #: retry: the statuses that make it run the child again (None: FAILURE and ERROR).
    retry_on: frozenset[Status] | None = None

    @property
    def kind(self) -> str:
        return self.decorator_kind


@attrs.frozen(eq=False)
class TryCatch(Node):
    """Tick ``body``; if it fails, tick ``handler`` instead and report what it reports."""

    body: Any
    handler: Any

    @property
    def kind(self) -> str:
        return "try_catch"


@attrs.frozen(eq=False)
class Case:
    """One branch of a :class:`Match`: ``child`` runs when ``matcher`` accepts the key.

    The matcher is a type (``isinstance``), a predicate (called with the key) or a value (``==``);
    a default case accepts every key.
    """

    matcher: Any
    child: Any
    default: bool = False

    @property
    def label(self) -> str:
        """How the case is shown: ``default``, the type's or predicate's name, or the value's repr."""
        if self.default:
            return "default"
        if isinstance(self.matcher, type) or callable(self.matcher):
            return str(getattr(self.matcher, "__name__", repr(self.matcher)))
        return repr(self.matcher)


@attrs.frozen(eq=False)
class Match(Node):
    """Compute a key from the blackboard, tick the first case that accepts it (FAILURE if none does).

    A case that is RUNNING is resumed on the next tick without computing the key again.
    """

    key: Callable[..., Any]
    key_params: tuple[str, ...]
    cases: tuple[Any, ...]

    @property
    def kind(self) -> str:
        return "match"


@attrs.frozen
class Chain(_Wrapping):
    """Wrappers waiting for their child: ``chain(child)`` (or ``chain >> child``) applies them.

    The first wrapper is the outermost: ``bt.failer().gate(ok).timeout(5)(x)`` is
    failer(gate(ok, timeout(5, x))).  Every wrapper method returns a longer chain.
    """

    steps: tuple[Wrap, ...]

    def _with(self, wrap: Wrap) -> Chain:
        return Chain((*self.steps, wrap))

    def __call__(self, child: Any) -> Any:
        """Apply the wrappers to ``child``, innermost (last) first."""
        node = child
        for wrap in reversed(self.steps):
            node = wrap.around(node)
        return node

    def __rshift__(self, child: Any) -> Any:
        return self(child)
