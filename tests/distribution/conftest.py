"""What the distribution tests share: they wait on real time (leases of a fraction of a second on a
real Redis server), so nothing the rest of the suite left behind may pause them."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _suite_frozen() -> Iterator[None]:
    """Freeze (``gc.freeze``) what the suite made before this test, meanwhile: a full collection in
    a worker process holding the objects of hundreds of earlier tests walks all of them, a pause long
    enough for a 0.3 s lease to run out between a read and its commit (a stale firing then fenced)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
