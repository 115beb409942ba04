"""The tests' own redis-server: loopback, no persistence, gone after stop()."""

from __future__ import annotations

import redis

from .. import redis_server


def test_the_session_server_answers_on_loopback_and_keeps_no_files(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.ping()
        config = client.config_get("*")
        assert config["bind"] == "127.0.0.1"
        assert config["save"] == "" and config["appendonly"] == "no"
    finally:
        client.close()


def test_a_stopped_server_leaves_nothing_behind() -> None:
    server = redis_server.start()
    client = redis.Redis(port=server.port)
    try:
        client.set("k", "v")
        assert client.get("k") == b"v"
    finally:
        client.close()
        server.stop()
    assert server.process.poll() is not None
    assert not server.folder.exists()
