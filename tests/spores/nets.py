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
