"""The programs in examples/, run against the simulator as a user would run them."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import re
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

import aiosms
from aiosms.testing import Simulator, ThreadedSimulator

pytest_plugins = ["aiosms.testing.pytest_plugin"]

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
HTTPX_WARNING = "ignore:Using `httpx`:UserWarning"  # newer Starlette's TestClient
TOKEN = "t0ken-for-the-tests-0123456789"


def load(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` as a module (examples/ is not a package)."""
    module_name = f"aiosms_example_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # pydantic resolves the models' annotations here
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _no_aiosms_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIOSMS_URL", raising=False)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG):
        yield caplog


def test_each_example_is_short_and_documented() -> None:
    names = sorted(path.stem for path in EXAMPLES.glob("*.py"))
    assert names == ["aiohttp_service", "chat_bot", "fastapi_service", "worker"]
    for name in names:
        text = (EXAMPLES / f"{name}.py").read_text(encoding="utf-8")
        assert len(text.splitlines()) < 150, name
        assert text.startswith('"""'), name
        assert f"examples/{name}.py" in text, name
        assert 'if __name__ == "__main__":' in text, name


# ----------------------------------------------------------------------------- aiohttp


async def test_aiohttp_service_demo_with_pushes() -> None:
    lines = await load("aiohttp_service").main(show=lambda line: None)
    assert "pushed: *******670 delivered" in lines
    assert "pushed: *******677 failed" in lines
    assert "report: *******670 delivered (100)" in lines
    assert "report: *******677 failed (101)" in lines
    assert lines[1].startswith("sent 2 in batch ")
    assert lines[0].endswith("/every8d/push/<token>")
    shown = "\n".join(lines)
    assert "0912345670" not in shown
    assert "demo-password" not in shown


async def test_aiohttp_service_demo_on_a_given_url(sms_simulator: Simulator) -> None:
    example = load("aiohttp_service")
    lines = await example.main(sms_simulator.client_url("every8d+http"), show=lambda _: None)
    assert [line for line in lines if line.startswith("report:")] == [
        "report: *******670 delivered (100)",
        "report: *******677 failed (101)",
    ]
    assert not any(line.startswith("pushed:") for line in lines)  # nobody pushes here
    assert sms_simulator.every8d_http.calls[0].operation == "sendSMS.ashx"


async def test_aiohttp_service_routes(sms_simulator: Simulator) -> None:
    example = load("aiohttp_service")
    shown: list[str] = []
    app = example.make_app(sms_simulator.client_url("every8d+soap"), token=TOKEN, show=shown.append)
    async with TestClient(TestServer(app)) as http:
        answer = await http.post("/send", json={"text": "hi", "to": ["0912345670"]})
        assert answer.status == 201
        sent = await answer.json()
        assert sent["sent"] == 1
        assert Decimal(sent["cost"]) == 1
        assert aiosms.from_dict(aiosms.SendResult, sent).batch_id == sent["batch_id"]
        bad = await http.post("/send", json={"text": "hi", "to": ["12"]})
        assert bad.status == 400
        assert "error" in await bad.json()
        reports = await (await http.get(f"/batches/{sent['batch_id']}")).json()
        assert [r["mobile"] for r in reports] == ["0912345670"]
        push = {"BatchID": sent["batch_id"], "RM": "0912345670", "RT": "20250101120000"}
        push |= {"STATUS": "100", "SM": "", "MR": "1"}
        assert (await http.get(f"/every8d/push/{TOKEN}", params=push)).status == 200
        assert (await http.get("/every8d/push", params={**push, "token": TOKEN})).status == 200
        assert (await http.get("/every8d/push/wrong-token-0123456789", params=push)).status == 403
        assert app[example.RECEIVER].received == 2
        for _ in range(100):  # the subscribed task logs what was pushed
            if shown:
                break
            await asyncio.sleep(0.01)
        assert shown[0] == "pushed: *******670 delivered"
        client = app[example.SMS]
    assert client.closed  # the cleanup_ctx closed the one client
    assert sms_simulator.every8d.count("closeConnection") == 1


# ----------------------------------------------------------------------------- FastAPI


@pytest.mark.filterwarnings(HTTPX_WARNING)
def test_fastapi_service_demo(sms_simulator_thread: ThreadedSimulator) -> None:
    lines = load("fastapi_service").main(
        sms_simulator_thread.client_url("every8d+soap"), show=lambda _: None
    )
    assert lines[0].startswith("sent 2 in batch ")
    assert lines[1:] == [
        "report: *******670 delivered (100)",
        "report: *******677 failed (101)",
        "push with the token: 200; with another: 403",
        "receiver accepted 1 call(s)",
    ]


