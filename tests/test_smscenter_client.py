"""SmsCenterClient end to end, against the simulated SMSCenter over loopback HTTP(S)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import aiohttp
import anyio
import pytest
from aiohttp import web

import aiosms
from aiosms import DeliveryState
from aiosms.smscenter.codec import SmsOperation
from aiosms.testing import Simulator
from aiosms.webhooks import SmsCenterPushReceiver

USER, PASSWORD = "acme", "p<a&ss wörd"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(delivery_time=0.05) as simulator:
        simulator.smscenter.world.add_account(USER, PASSWORD, sms=100, ivr_seconds=500)
        yield simulator


@pytest.fixture
async def sms(sim: Simulator) -> AsyncIterator[aiosms.SmsCenterClient]:
    async with aiosms.SmsCenterClient(USER, PASSWORD, sender="Acme", base_url=sim.url) as client:
        yield client


def calls(sim: Simulator, operation: str) -> list[aiosms.testing.SmsCenterCall]:
    return [c for c in sim.smscenter.calls if c.operation == operation]


# ---------------------------------------------------------------------- sending


async def test_a_soap_send_returns_the_message_id_and_spends_the_prepaid_balance(
    sim: Simulator, sms: aiosms.SmsCenterClient
) -> None:
    result = await sms.send("שלום, your code is 1234", to=["054-1234560", "+972541234561"])
    assert result.batch_id is not None
    assert (result.sent, result.cost, result.credit) == (2, None, None)
    message = sim.smscenter.world.sms(int(result.batch_id))
    assert message.text == "שלום, your code is 1234"  # Hebrew arrives exactly
    assert {r.msisdn for r in message.recipients} == {"972541234560", "972541234561"}
    assert (message.sender, message.option, message.operation) == ("Acme", "Regular", "Push")
    assert (await sms.balance()).sms == 98
    (call,) = calls(sim, "SendMessageReturnMessageID")
    assert call.params["SendToPhoneNumbers"] == "+972541234560,+972541234561"


async def test_long_texts_are_concatenated_and_cost_their_parts(
    sim: Simulator, sms: aiosms.SmsCenterClient
) -> None:
    result = await sms.send("ש" * 100, to="0541234560", sender="Shop", validity=timedelta(hours=1))
    assert result.batch_id is not None
    message = sim.smscenter.world.sms(int(result.batch_id))
    assert (message.option, message.chained, message.parts, message.sender) == (
        "Concatenated", True, 2, "Shop",
    )  # fmt: skip
    assert (await sms.balance()).sms == 98


async def test_a_scheduled_send_waits_its_minutes(
    sim: Simulator, sms: aiosms.SmsCenterClient
) -> None:
    result = await sms.send(
        "later", to="0541234560", at=datetime.now(UTC) + timedelta(minutes=30),
        operation=SmsOperation.PUSH,
    )  # fmt: skip
    (call,) = calls(sim, "SendMessageReturnMessageID")
    assert call.params["DeliveryDelayInMinutes"] in ("30", "31")
    assert result.batch_id is not None


async def test_some_messages_sent_returns_with_a_warning(
    sim: Simulator, sms: aiosms.SmsCenterClient, caplog: pytest.LogCaptureFixture
) -> None:
    sim.smscenter.world.accounts[USER].sms = 1  # one of two can be paid for
    result = await sms.send("hi", to=["0541234560", "0541234561"])
    assert result.batch_id is not None
    assert "some of its 2 numbers only" in caplog.text


async def test_the_http_push_is_one_post_per_recipient_chained_when_long(
    sim: Simulator, sms: aiosms.SmsCenterClient
) -> None:
    numbers = ["0541234560", "0541234561", "0541234562"]
    result = await sms.send_http("a" * 170, to=numbers)
    assert (result.sent, result.failed) == (3, ())
    pushes = calls(sim, "pushsms.aspx")
    assert len(pushes) == 3
    assert all(c.method == "POST" and c.params["EnableChaining"] == "1" for c in pushes)
    assert all("Password" not in c.path for c in pushes)  # never in the URL
    messages = [m for m in sim.smscenter.world.messages.values() if m.channel == "pushsms"]
    assert all(m.chained and not m.truncated for m in messages)
    await sms.send_http("a" * 170, to=numbers[0], chaining=False)
    last = max(sim.smscenter.world.messages.values(), key=lambda m: m.id)
    assert last.truncated


async def test_a_lost_push_is_outcome_unknown_for_that_recipient_only(
    sim: Simulator,
) -> None:
    async with aiosms.SmsCenterClient(
        USER, PASSWORD, sender="Acme", base_url=sim.url, parallel=1
    ) as sms:
        await sms.balance()
        sim.faults.drop(operation="pushsms.aspx", after_processing=True)
        result = await sms.send_http("hi", to=["0541234560", "0541234561", "0541234562"])
    assert result.sent == 2
    (failed,) = result.failed
    assert failed.outcome_unknown
    assert failed.numbers == ("+972541234560",)
    assert len(calls(sim, "pushsms.aspx")) == 3  # none sent twice


async def test_a_refused_push_for_everyone_raises(sim: Simulator) -> None:
    sim.smscenter.world.add_account("quiet", "pw", allow_push=False)
    async with aiosms.SmsCenterClient("quiet", "pw", sender="A", base_url=sim.url) as sms:
        with pytest.raises(aiosms.ProviderError, match="web site") as info:
            await sms.send_http("hi", to=["0541234560", "0541234561"])
    assert info.value.provider_message == (
        "Company is not allowed to push more messages through URL or MAIL"
    )


async def test_bad_input_is_refused_before_any_request(
    sim: Simulator, sms: aiosms.SmsCenterClient
) -> None:
    for to in ("+886912345678", [], "12345"):
        with pytest.raises(aiosms.InvalidRequestError):
            await sms.send("hi", to=to)
        with pytest.raises(aiosms.InvalidRequestError):
            await sms.send_http("hi", to=to)
    with pytest.raises(aiosms.InvalidRequestError):
        await sms.send("", to="0541234560")
    with pytest.raises(aiosms.InvalidRequestError):
        await sms.send("hi", to="0541234560", at=datetime(2031, 1, 1))
    with pytest.raises(aiosms.InvalidRequestError):
        await sms.send_voice(-1, to="0541234560")
    assert sim.smscenter.calls == []


def test_construction_checks() -> None:
    for args, kwargs in (
        (("", "pw"), {"sender": "A"}),
        (("u", ""), {"sender": "A"}),
        (("u", "pw"), {"sender": ""}),
        (("u", "pw"), {"sender": "A", "base_url": "http://www.smscenter.co.il"}),  # not HTTPS
        (("u", "pw"), {"sender": "A", "soap_version": "2.0"}),
        (("u", "pw"), {"sender": "A", "parallel": 0}),
    ):
        with pytest.raises(aiosms.InvalidRequestError):
            aiosms.SmsCenterClient(*args, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- auth and errors


async def test_a_wrong_password_is_sent_once_and_never_again(sim: Simulator) -> None:
    async with aiosms.SmsCenterClient(USER, "wrong", sender="A", base_url=sim.url) as sms:
        results: list[BaseException] = []

        async def one() -> None:
            try:
                await sms.balance()
            except aiosms.AuthenticationError as exc:
                results.append(exc)

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                for _ in range(10):
                    tg.start_soon(one)
        with pytest.raises(aiosms.AuthenticationError):
            await sms.send("hi", to="0541234560")
    assert len(results) == 10
    assert len(sim.smscenter.calls) == 1


async def test_disabled_accounts_and_addresses_not_allowed(sim: Simulator) -> None:
    sim.smscenter.world.add_account("off", "pw", company_disabled=True)
    sim.smscenter.world.add_account("far", "pw", allow_from=("10.9.9.9",))
    async with aiosms.SmsCenterClient("off", "pw", sender="A", base_url=sim.url) as sms:
        with pytest.raises(aiosms.AccountBlockedError):
            await sms.send("hi", to="0541234560")
    async with aiosms.SmsCenterClient("far", "pw", sender="A", base_url=sim.url) as sms:
        with pytest.raises(aiosms.ProviderError, match="IP address"):
            await sms.send("hi", to="0541234560")


async def test_a_dropped_send_is_outcome_unknown_and_not_repeated(
    sim: Simulator, sms: aiosms.SmsCenterClient
) -> None:
    await sms.balance()
    sim.faults.drop(operation="SendMessageReturnMessageID", after_processing=True)
    with pytest.raises(aiosms.SendOutcomeUnknownError):
        await sms.send("hi", to="0541234560")
    assert len(calls(sim, "SendMessageReturnMessageID")) == 1
    sim.faults.drop(operation="CheckCompanyPrePaid")  # a query is asked again
    assert (await sms.balance()).sms == 99


async def test_the_password_never_reaches_a_log_line(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiosms")
    async with aiosms.SmsCenterClient(USER, PASSWORD, sender="A", base_url=sim.url) as sms:
        await sms.send("hi", to="0541234560")
        await sms.send_http("hi", to="0541234560")
        await sms.balance()
        assert PASSWORD not in repr(sms)
    assert "SendMessageReturnMessageID" in caplog.text
    for secret in (PASSWORD, "p&lt;a&amp;ss", "p%3Ca%26ss"):
        assert secret not in caplog.text


# ---------------------------------------------------------------------- voice, balances


async def test_voice_calls_are_reported_and_watched_to_final(
    sim: Simulator, sms: aiosms.SmsCenterClient
) -> None:
    numbers = ["0541234562", "0541234567", "0541234568", "0541234569"]
    result = await sms.send_voice(12, to=numbers, text="press 1")
    assert result.batch_id is not None
    first = [r async for r in sms.voice_reports(result.batch_id)]
    assert len(first) == 4
    assert all(not r.state.is_final for r in first)
    finals = {}
    with anyio.fail_after(10):
        async for change in sms.watch_voice(result.batch_id, interval=0.02):
            if change.state.is_final:
                finals[change.report.mobile] = (change.state, change.report.status)
    assert finals == {
        "+972541234562": (DeliveryState.DELIVERED, "IVRCallSuccess"),
        "+972541234567": (DeliveryState.FAILED, "IVRCallNotSuccess"),
        "+972541234568": (DeliveryState.FAILED, "FailedCall"),
        "+972541234569": (DeliveryState.EXPIRED, "MessageExpired"),
    }
    reports = {r.mobile: r async for r in sms.voice_reports(result.batch_id)}
    delivered = reports["+972541234562"]
    assert dict(delivered.details) == {"call_length": "10", "response": "2"}
    assert delivered.sent_at is not None
    assert delivered.sent_at.utcoffset() is not None
    assert (await sms.balance()).ivr_seconds < 500


async def test_balances(sim: Simulator) -> None:
    sim.smscenter.world.add_account(
        "boss", "pw", sms=1813, ivr_seconds=162516, mms=845,
        users={"Developers": 1350}, user_prepaid_mode=True,
    )  # fmt: skip
    async with aiosms.SmsCenterClient("boss", "pw", sender="A", base_url=sim.url) as sms:
        assert await sms.balance() == aiosms.SmsCenterBalance(1813, 162516, 845)
        everyone = await sms.users_balance()
        assert everyone.company_in_user_mode is True
        assert ("Developers", 1350) in [(u.username, u.sms) for u in everyone.users]
        me = await sms.users_balance(all_users=False)
        assert [u.username for u in me.users] == ["boss"]


# ---------------------------------------------------------------------- HTTPS, SOAP 1.2


async def test_over_https_with_a_session_that_trusts_the_simulator() -> None:
    async with Simulator(tls=True, delivery_time=0.05) as sim:
        assert sim.url.startswith("https://127.0.0.1:")
        connector = aiohttp.TCPConnector(ssl=sim.client_ssl_context())
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            aiosms.SmsCenterClient(
                "demo", "demo-password", sender="A", base_url=sim.url, session=session
            ) as sms,
        ):
            result = await sms.send("hi", to="0541234560")
            assert result.sent == 1
            assert (await sms.send_http("hi", to="0541234561")).sent == 1
        async with aiosms.SmsCenterClient(
            "demo", "demo-password", sender="A", base_url=sim.url
        ) as untrusting:
            with pytest.raises(aiosms.TransportError):  # a self-signed certificate
                await untrusting.balance()


async def test_soap_12(sim: Simulator) -> None:
    async with aiosms.SmsCenterClient(
        USER, PASSWORD, sender="A", base_url=sim.url, soap_version="1.2"
    ) as sms:
        result = await sms.send("hi", to="0541234560")
        assert result.batch_id is not None
        assert (await sms.balance()).sms == 99
    assert {c.soap_version for c in sim.smscenter.calls} == {"1.2"}


# ---------------------------------------------------------------------- notifications


@asynccontextmanager
async def serving(receiver: SmsCenterPushReceiver) -> AsyncIterator[str]:
    """The receiver at ``/smscenter`` of an aiohttp server on loopback; yields its URL."""
    app = web.Application()
    receiver.add_to(app, "/smscenter")
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}/smscenter"
    finally:
        await runner.cleanup()


async def test_watch_is_fed_by_the_delivery_notifications(
    sim: Simulator, sms: aiosms.SmsCenterClient
) -> None:
    receiver = SmsCenterPushReceiver(token="notify-secret-of-acme")
    numbers = ["0541234560", "0541234566", "0541234568", "0541234569"]
    async with serving(receiver) as url:
        sim.smscenter.world.notify_url = receiver.notification_url(url)
        result = await sms.send("hi", to=numbers)
        assert result.batch_id is not None
        changes = []
        with anyio.fail_after(10):
            # No to=: the client remembers whom it sent this message to.
            async for change in sms.watch(result.batch_id, push=receiver):
                changes.append(change)
    finals = {c.report.mobile: c.state for c in changes if c.state.is_final}
    assert finals == {
        "+972541234560": DeliveryState.DELIVERED,
        "+972541234566": DeliveryState.FAILED,  # 200, 217 tried too often
        "+972541234568": DeliveryState.FAILED,  # 400, 402 black list
        "+972541234569": DeliveryState.EXPIRED,  # 700, 701 expired
    }
    assert all(c.previous is None for c in changes if c.state is DeliveryState.ACCEPTED)
    expired = next(c for c in changes if c.state is DeliveryState.EXPIRED)
    assert expired.report.details["reason_code"] == "701"
    assert not [k for k, n in Counter((c.report.mobile, c.state) for c in changes).items() if n > 1]
    assert sim.smscenter.calls == calls(sim, "SendMessageReturnMessageID")  # no polling at all


async def test_watch_needs_a_receiver_and_the_numbers(sms: aiosms.SmsCenterClient) -> None:
    with pytest.raises(aiosms.InvalidRequestError, match="no SMS status query"):
        sms.watch("12", to=["0541234560"])
    with pytest.raises(aiosms.InvalidRequestError, match="give to="):
        sms.watch("12", push=SmsCenterPushReceiver())  # a message this client did not send


# ---------------------------------------------------------------------- Email->SMS


async def test_send_by_email_through_the_smtp_intake(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with Simulator(smtp=True, delivery_time=0.05) as sim:
        sim.smscenter.world.add_account(USER, PASSWORD)
        async with aiosms.SmsCenterClient(USER, PASSWORD, sender="Acme", base_url=sim.url) as sms:
            result = await sms.send_by_email(
                "שלום from a mail", to=["054-1234560", "+972541234561"],
                smtp_host="127.0.0.1", smtp_port=sim.smtp_port,
                envelope_from="alerts@acme.example",
            )  # fmt: skip
        assert result.sent == 2
        (mail,) = sim.smscenter.world.mails
        assert (mail.outcome, mail.text, mail.username) == ("OK", "שלום from a mail", USER)
        assert sorted(mail.recipients) == [
            "+972541234560@smscenter.co.il", "+972541234561@smscenter.co.il",
        ]  # fmt: skip
        assert mail.message_id is not None
        message = sim.smscenter.world.sms(mail.message_id)
        assert len(message.recipients) == 2
    assert PASSWORD not in caplog.text


def test_the_docs_example_runs_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    page = (Path(__file__).resolve().parent.parent / "docs" / "smscenter.md").read_text()
    after = page.split("<!-- example: runs against the simulator", 1)[1]
    code = after.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "docs/smscenter.md", "exec"), {"__name__": "__example__"})  # noqa: S102
    out = capsys.readouterr().out
    assert "+972541234560 DeliveryState.DELIVERED" in out
    assert "+972541234567 DeliveryState.FAILED" in out
    assert "SmsCenterBalance(" in out
