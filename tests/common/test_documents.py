"""The header of every engine's snapshot document: the three refusals all engines share."""

from typing import Any

import pytest

from mycorrhizal.common.documents import check_header
from mycorrhizal.common.errors import CodecError

UNCHANGED = r"\. Fix: pass what demo\.snapshot\(\) made, unchanged \(this one was damaged or edited\)$"


def check(document: Any) -> dict[str, Any]:
    return check_header(document, engine="demo", reads=2, what="demo document", made_by="demo.snapshot()")


@pytest.mark.parametrize("version", [1, 2])
def test_a_document_of_the_engine_in_a_format_it_reads_comes_back_as_it_is(version: int) -> None:
    document = {"engine": "demo", "version": version, "parts": []}
    assert check(document) is document


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([1, 2], r"^demo snapshot: not a demo document: '\[1, 2\]'\. Fix: pass what demo\.snapshot\(\) made"),
        ({"engine": "other", "version": 1}, r"^demo snapshot: not a demo document: "),
        ({"engine": "demo", "version": "1"}, r"^demo snapshot: malformed version '1'" + UNCHANGED),
        ({"engine": "demo", "version": 0}, r"^demo snapshot: malformed version 0" + UNCHANGED),
        ({"engine": "demo", "version": True}, r"^demo snapshot: malformed version True" + UNCHANGED),
        (
            {"engine": "demo", "version": 3},
            r"^demo snapshot: format 3 is newer than format 2 that this mycorrhizal reads\. "
            r"Fix: restore it with the \(newer\) mycorrhizal version that wrote it$",
        ),
    ],
)
def test_what_cannot_be_read_is_refused_saying_why(document: Any, message: str) -> None:
    with pytest.raises(CodecError, match=message):
        check(document)
