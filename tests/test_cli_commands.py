"""The ``aiosms`` commands against the in-process simulator, through ``cli.main``.

``main`` calls ``asyncio.run`` itself, so the async tests run it in a worker thread
while their own event loop serves the simulator. A few run ``python -m aiosms`` as a
subprocess: ``--help``, ``--version``, a refused password, ``simulate`` and SIGINT.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from aiosms import DeliveryReport, DeliveryState, StatusChange, from_dict
from aiosms._cli_commands import CSV_FIELDS, simulator_urls
from aiosms.cli import main
from aiosms.testing import Simulator

TAIWAN = ["+886912345670", "0912345671", "0912345677", "+886912345678"]  # 2 delivered, 2 failed
EIMS = ["886912345670", "886912345679"]  # delivered, expired


@pytest.fixture(autouse=True)
def _no_url_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIOSMS_URL", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(delivery_time=0.2) as simulator:
        yield simulator


def urls(sim: Simulator) -> dict[str, str]:
    return simulator_urls(sim.url)


async def run(*argv: str) -> int:
    """``aiosms argv…`` in a worker thread; its exit code."""
    code: int = await anyio.to_thread.run_sync(main, list(argv))
    return code


def out_err(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    captured = capsys.readouterr()
    return captured.out, captured.err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


# ----------------------------------------------------------------------------- round trips


async def test_every8d_soap_send_watch_reports(
    sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    url = urls(sim)["EVERY8D SOAP"]
    assert await run("send", "--url", url, "--json", "Hello 你好 👋", *TAIWAN) == 0
    sent = json.loads(out_err(capsys)[0])
    assert sent["sent"] == 4
    assert sent["credit"] == "996.00"
    batch = sent["batch_id"]

    assert await run("watch", batch, "--url", url, "--interval", "0.05", "--timeout", "20") == 0
    out, err = out_err(capsys)
    assert out.rstrip().endswith("all recipients final")
    assert "summary: 2 delivered, 2 failed" in out
    assert f"watching batch {batch}" in err
    assert len([line for line in out.splitlines() if "-> delivered" in line]) == 2

    assert await run("reports", batch, "--url", url, "--json") == 0
    lines = out_err(capsys)[0].splitlines()
    reports = [from_dict(DeliveryReport, json.loads(line)) for line in lines]
    assert sorted(r.mobile for r in reports) == sorted(TAIWAN)
    assert all(r.state.is_final and r.batch_id == batch for r in reports)
    assert sim.every8d.world.batches[batch].text(0) == "Hello 你好 👋"


async def test_eims_send_watch_reports_by_message_id(
    sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    url = urls(sim)["EIMS"]
    assert await run("--url", url, "send", "Your code is 1234", *EIMS) == 0
    out = out_err(capsys)[0]
    ids = dict(re.findall(r"^(\d+) -> (\S+)$", out, re.MULTILINE))
    assert sorted(ids) == EIMS
    assert out.rstrip().endswith("2 sent")

    assert (
        await run("watch", *ids.values(), "--url", url, "--interval", "0.05", "--timeout", "20")
        == 0
    )
    out, err = out_err(capsys)
    assert "summary: 1 delivered, 1 expired" in out
    assert out.rstrip().endswith("all recipients final")
    assert "watching 2 messages" in err

    assert await run("reports", *ids.values(), "--url", url, "--json") == 0
    rows = [json.loads(line) for line in out_err(capsys)[0].splitlines()]
    assert {row["message_id"]: row["mobile"] for row in rows} == {v: k for k, v in ids.items()}
    assert {row["state"] for row in rows} == {"delivered", "expired"}


async def test_every8d_http_send_and_status(
    sim: Simulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIOSMS_URL", urls(sim)["EVERY8D HTTP"])  # no --url: the environment
    assert await run("send", "over HTTP", "0912345670") == 0
    out = out_err(capsys)[0]
    batch = re.search(r"^batch (\S+)$", out, re.MULTILINE)
    assert batch is not None
    assert "1 sent, cost 1" in out
    assert await run("status", batch[1]) == 0
    assert re.match(rf"{batch[1]}: 1 recipient: 1 (accepted|delivered)", out_err(capsys)[0])


async def test_watch_of_several_batches_merges_them(
    sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    url = urls(sim)["EVERY8D SOAP"]
    batches = []
    for number in ("0912345670", "0912345679"):
        assert await run("send", "--url", url, "--json", "hi", number) == 0
        batches.append(json.loads(out_err(capsys)[0])["batch_id"])
    assert await run("watch", *batches, "--url", url, "--interval", "0.05", "--json") == 0
    changes = [json.loads(line) for line in out_err(capsys)[0].splitlines()]
    finals = {c["batch_id"]: c["state"] for c in changes if c["state"] != "accepted"}
    assert finals == {batches[0]: "delivered", batches[1]: "expired"}
    assert all(set(c) == {"batch_id", "message_id", "mobile", "previous", "state", "report"}
               for c in changes)  # fmt: skip


async def test_smscenter_voice_calls_are_watched_and_its_sms_refused_clearly(
    sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    url = urls(sim)["SMSCenter"]
    assert await run("send", "--url", url, "--voice", "12", "03-1234560", "054-1234568") == 0
    out = out_err(capsys)[0]
    voice = re.search(r"^message (\d+)$", out, re.MULTILINE)
    assert voice is not None
    assert await run("watch", voice[1], "--url", url, "--interval", "0.05", "--timeout", "20") == 0
    assert "summary: 1 delivered, 1 failed" in out_err(capsys)[0]
    assert await run("reports", voice[1], "--url", url) == 0
    assert "call_length=8" in out_err(capsys)[0]

    assert await run("send", "--url", url, "--json", "שלום", "054-1234567") == 0
    sms = json.loads(out_err(capsys)[0])["batch_id"]
    for command in ("status", "watch", "reports"):
        assert await run(command, sms, "--url", url) == 1
        line = one_error_line(out_err(capsys)[1])
        assert "no SMS status query" in line
        assert "send --voice" in line


async def test_reports_csv_parses_with_the_csv_module(
    sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    url = urls(sim)["EVERY8D SOAP"]
    sim.every8d.fate = lambda mobile: "100"
    batch = sim.every8d.create_batch("demo", ["0912345670", "0912345674"])
    sim.every8d.add_reply(batch, "0912345674", 'yes, "quoted", 好')
    sim.advance(5)
    assert await run("reports", batch, "--url", url, "--csv") == 0
    rows = list(csv.DictReader(io.StringIO(out_err(capsys)[0])))
    assert tuple(rows[0]) == CSV_FIELDS
    assert {row["mobile"] for row in rows} == {"0912345670", "0912345674"}
    assert {row["state"] for row in rows} == {"delivered"}
    replied = next(row for row in rows if row["mobile"] == "0912345674")
    assert replied["replies"] == 'yes, "quoted", 好'
    assert replied["batch_id"] == batch


async def test_reports_table_plain_and_rich(
    sim: Simulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = urls(sim)["EVERY8D SOAP"]
    batch = sim.every8d.create_batch("demo", ["0912345670"])
    assert await run("reports", batch, "--url", url) == 0
    out = out_err(capsys)[0]
    assert out.splitlines()[0].split()[:3] == ["mobile", "state", "status"]
    assert "0912345670" in out
    monkeypatch.setattr("aiosms._cli_commands.is_terminal", lambda stream=None: True)
    assert await run("reports", batch, "--url", url) == 0
    out = out_err(capsys)[0]
    assert batch in out
    assert "┃" in out or "│" in out  # a rich table


async def test_status_json_and_balance_of_every_provider(
    sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    every8d = urls(sim)["EVERY8D SOAP"]
    batch = sim.every8d.create_batch("demo", ["0912345670", "0912345671"])
    assert await run("status", batch, "--url", every8d, "--json") == 0
    snapshot = json.loads(out_err(capsys)[0])
    assert snapshot["batch"] == batch
    assert snapshot["recipients"] == 2
    assert isinstance(snapshot["final"], bool)
    assert sum(snapshot["counts"].values()) == 2

    expected = {
        "EVERY8D SOAP": "credit 1000.00",
        "EVERY8D HTTP": "credit 1000.00",
        "EIMS": "balance 1000.000000, gift 0.00000",
        "SMSCenter": "sms 1000, ivr seconds 10000, mms 0",
    }
    for name, line in expected.items():
        assert await run("balance", "--url", urls(sim)[name]) == 0
        assert out_err(capsys)[0].strip() == line
    assert await run("balance", "--url", urls(sim)["SMSCenter"], "--json") == 0
    assert json.loads(out_err(capsys)[0]) == {"sms": 1000, "ivr_seconds": 10000, "mms": 0}


async def test_send_reads_text_and_numbers_from_stdin_and_files(
    sim: Simulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    url = urls(sim)["EVERY8D SOAP"]
    numbers = tmp_path / "numbers.txt"
    numbers.write_text("# the team\n0912345670\n\n  +886912345671  \n", encoding="utf-8")
    monkeypatch.setattr("sys.stdin", io.StringIO("Text from stdin, 中文\n"))
    assert await run("send", "--url", url, "--json", "--file", str(numbers)) == 0
    batch = sim.every8d.world.batches[json.loads(out_err(capsys)[0])["batch_id"]]
    assert batch.text(0) == "Text from stdin, 中文"
    assert sorted(batch.mobiles) == ["+886912345671", "0912345670"]

    monkeypatch.setattr("sys.stdin", io.StringIO("0912345672\n0912345673\n"))
    assert await run("send", "--url", url, "--json", "numbers from stdin", "--file", "-") == 0
    assert json.loads(out_err(capsys)[0])["sent"] == 2

    monkeypatch.setattr("sys.stdin", io.StringIO("dash text"))
    assert await run("send", "--url", url, "--json", "-", "0912345674") == 0
    batch = sim.every8d.world.batches[json.loads(out_err(capsys)[0])["batch_id"]]
    assert batch.text(0) == "dash text"


async def test_cancel_a_scheduled_batch(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    url = urls(sim)["EVERY8D SOAP"]
    later = "2099-01-31T09:00:00+08:00"
    assert await run("send", "--url", url, "--json", "--at", later, "later", "0912345670") == 0
    batch = json.loads(out_err(capsys)[0])["batch_id"]
    assert await run("status", batch, "--url", url) == 0
    assert "1 scheduled" in out_err(capsys)[0]
    assert await run("cancel", batch, "--url", url) == 0
    assert out_err(capsys)[0].startswith(f"cancelled 1 messages of batch {batch}")
    assert await run("cancel", batch, "--url", url) == 1  # nothing left: not found
    assert "nothing to cancel" in one_error_line(out_err(capsys)[1])


# ----------------------------------------------------------------------------- exit codes


async def test_exit_1_a_wrong_password_is_one_line(
    sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    url = urls(sim)["EVERY8D SOAP"].replace("demo-password", "wrong")
    assert await run("balance", "--url", url) == 1
    line = one_error_line(out_err(capsys)[1])
    assert "wrong password" in line
    assert "wrong@" not in line


async def test_exit_1_an_unknown_batch(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert await run("status", "no-such-batch", "--url", urls(sim)["EVERY8D SOAP"]) == 1
    assert "no recipient for batch no-such-batch" in one_error_line(out_err(capsys)[1])


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["balance"], "no provider URL: give --url URL or set AIOSMS_URL"),
        (["balance", "--url", "sms://a:b@h"], "unknown scheme 'sms'"),
        (["balance", "--url", "smscenter://a:b@h"], "?sender="),
        (["send", "--url", "every8d+soap://a:b@h", "hi"], "no number to send to"),
        (["send", "--url", "every8d+soap://a:b@h", "hi", "--file", "/no/such/file"], "cannot read"),
    ],
)
def test_exit_2_bad_input_before_any_request(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert says in one_error_line(out_err(capsys)[1])


async def test_exit_2_what_the_provider_cannot_do(
    sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run("send", "hi", "12", "--url", urls(sim)["EVERY8D SOAP"]) == 2
    assert "is not a mobile number" in one_error_line(out_err(capsys)[1])
    for name in ("EIMS", "SMSCenter"):
        assert await run("cancel", "123", "--url", urls(sim)[name]) == 2
        assert "cannot cancel a send" in one_error_line(out_err(capsys)[1])
    assert await run("send", "--voice", "12", "0912345670", "--url", urls(sim)["EIMS"]) == 2
    assert "--voice places SMSCenter voice calls" in one_error_line(out_err(capsys)[1])
    assert sim.every8d.count("sendSMS") == 0
    assert sim.eims.count("sendsms") == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "--provider", "nope"],
        ["watch", "b", "--interval", "0"],
        ["send", "hi", "0912345670", "--at", "tomorrow"],
        ["send", "hi", "0912345670", "--at", "2030-01-01T09:00"],
        ["simulate", "--port", "70000"],
        ["reports", "b", "--json", "--csv"],
    ],
)
def test_exit_2_usage_errors_from_argparse(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


async def test_exit_3_when_the_send_outcome_is_unknown(
    sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    sim.faults.drop(operation="sendSMS", after_processing=True)
    assert await run("send", "--url", urls(sim)["EVERY8D SOAP"], "hi", "0912345670") == 3
    line = one_error_line(out_err(capsys)[1])
    assert "outcome" in line.lower() or "may have" in line.lower()
    assert sim.every8d.count("sendSMS") == 1  # sent once, never twice


async def test_exit_4_when_the_provider_cannot_be_reached(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"every8d+soap+http://demo:demo-password@127.0.0.1:{port}?timeout=5"
    assert await run("balance", "--url", url) == 4
    assert "could not connect" in one_error_line(out_err(capsys)[1])


async def test_exit_5_when_the_watch_times_out(
    sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    url = urls(sim)["EVERY8D SOAP"]
    later = "2099-01-31T09:00:00+08:00"
    assert await run("send", "--url", url, "--json", "--at", later, "later", "0912345670") == 0
    batch = json.loads(out_err(capsys)[0])["batch_id"]
    assert await run("watch", batch, "--url", url, "--interval", "0.05", "--timeout", "0.3") == 5
    out, err = out_err(capsys)
    assert "-> scheduled" in out
    assert "timed out after 0.3 s: 1 of 1 recipients not final" in err.splitlines()[-1]


async def test_debug_shows_the_traceback(
    sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    url = urls(sim)["EVERY8D SOAP"].replace("demo-password", "wrong")
    assert await run("--debug", "balance", "--url", url) == 1
    err = out_err(capsys)[1]
    assert "Traceback" in err
    assert "AuthenticationError" in err
    assert err.rstrip().splitlines()[-1].startswith("error: ")


# ----------------------------------------------------------------------------- watch views


def _change(mobile: str, state: DeliveryState, previous: DeliveryState | None) -> StatusChange:
    report = DeliveryReport(
        "batch-1", None, mobile, "", state, "100", "[red]not markup[/red]", None, None
    )
    return StatusChange(report, previous, state)


def test_the_live_view_draws_a_table_and_a_progress_bar() -> None:
    from rich.console import Console

    from aiosms._cli_watch import LiveView, Recipients

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100, height=16)
    seen = Recipients()
    with LiveView(seen, console=console) as view:
        for i in range(20):
            change = _change(f"09123456{i:02d}", DeliveryState.ACCEPTED, None)
            seen.update(change)
            view.show(change)
        for i in range(15):
            change = _change(f"09123456{i:02d}", DeliveryState.DELIVERED, DeliveryState.ACCEPTED)
            seen.update(change)
            view.show(change)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", buffer.getvalue())
    assert "15/20 final" in text
    assert "[red]not markup[/red]" in text  # the provider's words are never markup
    assert "more not shown" in text
    assert "━" in text  # the bar
    assert seen.final == 15
    assert not seen.all_final


async def test_watch_prints_plain_lines_without_rich(
    sim: Simulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("aiosms._cli_watch.is_terminal", lambda stream=None: True)
    monkeypatch.setitem(sys.modules, "rich", None)  # import rich fails: as if not installed
    url = urls(sim)["EVERY8D SOAP"]
    batch = sim.every8d.create_batch("demo", ["0912345670"])
    assert await run("watch", batch, "--url", url, "--interval", "0.05", "--timeout", "20") == 0
    out = out_err(capsys)[0]
    assert re.search(r"\[ *\d+\.\d+s\] +0912345670 .*-> delivered", out)
    assert out.rstrip().endswith("all recipients final")


# ----------------------------------------------------------------------------- demos


@pytest.mark.parametrize(
    ("provider", "says"),
    [
        ("every8d-http", "(HTTP API 2.1)"),
        ("eims", "EIMS simulator listening on http://127.0.0.1:"),
        ("smscenter", "polls them with watch_voice"),
    ],
)
def test_the_demo_of_every_provider(
    provider: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--provider", provider, "--delivery-time", "0.1"]) == 0
    out = capsys.readouterr().out
    assert says in out
    assert "summary: " in out
    assert out.rstrip().endswith("all recipients final")


# ----------------------------------------------------------------------------- subprocesses

_ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
_ENV.pop("AIOSMS_URL", None)


def _aiosms(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own interpreter and arguments)
        [sys.executable, "-m", "aiosms", *argv],
        capture_output=True,
        text=True,
        timeout=30,
        env=_ENV,
        check=False,
    )


def test_help_and_version_by_subprocess() -> None:
    done = _aiosms("--help")
    assert done.returncode == 0
    assert "usage: aiosms" in done.stdout
    for word in ("send", "status", "watch", "reports", "balance", "cancel", "simulate", "demo"):
        assert f"\n    {word} " in done.stdout
    assert "exit codes:" in done.stdout
    assert "[bold" not in done.stdout
    assert "%(" not in done.stdout
    done = _aiosms("--version")
    assert done.returncode == 0
    assert re.fullmatch(r"aiosms \d+\.\d+\.\d+\S*\n", done.stdout)


def test_help_imports_no_rich_no_aiohttp_no_client() -> None:
    code = (
        "import sys\n"
        "from aiosms.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('rich', 'aiohttp')"
        " or m.startswith(('aiosms.every8d', 'aiosms.eims', 'aiosms.smscenter',"
        " 'aiosms.testing', 'aiosms._cli_commands', 'aiosms._cli_watch')))\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    done = subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    assert "HEAVY []" in done.stderr, done.stderr


async def test_a_wrong_password_by_subprocess_is_one_line_exit_1(sim: Simulator) -> None:
    url = urls(sim)["EVERY8D SOAP"].replace("demo-password", "s3cret-wrong")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aiosms", "balance", "--url", url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_ENV,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1
    assert out == b""
    line = one_error_line(err.decode())
    assert "login failed: wrong password" in line
    assert "s3cret-wrong" not in line


async def test_simulate_serves_until_sigint_and_exits_0() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aiosms", "simulate", "--delivery-time", "0.1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_ENV,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        lines: list[str] = []
        async with asyncio.timeout(20):
            while not lines or not lines[-1].startswith("e.g. export AIOSMS_URL="):
                line = (await proc.stdout.readline()).decode()
                assert line, "simulate ended early"
                lines.append(line.rstrip("\n"))
        text = "\n".join(lines)
        found = dict(re.findall(r"^  (\S+(?: \S+)?) +--url '([^']+)'$", text, re.MULTILINE))
        port = re.search(r"127\.0\.0\.1:(\d+)", text)
        assert port is not None
        where = f"demo:demo-password@127.0.0.1:{port[1]}"
        assert found == {
            "EVERY8D SOAP": f"every8d+soap+http://{where}",
            "EVERY8D HTTP": f"every8d+http+http://{where}",
            "EIMS": f"eims://{where}",
            "SMSCenter": f"smscenter+http://{where}?sender=Demo",
        }
        assert "account demo / demo-password" in text
        # The URLs work: the CLI itself asks one for its balance.
        code: int = await anyio.to_thread.run_sync(main, ["balance", "--url", found["EIMS"]])
        assert code == 0
        proc.send_signal(signal.SIGINT)
        rest, err = await asyncio.wait_for(proc.communicate(), 15)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err
    assert b"simulator stopped" in rest
    assert b"Traceback" not in err


async def test_simulate_on_a_port_in_use_is_one_line_exit_2() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = await anyio.to_thread.run_sync(lambda: _aiosms("simulate", "--port", str(port)))
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in one_error_line(done.stderr)
