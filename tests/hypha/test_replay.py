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
            rf"^run 'Post': journal record \d+ \({kind}\) takes token \d+ from place 'Post\.held', but the "
            rf"token is in place '{where}'" + DAMAGED
        ),
    ):
        await Runner.recover(post(), store, timebase=ManualClock())
    await store.close()


def rewrite(path: Path, snapshot: Any = None, record: list[Any] | None = None) -> None:
    """Change the run's snapshot documents with ``snapshot(document)``, and append ``record`` (a
    ``[kind, payload]`` pair) to its last journal row, in the file itself."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        if snapshot is not None:
            for seq, text in connection.execute("SELECT seq, document FROM snapshots").fetchall():
                document = json.loads(text)
                snapshot(document)
                connection.execute(
                    "UPDATE snapshots SET document = ? WHERE seq = ?", (json.dumps(document), seq)
                )
        if record is not None:
            first, text = connection.execute(
                "SELECT first_seq, records FROM journal ORDER BY first_seq DESC LIMIT 1"
            ).fetchone()
            records = [*json.loads(text), record]
            connection.execute(
                "UPDATE journal SET records = ?, last_seq = ? WHERE first_seq = ?",
                (json.dumps(records), first + len(records) - 1, first),
            )
    finally:
        connection.close()


def newer(document: dict[str, Any]) -> None:
    """A snapshot in a format a later mycorrhizal might write: a new version, ids kept elsewhere."""
    document["version"] = 2
    document["tokens"] = document.pop("ids")


NEWER = (
    r"^run 'Post': its snapshot is in hypha format 2, newer than format 1 that this mycorrhizal reads\. "
    r"Fix: recover it with the \(newer\) mycorrhizal version that wrote it$"
)
MALFORMED = (
    r"^run 'Post': its snapshot is malformed \({}\): the store was damaged or edited\. Fix: restore the "
    r"store from a backup$"
)
DAMAGED = (
    r": the journal is damaged or does not belong to the run's snapshot\. Fix: recover from an undamaged "
    r"copy of the store, or start the run afresh under another run= name$"
)


@pytest.mark.parametrize(
    ("snapshot", "record", "message"),
    [
        (newer, None, NEWER),
        (newer, ["split", {"t": "Post.send"}], NEWER),
        (lambda d: d.pop("next_id"), None, MALFORMED.format("no 'next_id'")),
        (lambda d: d.pop("places"), None, MALFORMED.format("no 'places'")),
        (lambda d: d["ids"].update({"Post.held": [1]}), None, MALFORMED.format("place 'Post.held' .*")),
        (
            None,
            ["split", {"t": "Post.send"}],
            r"^run 'Post': journal record 9 is of kind 'split', which this mycorrhizal does not write: the "
            r"journal is damaged, or was written by a newer mycorrhizal\. Fix: recover it with the version "
            r"that wrote it, or from an undamaged copy of the store$",
        ),
        (
            None,
            ["fire", {"t": "Post.send", "in": [999]}],
            r"^run 'Post': journal record 9 consumes token 999, which is in no place" + DAMAGED,
        ),
        (
            None,
            ["fire", {"t": "Post.gone", "in": []}],
            r"^run 'Post': journal record 9 names transition 'Post.gone', which the snapshot lacks" + DAMAGED,
        ),
        (
            None,
            ["add", {"place": "Post.held", "id": 77, "tokens": [1]}],
            r"^run 'Post': journal record 9 numbers its tokens from 77, expected \d+" + DAMAGED,
        ),
        (
            None,
            ["add", {"place": "Post.held"}],
            r"^run 'Post': journal record 9 \(add\) is malformed \(KeyError\('id'\)\)" + DAMAGED,
        ),
    ],
    ids=[
        "newer",
        "newer with a new kind",
        "no next_id",
        "no places",
        "ids that do not fit",
        "unknown kind",
        "unknown token",
        "unknown transition",
        "ids out of order",
        "malformed record",
    ],
)
async def test_a_snapshot_or_record_recovery_cannot_read_is_named_with_its_run_and_fix(
    journaled: Path, snapshot: Any, record: list[Any] | None, message: str
) -> None:
    # A run a newer mycorrhizal wrote was reported as a damaged journal ("of kind 'split', which hypha
    # does not write"), or failed with a bare KeyError; no error named the run or said what to do.
    rewrite(journaled, snapshot, record)
    store = SQLiteStore(journaled)
    with pytest.raises(StoreError, match=message):
        await Runner.recover(post(), store, timebase=ManualClock())
    await store.close()
