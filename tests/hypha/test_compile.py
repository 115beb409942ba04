"""Compiling nets: the plan is cached by spec identity outside the spec, and a spec made by hand gets
the same checks as one from the builder."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest

from mycorrhizal.common import DefinitionError
from mycorrhizal.hypha import ArcSpec, NetSpec, PlaceSpec, Runner, SubnetSpec, TransitionSpec
from mycorrhizal.hypha.compile import compile_net

from .conftest import pipeline


def move(consumed: Any, bb: Any, timebase: Any) -> Any:
    return {"out": consumed[0]}


def test_a_spec_is_compiled_once_and_its_plan_is_not_kept_on_it() -> None:
    net = pipeline(2)
    plan = compile_net(net)
    assert compile_net(net) is plan
    assert Runner(net)._flat is plan
    assert "_cache" not in type(net).__slots__ and not hasattr(net, "__dict__")


def test_the_plan_cache_does_not_keep_specs_alive() -> None:
    net = pipeline(1)
    compile_net(net)
    ref = weakref.ref(net)
    del net
    gc.collect()
    assert ref() is None


def test_a_hand_made_spec_is_checked_when_compiled() -> None:
    net = NetSpec(
        "Hand",
        places=(PlaceSpec("src"), PlaceSpec("src"), PlaceSpec("out", capacity=0)),
        transitions=(TransitionSpec("t", move),),
        arcs=(ArcSpec("src", "t", weight=-1), ArcSpec("t", "ghost", direction="out")),
    )
    with pytest.raises(DefinitionError, match=r"net 'Hand' has 4 problems") as excinfo:
        Runner(net)
    assert [p.subject for p in excinfo.value.problems] == [
        "place 'src'",
        "place 'out'",
        "arc 't' -> 'ghost'",
        "arc 'src' -> 't'",
    ]


def test_an_arc_whose_direction_contradicts_its_ends_is_refused() -> None:
    net = NetSpec(
        "Hand",
        places=(PlaceSpec("src"),),
        transitions=(TransitionSpec("t", move),),
        arcs=(ArcSpec("t", "src", direction="in"), ArcSpec("src", "t")),
    )
    with pytest.raises(DefinitionError, match=r"its direction is 'in' but it goes out of the transition"):
        compile_net(net)


def test_problems_of_a_hand_made_subnet_name_the_subnet() -> None:
    inner = NetSpec("Inner", places=(PlaceSpec("p", capacity=-2),))
    net = NetSpec("Outer", places=(PlaceSpec("q"),), subnets=(SubnetSpec("inner", inner),))
    with pytest.raises(DefinitionError, match=r"subnet 'Outer.inner': place 'p': capacity -2 is not"):
        compile_net(net)
