"""Every ```python block in docs/ and the README runs, in order, one namespace per file."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([*ROOT.glob("docs/**/*.md"), ROOT / "README.md"])
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_code_blocks_run(
    doc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    blocks = BLOCK.findall(doc.read_text(encoding="utf-8"))
    monkeypatch.chdir(tmp_path)  # blocks that write files write them here
    if doc.name == "distribution.md":  # its blocks talk to the test session's own Redis server
        monkeypatch.setenv("REDIS_URL", request.getfixturevalue("redis_url"))
    namespace: dict[str, object] = {"__name__": f"doc_{doc.stem}"}
    for number, block in enumerate(blocks, 1):
        code = compile(block, f"{doc.name} block {number}", "exec")
        exec(code, namespace)  # noqa: S102 - running our own documentation is the point
