"""Connecting to Redis: what a user reads when a URL cannot be used."""

from __future__ import annotations

import pytest

from mycorrhizal.common.errors import StoreError
from mycorrhizal.distribution.connection import client_for


@pytest.mark.parametrize(
    ("url", "why"),
    [
        # redis-py ends this message with a period of its own
        ("redis://h:6379/0?socket_timeout=soon", "Invalid value for 'socket_timeout' in connection URL"),
        ("redis://h:notaport/0", "Port could not be cast to integer value as 'notaport'"),
    ],
)
def test_an_unusable_url_reads_as_one_sentence_then_the_fix(url: str, why: str) -> None:
    one_stop = r"is not a usable Redis URL: [^\n]*[^.]\. Fix: 'redis://HOST:PORT/DB'$"
    with pytest.raises(StoreError, match=one_stop) as info:
        client_for(url)
    assert why in str(info.value)
    assert ".." not in str(info.value)
