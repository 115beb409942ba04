"""Routing requests with a tree loaded from JSON, one runner per request.

This is how mycelium uses trees inside Petri-net transitions: the tree spec is built once, and
each request (token) gets its own cheap Runner whose ``ctx`` carries the token and a ``route``
function.  The tree itself is plain data (JSON) whose leaves are looked up by name in a registry -
nothing in the file is ever evaluated.  A leaf that raises is reported as FAILURE (error policy)
so the selector can fall back to the "failed" route instead of crashing the router.

Run: python examples/rhizomorph/request_router.py
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mycorrhizal.rhizomorph import ErrorPolicy, Registry, Runner, Status, load_tree

TREE_JSON = """
{
  "tree": "RequestRouter",
  "root": {"name": "route", "selector": [
    {"name": "reject_invalid", "sequence": [
      {"inverter": {"condition": "is_valid"}},
      {"action": "to_rejected"}
    ]},
    {"name": "serve", "sequence": [
      {"condition": "has_quota"},
      {"retry": {"action": "call_backend"}, "attempts": 2},
      {"action": "to_ok"}
    ]},
    {"action": "to_failed"}
  ]}
}
"""


@dataclass
class Shared:
    """The blackboard shared by every request's runner."""

    quota: int = 4
    backend_calls: int = 0
    flaky: set[str] = field(default_factory=lambda: {"r3"})


@dataclass
class Ctx:
    """What the caller hands each runner: the request and where to send it."""

    token: dict[str, Any]
    routed: dict[str, str]

    def route(self, output: str) -> None:
        self.routed[self.token["id"]] = output


registry = Registry()


@registry.leaf
def is_valid(ctx: Ctx) -> bool:
    return bool(ctx.token.get("user"))


@registry.leaf
def has_quota(bb: Shared) -> bool:
    return bb.quota > 0


@registry.leaf
async def call_backend(bb: Shared, ctx: Ctx) -> Status:
    bb.backend_calls += 1
    await asyncio.sleep(0)  # a real client would await the network here
    if ctx.token["id"] in bb.flaky:
        bb.flaky.discard(ctx.token["id"])  # fails once, then works: the retry absorbs it
        raise ConnectionError("backend hiccup")
    if ctx.token.get("poison"):
        raise ValueError("backend rejected the payload")
    bb.quota -= 1
    return Status.SUCCESS


def router(output: str) -> Any:
    """A leaf that sends the request to ``output``."""

    def send(ctx: Ctx) -> Status:
        ctx.route(output)
        return Status.SUCCESS

    return send


for output in ("ok", "rejected", "failed"):
    registry.add(f"to_{output}", router(output))


DIAGRAMS = {"tree": load_tree(TREE_JSON, registry)}  # what `mycorrhizal diagrams` draws


async def main() -> None:
    tree = load_tree(TREE_JSON, registry)  # built and checked once, shared by every request

    shared, routed = Shared(), dict[str, str]()
    requests = [
        {"id": "r1", "user": "ana"},
        {"id": "r2", "user": ""},
        {"id": "r3", "user": "bo"},
        {"id": "r4", "user": "cy", "poison": True},
        {"id": "r5", "user": "di"},
        {"id": "r6", "user": "ed"},
        {"id": "r7", "user": "fay"},
    ]
    for token in requests:
        runner = Runner(tree, shared, ctx=Ctx(token, routed), on_error=ErrorPolicy.FAILURE)
        status = await runner.tick_until_complete()
        print(f"{token['id']}: {routed[token['id']]:<8} ({status.name}, {runner.ticks} ticks)")
    print(f"routes: {dict(Counter(routed.values()))}")
    print(f"backend calls: {shared.backend_calls}; quota left: {shared.quota}")


if __name__ == "__main__":
    # The error policy logs each backend exception it turns into FAILURE (nothing is silent);
    # here they are expected, so keep them off the console while the example runs.
    logging.getLogger("mycorrhizal.rhizomorph").setLevel(logging.CRITICAL)
    asyncio.run(main())
