"""Runtime state of places (QUEUE and BAG removal by position, restoring) and the Marking snapshot."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mycorrhizal.hypha.marking as marking_module
from mycorrhizal.hypha import Marking, NetBuilder, PlaceType
from mycorrhizal.hypha.compile import compile_net
from mycorrhizal.hypha.state import PlaceState


def make_place(kind: PlaceType, tokens: list[int]) -> PlaceState:
    builder = NetBuilder("N")
    builder.place("p", type=kind, initial=tokens)
    return PlaceState(compile_net(builder.build()).places[0])


@given(
    kind=st.sampled_from(PlaceType),
    tokens=st.lists(st.integers(), max_size=30),
    data=st.data(),
)
def test_remove_at_takes_exactly_the_chosen_tokens(
    kind: PlaceType, tokens: list[int], data: st.DataObject
) -> None:
    place = make_place(kind, tokens)
    order = place.in_take_order()
    assert sorted(order) == sorted(tokens)
    if kind is PlaceType.QUEUE:
        assert order == tokens
    chosen = data.draw(st.lists(st.integers(0, max(len(tokens) - 1, 0)), unique=True, max_size=len(tokens)))
    chosen = sorted(chosen) if tokens else []
    removed = place.remove_at(chosen)
    assert removed == [order[i] for i in chosen]
    remaining = place.in_take_order()
    assert Counter(remaining) + Counter(removed) == Counter(tokens)
    if kind is PlaceType.QUEUE:
        assert remaining == [tok for i, tok in enumerate(order) if i not in set(chosen)]
    # putting them back restores the take order of what was taken, ahead of the rest
    place.restore(removed)
    assert place.in_take_order()[: len(removed)] == removed
    assert Counter(place.in_take_order()) == Counter(tokens)


@pytest.mark.parametrize("kind", list(PlaceType))
def test_take_and_room(kind: PlaceType) -> None:
    place = make_place(kind, [1, 2, 3])
    first = place.in_take_order()[0]
    assert place.take() == first
    assert place.room() is None


def test_marking_is_a_read_only_mapping_with_aliases() -> None:
    marking = Marking(
        {"Top.a": (1, 2), "Top.b": ()}, {"a": 0, "Top.a": 0, "b": 1, "Top.b": 1}, ["Top.a", "Top.b"]
    )
    assert marking["a"] == (1, 2) and marking["Top.b"] == ()
    assert len(marking) == 2 and list(marking) == ["Top.a", "Top.b"]
    assert marking.counts() == {"Top.a": 2, "Top.b": 0} and marking.total() == 2
    assert "a" in marking and "zzz" not in marking
    assert repr(marking) == "Marking(Top.a: 2)"
    with pytest.raises(KeyError, match=r"no place 'zzz' in this net \(places: \['Top.a', 'Top.b'\]\)"):
        marking["zzz"]


@pytest.mark.parametrize(
    ("key", "fix"),
    [
        ("doughh", r"did you mean 'dough'\? If not, name one of those places"),
        ("Bake.bred", r"did you mean 'Bake.bread'\? If not, name one of those places"),
        ("oven", r"name one of those places"),
    ],
)
def test_a_misspelt_place_in_a_marking_is_answered_with_the_nearest(key: str, fix: str) -> None:
    names = ["Bake.dough", "Bake.bread"]
    aliases = {"dough": 0, "Bake.dough": 0, "bread": 1, "Bake.bread": 1}
    marking = Marking(dict.fromkeys(names, ()), aliases, names)
    with pytest.raises(KeyError, match=rf"no place '{key}' in this net \(places: .*\)\. Fix: {fix}"):
        marking[key]


def test_get_answers_a_missing_place_with_the_default_without_looking_for_a_near_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    marking = Marking({"Top.a": (1,)}, {"a": 0, "Top.a": 0}, ["Top.a"])
    monkeypatch.setattr(marking_module, "did_you_mean", _never)
    assert marking.get("a") == (1,) and marking.get("Top.a") == (1,)
    assert marking.get("zzz") is None and marking.get("zzz", ()) == ()


def _never(*args: object) -> str:
    raise AssertionError("a miss answered by get() built the KeyError's suggestion")
