"""Nets that several spores test modules observe."""

from __future__ import annotations

from typing import Any

from mycorrhizal.hypha import NetBuilder, PlaceType, pn


@pn.net
def Pairing(builder: NetBuilder) -> None:
    """Two input places (one taking two tokens) into two output places: the first token passed on
    to both, the third twice into one place, and a new token."""
    left = builder.place("left", type=PlaceType.QUEUE)
    right = builder.place("right", type=PlaceType.QUEUE)
    paired = builder.place("paired", type=PlaceType.QUEUE)
    spare = builder.place("spare", type=PlaceType.QUEUE)

    @builder.transition(inputs=[left, (right, 2)], outputs=[paired, spare])
    async def pair(consumed: Any, bb: Any, timebase: Any) -> Any:
        first, second, third = consumed
        return {paired: first, spare: [first, third, third, {"id": f"s{second['id']}", "n": 1}]}


@pn.net
def Sorting(builder: NetBuilder) -> None:
    """Transitions producing nothing or one token, as firings mostly are: ``take`` consumes one
    token from ``a`` and two from ``b``; ``forward`` passes its token on; ``make`` produces a new
    token, with its consumed one's id when that has ``"same"`` (one object in two roles)."""
    a = builder.place("a", type=PlaceType.QUEUE)
    b = builder.place("b", type=PlaceType.QUEUE)
    c = builder.place("c", type=PlaceType.QUEUE)
    d = builder.place("d", type=PlaceType.QUEUE)
    e = builder.place("e", type=PlaceType.QUEUE)
    f = builder.place("f", type=PlaceType.QUEUE)

    @builder.transition(inputs=[a, (b, 2)])
    async def take(consumed: Any, bb: Any, timebase: Any) -> None:
        return None

    @builder.transition(inputs=[c], outputs=[d])
    async def forward(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {d: consumed[0]}

    @builder.transition(inputs=[e], outputs=[f])
    async def make(consumed: Any, bb: Any, timebase: Any) -> Any:
        token = consumed[0]
        return {f: {"id": token["id"] if token.get("same") else f"new-{token['id']}", "n": 1}}


@pn.net
def Relay(builder: NetBuilder) -> None:
    """Tokens passed on twice, ``a`` -> ``b`` -> ``c``: one token, one object, in both events."""
    a = builder.place("a", type=PlaceType.QUEUE)
    b = builder.place("b", type=PlaceType.QUEUE)
    c = builder.place("c", type=PlaceType.QUEUE)

    @builder.transition(inputs=[a], outputs=[b])
    async def first(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {b: consumed[0]}

    @builder.transition(inputs=[b], outputs=[c])
    async def second(consumed: Any, bb: Any, timebase: Any) -> Any:
        return {c: consumed[0]}
