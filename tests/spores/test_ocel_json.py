"""The OCEL 2.0 JSON writer: every record it took is in the document it writes."""

from __future__ import annotations

import json
from pathlib import Path

from mycorrhizal.spores import Ocel2JsonTransport


def test_a_text_with_a_lone_surrogate_does_not_keep_the_whole_log_from_disk(tmp_path: Path) -> None:
    # A path read with os.fsdecode from a name that is not UTF-8 holds lone surrogates
    # ("report-\udcff.csv"); UTF-8 cannot encode them, and the document was never written.
    path = tmp_path / "run.json"
    transport = Ocel2JsonTransport(path)
    transport.write_object(("f-\udcff", "file", 1.0, [("path", "report-\udcff.csv")], []))
    for i in range(3):
        transport.write_event((f"e{i}", "read", 2.0 + i, [("n", i)], [("f-\udcff", "file")], None))
    transport.close()
    document = json.loads(path.read_text(encoding="utf-8"))
    assert [e["id"] for e in document["events"]] == ["e0", "e1", "e2"]
    assert document["objects"][0]["id"] == "f-\udcff"
    assert document["objects"][0]["attributes"][0]["value"] == "report-\udcff.csv"
    assert not path.with_name("run.json.tmp").exists()
