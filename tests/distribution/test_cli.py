"""``mycorrhizal worker``, ``submit`` and ``inspect``: what they print, their one-line errors, signals."""

from __future__ import annotations

import io
import select
import signal
import time
from typing import IO, Any

import pytest
import redis

from mycorrhizal import distribution
from mycorrhizal.cli import main

from .workers import ROOT, start_worker, started

NET = "tests/distribution/nets.py:TwoStage"


@pytest.fixture
def at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def test_submit_then_inspect(
    at_root: None, redis_url: str, redis_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ["--redis", redis_url, "--prefix", redis_prefix]
    assert main(["submit", NET, "jobs", "1", "2", *where]) == 0
    assert capsys.readouterr().out == "submitted 2 token(s) to jobs\n"
    assert main(["inspect", NET, *where]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "net TwoStage"
    assert lines[1].split() == ["place", "tokens", "waiting", "dead", "pending", "per", "worker"]
    assert lines[2].split() == ["TwoStage.jobs", "2", "2", "0", "-"]
    assert lines[4].split() == ["TwoStage.done", "0", "0", "0", "-"]
    assert lines[5] == "workers: 0 alive"


def test_inspect_shows_keyed_places(
    at_root: None, redis_url: str, redis_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ["--redis", redis_url, "--prefix", redis_prefix, "--partitions", "4"]
    assert main(["submit", "tests/distribution/nets.py:Tally", "jobs", '["a", 1]', *where]) == 0
    assert main(["inspect", "tests/distribution/nets.py:Tally", *where]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[3].split() == ["Tally.jobs", "1", "1", "0", "-"]
    assert lines[5:8] == ["keyed Tally.jobs (machines of Tally.count): 4 partitions", "  held: - (free: 4)",
                          "  machines: 0"]  # fmt: skip


def test_submit_reads_json_lines_from_stdin(
    at_root: None, redis_url: str, redis_prefix: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr("sys.stdin", io.StringIO('{"id": 1}\n\n[2, 3]\n'))
    assert main(["submit", NET, "jobs", "--redis", redis_url, "--prefix", redis_prefix]) == 0
    assert capsys.readouterr().out == "submitted 2 token(s) to jobs\n"


class Terminal(io.StringIO):
    """Standard input typed at a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("stdin", "hint"), [(Terminal, True), (io.StringIO, False)])
def test_submit_says_it_reads_tokens_typed_at_a_terminal(
    at_root: None, redis_url: str, redis_prefix: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, stdin: type[io.StringIO], hint: bool,
) -> None:  # fmt: skip
    monkeypatch.setattr("sys.stdin", stdin("7\n"))
    assert main(["submit", NET, "jobs", "--redis", redis_url, "--prefix", redis_prefix]) == 0
    said = capsys.readouterr()
    assert said.out == "submitted 1 token(s) to jobs\n"
    typing = "no TOKEN given: type one JSON token per line, then Ctrl-D (Ctrl-Z Enter on Windows)"
    assert said.err == (f"mycorrhizal: {typing}\n" if hint else "")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["submit", NET, "jobs", "{oops"],
            "token 1 ('{oops') is not a JSON token: Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1). Fix: give each TOKEN as JSON, e.g. 42, '\"text\"' or '{\"id\": 7}' "
            "(a codec's tagged form for other types)",
        ),
        (["submit", NET, "nowhere", "1"], "net 'TwoStage' has no place 'nowhere'"),
        (["inspect", "tests/distribution/nets.py:NETS"], "has no attribute 'NETS'"),
        (
            ["inspect", "tests/distribution/workers.py:ROOT"],
            "is PosixPath, not a hypha net. Fix: name a net built with @pn.net",
        ),
        (
            ["inspect", NET, "--codecs", "tests/distribution/workers.py:NETS"],
            "is str, not a CodecRegistry. Fix: name the CodecRegistry your tokens' types are in",
        ),
        (["inspect", NET, "--shared", "jobs,nowhere"], "shared place 'nowhere': is not a place of the net"),
    ],
)
def test_mistakes_end_in_one_line_and_exit_1(
    at_root: None, redis_url: str, redis_prefix: str, capsys: pytest.CaptureFixture[str],
    argv: list[str], message: str,
) -> None:  # fmt: skip
    assert main([*argv, "--redis", redis_url, "--prefix", redis_prefix]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mycorrhizal: ") and message in err
    # one line, but a definition error lists each of its problems on a line of its own
    assert err.count("\n") == 1 + err.count("\n  - ")


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--run", "orders"], "--run is"),
        (["--records", "3"], "--records is"),
        (["--records", "0", "--run", "orders"], "--records, --run are"),
    ],
)
def test_inspect_of_a_net_refuses_the_store_file_options(
    at_root: None, redis_url: str, redis_prefix: str, capsys: pytest.CaptureFixture[str],
    options: list[str], named: str,
) -> None:  # fmt: skip
    # Refused before Redis is asked anything: a malformed command line, like the Redis options
    # given with a store file.
    assert main(["inspect", NET, "--redis", redis_url, "--prefix", redis_prefix, *options]) == 2
    said = capsys.readouterr()
    assert said.out == ""
    assert said.err == (
        f"mycorrhizal: {named} for a store file (run.db), not the net {NET!r} distributed over Redis. "
        f"Fix: drop {'it' if ' is' in named else 'them'}, or name the store file instead of MODULE:ATTR\n"
    )


def test_an_unreachable_redis_is_one_line(at_root: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", NET, "--redis", "redis://127.0.0.1:1/0"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "mycorrhizal: cannot read depths in Redis at redis://127.0.0.1:1/0: ConnectionError"
    )
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "stdin"),
    [(["inspect", NET], ""), (["submit", NET, "jobs"], '{"id": 1}\n')],
)
def test_an_unreachable_redis_reads_as_one_sentence_then_the_fix(
    argv: list[str], stdin: str, at_root: None, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # redis-py's message already ends with a period; the fix must follow it once, not after "..".
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert main([*argv, "--redis", "redis://127.0.0.1:1/0"]) == 1
    err = capsys.readouterr().err
    fix = "Fix: check that the Redis server at redis://127.0.0.1:1/0 runs"
    assert f"Connect call failed ('127.0.0.1', 1). {fix}" in err
    assert ".." not in err


def test_a_redis_error_no_call_named_says_the_fix(
    at_root: None, redis_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Redis error that reaches the command raw (no call of the library wrapped it, e.g. a defect)
    is one line: before the fix it said neither the URL to check nor that the server must run."""

    async def broken(self: Any) -> Any:
        raise redis.exceptions.ConnectionError("Connection reset by peer.")

    monkeypatch.setattr(distribution.Client, "status", broken)
    assert main(["inspect", NET, "--redis", redis_url]) == 1
    assert capsys.readouterr().err == (
        f"mycorrhizal: cannot reach Redis at {redis_url}: ConnectionError: Connection reset by peer. "
        f"Fix: check the URL (--redis {redis_url}), that its redis-server runs and that this machine can "
        "reach it\n"
    )


@pytest.mark.parametrize(
    ("option", "message"),
    [(["--lease", "0"], "is not a number of seconds"), (["--concurrency", "0"], "is not a whole number")],
)
def test_bad_worker_options_exit_2(
    option: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["worker", NET, *option])
    assert info.value.code == 2 and message in capsys.readouterr().err


def test_a_worker_started_with_sigint_ignored_still_stops_on_ctrl_c(
    redis_url: str, redis_prefix: str
) -> None:
    # As a non-interactive shell starts a background job: SIGINT ignored.
    process = start_worker(redis_url, redis_prefix, "TwoStage", "--lease", "1", ignore_sigint=True)
    try:
        name = started(process)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert out.splitlines()[-1] == (
        f"worker {name} stopped: 0 firings, 0 tokens reclaimed, 0 firings fenced, 0 tokens dropped unfired"
    )


def line_within(stream: IO[str], seconds: float) -> str:
    """The next line of ``stream``, or "" if none comes within ``seconds``."""
    ready, _, _ = select.select([stream], [], [], seconds)
    return stream.readline() if ready else ""


def test_a_second_signal_stops_a_stopping_worker_at_once(redis_url: str, redis_prefix: str) -> None:
    """Its firing never ends: the first SIGTERM gives the firing a lease (30 s) to finish; the second
    ends the worker at once, as abort() does (before the fix it waited out the lease)."""
    process = start_worker(redis_url, redis_prefix, "Stuck", "--lease", "30")
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    stream = f"{redis_prefix}:{{Stuck}}:place:Stuck.jobs"
    try:
        name = started(process)
        client.xadd(stream, {"t": '{"codec":1,"value":1}'})
        deadline = time.monotonic() + 5
        while client.xpending(stream, "workers")["pending"] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)  # (until the worker fires it)
        process.send_signal(signal.SIGTERM)
        assert process.stdout is not None
        stopping = line_within(process.stdout, 5)  # (the first signal is handled)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert stopping == (
        f"worker {name} stopping: firings in flight get up to 30 s to finish; SIGTERM or Ctrl-C again "
        "stops it at once\n"
    )
    assert (process.returncode, out) == (1, "")
    assert err == (
        f"mycorrhizal: worker {name} stopped at once on a second signal: the 1 token(s) it held stay "
        "leased to it, and other workers take them over once its lease of 30 s runs out. Fix: to stop "
        "cleanly, send one signal and wait\n"
    )
    pending = client.xpending(stream, "workers")  # nothing reached Redis from it after the signal
    assert (pending["pending"], pending["consumers"][0]["name"]) == (1, name)
    client.close()


@pytest.mark.parametrize("command", [["worker", NET], ["submit", NET, "jobs", "1"], ["inspect", NET]])
def test_without_the_redis_package_the_fix_is_to_install_it(
    command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: "distribution needs the redis package: pip install ..." (the fix not after '. Fix: ').
    monkeypatch.setattr("mycorrhizal.cli.distributed.distribution", None)
    assert main(command) == 1
    assert capsys.readouterr().err == (
        "mycorrhizal: distribution needs the redis package, which is not installed. Fix: pip install "
        "'mycorrhizal[redis]'\n"
    )
