"""What spores reads of a class (spores/extraction.py): its marked fields, once per class."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated

import pytest

from mycorrhizal.spores import EventAttr
from mycorrhizal.spores.extraction import event_attributes, plan_of


def test_unresolvable_annotations_are_a_warning_naming_the_class_as_written(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A local type in a string annotation cannot be resolved. The warning named the class by its
    # qualname, "test_....<locals>.Board".
    class Speed(float):
        pass

    @dataclass
    class Board:
        speed: Annotated[Speed, EventAttr] = Speed(1.5)

    with caplog.at_level(logging.WARNING, logger="mycorrhizal.spores"):
        assert plan_of(Board).event_attrs == ()
    assert event_attributes(Board()) == []  # nothing of it is logged
    [message] = caplog.messages
    assert message.startswith("spores: the annotations of Board cannot be resolved (NameError: "), message
