"""Fixtures shared by the whole suite."""

import pytest

from mycorrhizal.common import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    """A virtual clock starting at t=0; time moves only when a test advances it."""
    return ManualClock()
