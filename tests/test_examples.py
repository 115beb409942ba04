"""Every script in examples/ runs to completion as a user would run it."""

import logging
import runpy
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p for p in ROOT.glob("examples/**/*.py") if not p.name.startswith("_"))


@pytest.fixture(autouse=True)
def restore_log_levels() -> Iterator[None]:
    """Examples may quiet the library's loggers for expected failures; keep that out of other tests."""
    names = ["mycorrhizal", *(n for n in logging.root.manager.loggerDict if n.startswith("mycorrhizal."))]
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name in logging.root.manager.loggerDict:
        if name.startswith("mycorrhizal"):
            logging.getLogger(name).setLevel(levels.get(name, logging.NOTSET))


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_example_runs(
    script: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    monkeypatch.setattr(sys, "argv", [str(script)])
    if script.parent.name == "distribution":  # they talk to the test session's own Redis server
        monkeypatch.setenv("REDIS_URL", request.getfixturevalue("redis_url"))
    monkeypatch.syspath_prepend(str(script.parent))
    runpy.run_path(str(script), run_name="__main__")
    assert capsys.readouterr().out.strip(), f"{script.name} printed nothing"
