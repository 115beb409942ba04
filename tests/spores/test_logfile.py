"""transport_for: the transport a file name asks for, and a clear refusal for any other name."""

from __future__ import annotations

from pathlib import Path

import pytest

from mycorrhizal.spores import (
    LOG_SUFFIXES,
    AsyncFileTransport,
    Ocel2JsonTransport,
    Ocel2SqliteTransport,
    transport_for,
)


@pytest.mark.parametrize(
    "name, kind",
    [
        ("run.json", Ocel2JsonTransport),
        ("run.sqlite", Ocel2SqliteTransport),
        ("run.SQLITE3", Ocel2SqliteTransport),
        ("run.db", Ocel2SqliteTransport),
        ("run.jsonl", AsyncFileTransport),
    ],
)
def test_the_ending_names_the_format(tmp_path: Path, name: str, kind: type) -> None:
    transport = transport_for(tmp_path / "deep" / name)
    assert isinstance(transport, kind) and (tmp_path / "deep").is_dir()
    assert name.lower().endswith(LOG_SUFFIXES)
    transport.close_now() if isinstance(transport, AsyncFileTransport) else transport.close()


@pytest.mark.parametrize("name", ["run.txt", "run", "run.json.bak"])
def test_any_other_name_is_refused(tmp_path: Path, name: str) -> None:
    refused = (
        r"cannot tell the log format of .*\. Fix: end the file name with \.json \(OCEL 2\.0 JSON\), "
        r"\.sqlite, \.sqlite3 or \.db \(OCEL 2\.0 SQLite\), or \.jsonl \(JSON lines\)$"
    )
    with pytest.raises(ValueError, match=refused):
        transport_for(tmp_path / name)