@pytest.mark.filterwarnings(HTTPX_WARNING)
def test_fastapi_service_demo_starts_its_own_simulator(capsys: pytest.CaptureFixture[str]) -> None:
    lines = load("fastapi_service").main()
    assert lines[-1] == "receiver accepted 1 call(s)"
    printed = capsys.readouterr().out
    assert printed.splitlines() == lines
    assert "0912345670" not in printed
    assert "demo-password" not in printed


@pytest.mark.filterwarnings(HTTPX_WARNING)
def test_fastapi_service_routes(sms_simulator_thread: ThreadedSimulator) -> None:
    from fastapi.testclient import TestClient as ApiClient

    example = load("fastapi_service")
    sim = sms_simulator_thread
    app = example.create_app(sim.client_url("every8d+soap"), token=TOKEN)
    schema = app.openapi()["components"]["schemas"]
    assert {"SendIn", "SendOut"} <= set(schema)
    with ApiClient(app) as api:
        answer = api.post("/send", json={"text": "hi", "to": ["0912345670", "0912345677"]})
        assert answer.status_code == 201
        body: dict[str, Any] = answer.json()
        assert body["sent"] == 2
        assert isinstance(body["cost"], str)
        assert Decimal(body["cost"]) == 2
        assert Decimal(body["credit"]) == 998
        assert set(body) == set(aiosms.to_dict(aiosms.SendResult("b", 1, None, None)))
        assert api.post("/send", json={"text": "hi", "to": ["12"]}).status_code == 400
        assert api.post("/send", json={"to": ["0912345670"]}).status_code == 422
        reports = api.get(f"/batches/{body['batch_id']}").json()
        assert sorted(r["mobile"] for r in reports) == ["0912345670", "0912345677"]
        push = {"BatchID": body["batch_id"], "RM": "0912345670", "STATUS": "100"}
        assert api.get(f"/every8d/push/{TOKEN}", params=push).status_code == 200
        assert api.post(f"/every8d/push/{TOKEN}", data=push).status_code == 200
        assert api.get("/every8d/push/another-token-0123456789", params=push).status_code == 403
        assert api.put(f"/every8d/push/{TOKEN}", params=push).status_code == 405
        assert app.state.receiver.received == 2
    # Leaving the TestClient ran the lifespan's exit: the one client said goodbye.
    assert sim.call(sim.simulator.every8d.count, "closeConnection") == 1


# ----------------------------------------------------------------------------- worker


def _by_number(lines: list[str]) -> dict[str, str]:
    """The last state shown for each masked number."""
    return {m[1]: m[2] for m in (re.search(r" (\*+\d+) \S+ -> (\S+)$", x) for x in lines) if m}


async def test_worker_watches_batches_as_they_come(sms_simulator: Simulator) -> None:
    worker = load("worker")
    jobs = [(f"job {b}", [f"09123456{b}0", f"09123456{b}7"]) for b in range(3)]
    lines: list[str] = []
    count = await worker.main(
        sms_simulator.client_url("every8d+soap"), batches=jobs, interval=0.05, show=lines.append
    )
    assert sms_simulator.every8d.count("sendSMS") == 3
    assert count == len([line for line in lines if "->" in line]) >= 6
    assert _by_number(lines) == {
        f"*******6{b}{d}": "delivered" if d == 0 else "failed" for b in range(3) for d in (0, 7)
    }
    batch_ids = {line.split()[0] for line in lines if "->" in line}
    assert batch_ids == set(sms_simulator.every8d.world.batches)
    assert not any("091234560" in line for line in lines)  # numbers masked


async def test_worker_on_eims(sms_simulator: Simulator) -> None:
    lines: list[str] = []
    await load("worker").main(
        sms_simulator.client_url("eims"),
        batches=[("hi", ["886912345670"]), ("hi", ["886912345677"])],
        interval=0.05,
        show=lines.append,
    )
    assert _by_number(lines) == {"*********670": "delivered", "*********677": "failed"}


