"""Recovery's replay of a hypha journal: a damaged journal fails recovery, naming what does not fit."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from mycorrhizal.common import ManualClock, StoreError
from mycorrhizal.durability import SQLiteStore
from mycorrhizal.hypha import NetBuilder, NetSpec, Runner


def post() -> NetSpec:
    """``inbox`` -> send -> ``outbox``, a sink that refuses "bad" (parked in ``bounced``); ``held``
    has no transition."""
    b = NetBuilder("Post")
    inbox, held, bounced = b.place("inbox"), b.place("held"), b.place("bounced")

    def deliver(token: Any, bb: Any, tb: Any) -> None:
        if token == "bad":
            raise ValueError("refused")

    outbox = b.io_output_place("outbox", deliver, on_error=bounced)

    @b.transition(inputs=[inbox], outputs=[outbox])
    def send(consumed: Any, bb: Any, tb: Any) -> Any:
        return {outbox: consumed[0]}

    del held
    return b.build()


@pytest.fixture
async def journaled(tmp_path: Path) -> Path:
    """An SQLite file holding run "Post": a token kept in ``held``, one added to ``inbox`` and
    removed, one delivered by ``outbox``, and one it refused (parked in ``bounced``)."""
    path = tmp_path / "run.db"
    store = SQLiteStore(path, commit_interval=0.0005)
    runner = Runner(post(), store=store, timebase=ManualClock())
    await runner.start()  # (the run's first snapshot: what is recorded after it is replayed)
    runner.add_token("held", "kept")
    runner.add_token("inbox", "gone")
    assert runner.runtime.places[("Post", "inbox")].remove_tokens(["gone"]) == ["gone"]
    runner.add_tokens("inbox", ["ok", "bad"])
    await runner.run_until_idle()
    await runner.stop()
    await store.close()
    return path


def damage(path: Path, kind: str, field: str, value: str) -> None:
    """Set ``field`` of the run's first record of ``kind`` to ``value``, in the file itself."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        for first, text in connection.execute("SELECT first_seq, records FROM journal").fetchall():
            records = json.loads(text)
            for record in records:
                if record[0] == kind:
                    record[1][field] = value
                    connection.execute(
                        "UPDATE journal SET records = ? WHERE first_seq = ?", (json.dumps(records), first)
                    )
                    return
        raise AssertionError(f"no {kind} record in the journal")
    finally:
        connection.close()


async def test_an_intact_journal_recovers(journaled: Path) -> None:
    store = SQLiteStore(journaled)
    recovered = await Runner.recover(post(), store, timebase=ManualClock())
    assert recovered.tokens("held") == ("kept",) and recovered.tokens("inbox") == ()
    assert [t.token for t in recovered.tokens("bounced")] == ["bad"]
    await store.close()


@pytest.mark.parametrize(
    ("kind", "field", "where"),
    [("remove", "place", "Post.inbox"), ("deliver", "place", "Post.outbox"), ("park", "sink", "Post.outbox")],
)
async def test_a_record_taking_a_token_from_a_place_that_does_not_hold_it_fails_recovery(
    journaled: Path, kind: str, field: str, where: str
) -> None:
    # The record named held, whose token stays there, but its token id was in another place: replay
    # took it from there all the same, and the recovered run lost a token nobody had taken.
    damage(journaled, kind, field, "Post.held")
    store = SQLiteStore(journaled)
    with pytest.raises(
        StoreError,
        match=(
            rf"^journal record \d+ \({kind}\) takes token \d+ from place 'Post\.held', but the token is in "
            rf"place '{where}': the journal is damaged or does not belong to the run's snapshot\. Fix: "
            r"recover from an undamaged copy of the store, or start the run afresh under another run= name$"
        ),
    ):
        await Runner.recover(post(), store, timebase=ManualClock())
    await store.close()
