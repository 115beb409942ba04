"""How an embedded tree or machine says where a token goes.

A behaviour tree inside a transition sees a :class:`TokenContext` as its leaves' ``ctx``; a state
machine inside a transition receives each token wrapped in a :class:`Delivery` as ``ctx.msg``.
Both route a token to one of the transition's declared outputs, or reject it with a reason.
Every consumed token must end up routed or rejected exactly once: nothing is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import SimpleNamespace
from typing import Any

import attrs

from ..common.errors import RoutingError

__all__ = ["DEFERRED", "Delivery", "Rejection", "TokenContext"]

_CURRENT: Any = object()

DEFERRED = "deferred"
"""The reason of a token a tree deferred (0.x's ``defer_token()``): it is rejected with this reason."""


@attrs.frozen
class Rejection:
    """A token a tree or machine refused, with why; this is what lands in the ``rejected`` place."""

    token: Any
    reason: str
    transition: str


class _Router:
    """Shared bookkeeping: which token went where, checked against the declared outputs."""

    __slots__ = ("transition", "tokens", "_outputs", "_decisions", "_open")

    def __init__(self, transition: str, outputs: Mapping[str, str], tokens: tuple[Any, ...]) -> None:
        self.transition = transition
        self.tokens = tokens
        self._outputs = outputs  # every accepted spelling of an output -> the key hypha expects
        # One slot per consumed token, by position, so equal (even identical) tokens stay distinct.
        self._decisions: list[tuple[str | None, str | None, Any] | None] = [None] * len(tokens)
        self._open = True  # until the firing that consumed the tokens ends

    def close(self) -> None:
        """The firing has ended: its decisions are final, and later ones are refused."""
        self._open = False

    @property
    def outputs(self) -> tuple[str, ...]:
        """The names of the places a token may be routed to."""
        return tuple(dict.fromkeys(self._outputs.values()))

    def _decide(self, token: Any, output: str | None, reason: str | None, produce: Any = _CURRENT) -> None:
        if not self._open:
            raise RoutingError(
                f"transition {self.transition!r}: token {token!r} was consumed by a firing that has "
                "ended, so routing it now would go nowhere. Fix: route or reject a token while its "
                "firing handles it",
                transition=self.transition,
            )
        decisions = self._decisions
        for i, candidate in enumerate(self.tokens):
            if candidate is token and decisions[i] is None:
                decisions[i] = (output, reason, token if produce is _CURRENT else produce)
                return
        known = any(candidate is token for candidate in self.tokens)
        raise RoutingError(
            f"transition {self.transition!r}: token {token!r} "
            + (
                "was already routed. Fix: route or reject each token once"
                if known
                else "is not one of the tokens this firing consumed. Fix: route one of ctx.tokens; to "
                "send another object in a token's place, pass it as produce="
            ),
            transition=self.transition,
        )

    def _output(self, output: Any) -> str:
        key = self._outputs.get(str(output))
        if key is None:
            raise RoutingError(
                f"transition {self.transition!r} cannot route to {str(output)!r}: its outputs are "
                f"{list(self.outputs)}. Fix: add {str(output)!r} to the transition's outputs=[...], or "
                "route to one of those",
                transition=self.transition,
                place=str(output),
            )
        return key

    def decisions(self) -> list[tuple[Any, str | None, str | None, Any]]:
        """(token, output, rejection reason, token to produce) per consumed token.

        Output and reason are None for a token nobody decided about.
        """
        return [
            (token, *(decision if decision is not None else (None, None, token)))
            for token, decision in zip(self.tokens, self._decisions, strict=True)
        ]

    @property
    def undecided(self) -> tuple[Any, ...]:
        """Tokens not yet routed or rejected."""
        return tuple(t for t, d in zip(self.tokens, self._decisions, strict=True) if d is None)


class TokenContext(_Router):
    """The ``ctx`` a behaviour tree's leaves get inside a transition: the token(s) and routing.

    It also answers 0.x's ``PNContext`` names (``current_token``, ``places``, ``route_to``,
    ``reject_token``, ``defer_token``...), which a 0.x tree reaches as ``bb.pn_ctx``.
    """

    __slots__ = ("token", "bb", "timebase", "_batch", "_consumed")

    def __init__(
        self,
        transition: str,
        outputs: Mapping[str, str],
        tokens: Iterable[Any],
        bb: Any,
        timebase: Any,
        *,
        batch: bool = False,
        consumed: Any = None,
    ) -> None:
        # Slots set directly, not through _Router.__init__: one context is made per token on the
        # hot path of every bt= transition.
        self.transition = transition
        self.tokens = tokens = tokens if type(tokens) is tuple else tuple(tokens)
        self._outputs = outputs
        self._open = True
        if batch or len(tokens) != 1:
            self._decisions = [None] * len(tokens)
            self._batch = True
            self.token = None
        else:
            self._decisions = [None]
            self._batch = False
            self.token = tokens[0]
        """The token being decided about, in ``bt_mode="token"`` (None for a batch, even of one)."""
        self.bb = bb
        self.timebase = timebase
        self._consumed = consumed  # the firing's Consumed: where each token came from

    def _pick(self, token: Any) -> Any:
        if token is not _CURRENT:
            return token
        if self._batch:
            raise RoutingError(
                f"transition {self.transition!r} runs its tree over a batch of {len(self.tokens)} tokens. "
                "Fix: name the token: ctx.route(output, token)",
                transition=self.transition,
            )
        return self.tokens[0]

    def route(self, output: Any, token: Any = _CURRENT, *, produce: Any = _CURRENT) -> None:
        """Send ``token`` (default: the current one) to ``output`` when the firing commits.

        ``produce`` puts another object in its place (an enriched copy, say); the consumed token is
        then accounted for by that object.
        """
        if token is _CURRENT and not self._batch and self._open and self._decisions[0] is None:
            key = self._outputs.get(output) if type(output) is str else None
            if key is not None:  # the common case: the one token, to an output named by a string
                self._decisions[0] = (key, None, self.token if produce is _CURRENT else produce)
                return
        self._decide(self._pick(token), self._output(output), None, produce)

    def reject(self, reason: str, token: Any = _CURRENT) -> None:
        """Refuse ``token`` (default: the current one); it goes to the ``rejected`` place with ``reason``."""
        self._decide(self._pick(token), None, reason)

    # -- 0.x's PNContext ------------------------------------------------------------------------------

    @property
    def current_token(self) -> Any:
        """The token being decided about (None for a batch): 0.x's name of :attr:`token`."""
        return self.token

    @property
    def places(self) -> SimpleNamespace:
        """The transition's outputs by local name: ``ctx.places.fast`` is the output ``fast``."""
        return SimpleNamespace(**{name.rsplit(".", 1)[-1]: name for name in self.outputs})

    def _is_one(self, token: Any) -> bool:
        return any(candidate is token for candidate in self.tokens)

    def route_to(self, place: Any, token: Any = None) -> None:
        """Route the current token to ``place``; ``token=`` names one of a batch's tokens, or (one token)
        an object to send in its place, e.g. an enriched copy."""
        if token is None:
            self.route(place)
        elif self._is_one(token) or self._batch:
            self.route(place, token)
        else:
            self.route(place, produce=token)

    def route_all_to(self, place: Any) -> None:
        """Route every token not decided yet to ``place``."""
        output = self._output(place)
        for token in self.undecided:
            self._decide(token, output, None)

    def reject_token(self, reason: str = "", token: Any = None) -> None:
        """Reject ``token`` (default: the current one) with ``reason``."""
        self.reject(reason or "rejected", _CURRENT if token is None else token)

    def defer_token(self, token: Any = None) -> None:
        """Put ``token`` (default: the current one) aside: it is rejected with the reason ``"deferred"``.

        (0.x lost deferred tokens; see docs/compat.md.)
        """
        self.reject(DEFERRED, _CURRENT if token is None else token)

    def get_routing_decisions(self) -> list[tuple[Any, str]]:
        """(token to produce, output) of every token routed so far."""
        return [(made, output) for _, output, _, made in self.decisions() if output is not None]

    def get_rejected_tokens(self) -> list[tuple[Any, str]]:
        """(token, reason) of every token rejected so far (deferred ones included)."""
        return [(token, reason) for token, _, reason, _ in self.decisions() if reason is not None]

    def get_deferred_tokens(self) -> list[Any]:
        """Every token deferred so far."""
        return [token for token, _, reason, _ in self.decisions() if reason == DEFERRED]

    def has_decisions(self) -> bool:
        """True once some token was routed, rejected or deferred."""
        return len(self.undecided) < len(self.tokens)

    def get_token_origin(self, token: Any) -> str | None:
        """The input place ``token`` was consumed from (its qualified name); None for another token."""
        if self._consumed is None:
            return None
        for place, tokens in self._consumed.by_place().items():
            if any(candidate is token for candidate in tokens):
                return str(place)
        return None


class Delivery(_Router):
    """A token delivered to an embedded state machine as ``ctx.msg``; its handlers route it."""

    __slots__ = ("token",)

    def __init__(self, transition: str, outputs: Mapping[str, str], token: Any) -> None:
        # Slots set directly, not through _Router.__init__: one Delivery is made per token on the
        # hot path of every fsm= transition.
        self.transition = transition
        self.tokens = (token,)
        self._outputs = outputs
        self._decisions = [None]
        self._open = True
        self.token = token
        """The token carried by this message."""

    def route(self, output: Any, *, produce: Any = _CURRENT) -> None:
        """Send the token (or ``produce``, an object to put in its place) to ``output``."""
        key = self._outputs.get(output) if type(output) is str else None
        if key is not None and self._open and self._decisions[0] is None:
            self._decisions[0] = (key, None, self.token if produce is _CURRENT else produce)
            return
        # Anything unusual (a ref object, a second decision, a closed firing) takes the checked path.
        self._decide(self.token, self._output(output), None, produce)

    def reject(self, reason: str) -> None:
        """Refuse the token; it goes to the ``rejected`` place with ``reason``."""
        self._decide(self.token, None, reason)

    @property
    def routed(self) -> bool:
        """True once the token was routed or rejected."""
        return self._decisions[0] is not None

    def routed_to(self) -> tuple[str, Any] | None:
        """(output, token to produce) if the token was routed; None if rejected or undecided."""
        decision = self._decisions[0]
        if decision is None or decision[0] is None:
            return None
        return decision[0], decision[2]

    def _finish(self) -> dict[str, Any] | None:
        """For the fsm= handler, its firing over: close the delivery; ``{output: token to produce}`` if
        the token was routed, None if it was rejected or nobody decided (see :func:`commit`)."""
        self._open = False
        decision = self._decisions[0]
        return None if decision is None or decision[0] is None else {decision[0]: decision[2]}

    def __repr__(self) -> str:
        return f"Delivery({self.token!r} via {self.transition!r})"


def commit(router: _Router, emit: Any, rejected: str | None, unrouted: Callable[[], str]) -> None:
    """Hand every decision to the firing (``emit(place, token)``); undecided tokens are rejected.

    Rejections go to the ``rejected`` place as :class:`Rejection`; with no such place, a rejection
    fails the firing with a :class:`RoutingError`, so the Petri net's error policy keeps the token.
    ``unrouted()`` says why an undecided token was not routed (made only for such a token).
    The router is closed: a decision made after this would go nowhere, so it is refused.
    """
    router.close()
    decisions = router._decisions
    if len(decisions) == 1 and decisions[0] is not None and decisions[0][0] is not None:
        output, _, produced = decisions[0]  # one token, routed: the common case
        emit(output, produced)
        return
    for token, output, reason, produced in router.decisions():
        if output is not None:
            emit(output, produced)
            continue
        why = unrouted() if reason is None else reason
        if rejected is None:
            raise RoutingError(
                f"transition {router.transition!r} could not place token {token!r}: {why}. Fix: route "
                "every token to an output, or declare rejected=<place> on the transition",
                transition=router.transition,
            )
        emit(rejected, Rejection(token, why, router.transition))