async def test_worker_watches_a_send_that_outlived_its_stream(sms_simulator: Simulator) -> None:
    worker = load("worker")
    lines: list[str] = []

    def show(line: str) -> None:
        lines.append(line)
        if line == "sent 1 to *******670":  # the next send outlives the first stream
            sms_simulator.faults.delay(0.6, operation="sendSMS")

    jobs: asyncio.Queue[Any] = asyncio.Queue()
    for job in [("first", ["0912345670"]), ("second", ["0912345671"]), ("bad", ["12"]), None]:
        jobs.put_nowait(job)  # "12" is not a number: refused before any request
    async with aiosms.Every8dSoapClient("demo", "demo-password", base_url=sms_simulator.url) as sms:
        async with asyncio.timeout(8):
            count = await worker.run_worker(sms, jobs, interval=0.05, show=show)
    assert count == 4
    assert _by_number(lines) == {"*******670": "delivered", "*******671": "delivered"}
    # The first stream had ended (its batch final) before the second send came back.
    first_final = lines.index(
        next(x for x in lines if x.endswith("*******670 accepted -> delivered"))
    )
    assert lines.index("sent 1 to *******671") > first_final
    assert any(line.startswith("InvalidRequestError, not repeated") for line in lines)
    assert sms_simulator.every8d.count("sendSMS") == 2


async def test_worker_demo_and_smscenter(sms_simulator: Simulator) -> None:
    worker = load("worker")
    lines: list[str] = []
    assert await worker.main(show=lines.append) == len([x for x in lines if "->" in x]) >= 9
    with pytest.raises(SystemExit, match="notification"):
        await worker.main(sms_simulator.client_url("smscenter"), batches=[])


# ----------------------------------------------------------------------------- chat bot


async def test_chat_bot_never_shows_the_code(
    every8d_soap_client: aiosms.Every8dSoapClient,
    sms_simulator: Simulator,
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    bot = load("chat_bot").OtpBot(every8d_soap_client, interval=0.05)
    chat: list[str] = []

    async def say(text: str) -> None:
        chat.append(text)

    batch_id = await bot.start_login("alice", "0912345670", say)
    assert chat == [
        "I have sent a code to *******670.",
        "Your code is on its way...",
        "Your code has reached your phone.",
    ]
    text = sms_simulator.every8d.recipients(batch_id)[0].text
    code = re.fullmatch(r"Your login code is (\d{6})", text)[1]  # type: ignore[index]
    for seen in ("\n".join(chat), debug_logs.text):
        assert code not in seen
        assert "0912345670" not in seen
    assert "*******670" in debug_logs.text
    assert not bot.verify("alice", "x" + code)
    assert bot.verify("alice", f" {code} ")
    assert not bot.verify("alice", code)  # once only
    assert not bot.verify("mallory", code)


async def test_chat_bot_failures_tries_and_expiry(
    every8d_soap_client: aiosms.Every8dSoapClient, sms_simulator: Simulator
) -> None:
    chat_bot = load("chat_bot")
    chat: list[str] = []

    async def say(text: str) -> None:
        chat.append(text)

    bot = chat_bot.OtpBot(every8d_soap_client, interval=0.05)
    batch_id = await bot.start_login("bob", "0912345677", say)
    assert chat[-1] == "Your code could not be delivered: check the number."
    code = sms_simulator.every8d.recipients(batch_id)[0].text[-6:]
    for _ in range(5):
        assert not bot.verify("bob", "wrong")
    assert not bot.verify("bob", code)  # five wrong tries end it

    assert await bot.start_login("bob", "12", say) is None  # refused before sending
    assert chat[-1].startswith("Sorry")

    quick = chat_bot.OtpBot(every8d_soap_client, interval=0.05, ttl=0.3)
    batch_id = await quick.start_login("carol", "0912345670", say)
    await asyncio.sleep(0.35)
    assert not quick.verify("carol", sms_simulator.every8d.recipients(batch_id)[0].text[-6:])


async def test_chat_bot_on_eims_and_its_demo(
    eims_client: aiosms.EimsClient, capsys: pytest.CaptureFixture[str]
) -> None:
    chat_bot = load("chat_bot")
    chat: list[str] = []

    async def say(text: str) -> None:
        chat.append(text)

    key = await chat_bot.OtpBot(eims_client, interval=0.05).start_login("dan", "886912345670", say)
    assert key is not None
    assert chat[-1] == "Your code has reached your phone."
    demo = await chat_bot.main()
    assert demo[0] == "I have sent a code to *******670."
    assert demo[-1] == "Welcome in!"
    printed = capsys.readouterr().out
    assert not re.search(r"\d{6}", printed)  # neither the code nor a full number
