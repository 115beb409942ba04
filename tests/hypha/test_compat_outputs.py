"""What a handler's outputs may look like in 0.x programs (UPSTREAM-API.md §2.4): dicts whose list
values are one token, ``(place, token)`` pairs, the ``"*"`` key, yields, string keys."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from mycorrhizal.common import HandlerError
from mycorrhizal.hypha import NetBuilder as NativeBuilder
from mycorrhizal.hypha import Runner
from mycorrhizal.hypha.core import NetBuilder


def one_transition(builder_class: type[Any], handler: Any, outputs: int = 2) -> Any:
    builder = builder_class("Net")
    inbox = builder.place("inbox")
    outs = [builder.place(f"out{i}") for i in range(outputs)]
    builder.transition(name="t", inputs=[inbox], outputs=outs)(handler)
    return builder.build()


def fire(net: Any, *tokens: Any) -> tuple[Any, Runner]:
    async def go() -> Runner:
        runner = Runner(net, {})
        runner.add_tokens("inbox", tokens or ["x"])
        await runner.run_until_idle()
        await runner.stop()
        return runner

    runner = asyncio.run(go())
    return runner.marking(), runner


async def returns_a_list(consumed: Any, bb: Any, timebase: Any) -> Any:
    return {"out0": [1, 2]}


async def yields_lists(consumed: Any, bb: Any, timebase: Any) -> Any:
    yield {"out0": [1, 2]}
    yield {"out0": [3]}


def plain_returns_a_list(consumed: Any, bb: Any, timebase: Any) -> Any:
    return {"out0": [1, 2], "out1": "solo"}


def emits_a_list(consumed: Any, bb: Any, timebase: Any, ctx: Any) -> None:
    ctx.emit("out0", [1, 2])


@pytest.mark.parametrize("handler", [returns_a_list, yields_lists, plain_returns_a_list, emits_a_list])
def test_a_list_value_is_one_token_in_0x_nets_and_several_in_native_ones(handler: Any) -> None:
    old, _ = fire(one_transition(NetBuilder, handler))
    new, _ = fire(one_transition(NativeBuilder, handler))
    first = old["out0"][0]
    assert isinstance(first, list) and first[:2] == [1, 2] and len(old["out0"]) == len(new["out0"]) - 1
    assert new["out0"][:2] == (1, 2)


async def pairs(consumed: Any, bb: Any, timebase: Any) -> Any:
    yield ("out0", consumed[0])
    yield ("out1", [consumed[0]])


@pytest.mark.parametrize("builder_class", [NetBuilder, NativeBuilder])
def test_place_token_pairs_are_outputs(builder_class: type[Any]) -> None:
    marking, _ = fire(one_transition(builder_class, pairs), "a")
    assert marking["out0"] == ("a",)
    assert marking["out1"] == ((["a"],) if builder_class is NetBuilder else ("a",))


async def returns_a_pair(consumed: Any, bb: Any, timebase: Any) -> Any:
    return ("out1", consumed[0])


def test_a_returned_pair_is_one_output() -> None:
    marking, _ = fire(one_transition(NativeBuilder, returns_a_pair), "z")
    assert marking["out1"] == ("z",)


async def star(consumed: Any, bb: Any, timebase: Any) -> Any:
    return {"out0": "named", "*": consumed[0]}


@pytest.mark.parametrize("builder_class", [NetBuilder, NativeBuilder])
def test_star_sends_to_every_output_not_named_beside_it(builder_class: type[Any]) -> None:
    marking, _ = fire(one_transition(builder_class, star, outputs=3), "t")
    assert (marking["out0"], marking["out1"], marking["out2"]) == (("named",), ("t",), ("t",))


async def star_only(consumed: Any, bb: Any, timebase: Any) -> Any:
    yield {"*": consumed[0]}
    yield {"out1": "again"}


def test_star_in_one_of_several_yields() -> None:
    marking, _ = fire(one_transition(NativeBuilder, star_only), "t")
    assert (marking["out0"], marking["out1"]) == (("t",), ("t", "again"))


async def into_nowhere(consumed: Any, bb: Any, timebase: Any) -> Any:
    return {"elsewhere": consumed[0]}


async def a_triple(consumed: Any, bb: Any, timebase: Any) -> Any:
    return ("out0", 1, 2)


@pytest.mark.parametrize(
    "handler, message",
    [
        (into_nowhere, r"transition 'Net.t' may not produce into 'elsewhere': it has no output arc"),
        (
            a_triple,
            r"returned tuple \('out0', 1, 2\), which is not an output\. Fix: return \(or yield\) a dict",
        ),
    ],
)
def test_outputs_0x_accepted_fail_the_firing_here_and_the_token_stays(handler: Any, message: str) -> None:
    marking, runner = fire(one_transition(NetBuilder, handler), "kept")
    assert marking["inbox"] == ("kept",) and runner.stats.failures == 1
    error = runner.errors[-1]
    assert isinstance(error, HandlerError) and re.search(message, str(error.__cause__))
