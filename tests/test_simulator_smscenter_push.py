"""The simulated SMSCenter's HTTP push, delivery notifications and their retries,
HTTPS, the SMTP intake and faults, over loopback with raw aiohttp. Never uses the
aiosms client.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from email.message import EmailMessage

import aiohttp
import aiosmtplib
import pytest
from _smscenter_wire import (  # the hand-written wire
    DEMO,
    ISRAEL,
    IVR,
    PREPAID,
    PREPAID_NS,
    PUSH,
    SEND,
    balance,
    eventually,
    fields,
    post_soap,
    push,
    send,
    soap,
)
from aiohttp import web

from aiosms.testing import (
    Simulator,
    SmsCenterMessage,
    SmsCenterWorld,
)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(delivery_time=100.0) as simulator:  # statuses move by advance()
        yield simulator


# ----------------------------------------------------------------------------- HTTP push


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_pushsms_answers(sim: Simulator, method: str) -> None:
    world = sim.smscenter.world
    assert await push(sim, method, ToPhoneNumber="054-1234560", Message="שלום") == "OK"
    (message,) = world.messages.values()
    assert isinstance(message, SmsCenterMessage)
    assert (message.channel, message.text, message.recipients[0].msisdn) == (
        "pushsms", "שלום", "972541234560",
    )  # fmt: skip
    to, bad = "0541234560", "+15551234567"
    texts = [
        ("The message cannot be empty.", {"ToPhoneNumber": to, "Message": ""}),
        ("The Sender cannot be empty.", {"ToPhoneNumber": to, "Message": "x", "Sender": ""}),
        ("The Recipient Phone Number cannot be empty", {"ToPhoneNumber": "", "Message": "x"}),
        ("Company Has No Permission To Send to the specified Operator.",
         {"ToPhoneNumber": bad, "Message": "x"}),
        ("Invalid Username or Password.", {"Password": "no", "ToPhoneNumber": to, "Message": "x"}),
    ]  # fmt: skip
    for text, params in texts:
        assert await push(sim, method, **params) == text
    world.add_account("wall", "pw", allow_push=False)
    assert await push(sim, method, UserName="wall", Password="pw", ToPhoneNumber="0541234560",
                      Message="x") == (
        "Company is not allowed to push more messages through URL or MAIL"
    )  # fmt: skip
    world.add_account("gone", "pw", disabled=True)
    assert await push(sim, method, UserName="gone", Password="pw", ToPhoneNumber="0541234560",
                      Message="x") == "User is disabled or deleted."  # fmt: skip
    assert len(world.messages) == 1
    call = sim.smscenter.calls[0]
    assert (call.operation, call.method, call.soap_version) == ("pushsms.aspx", method, None)
    assert call.params["UserName"] == "demo"
    assert "demo-password" not in repr(call)


async def test_pushsms_chaining_and_truncation(sim: Simulator) -> None:
    world = sim.smscenter.world
    long = "x" * 200
    assert await push(sim, ToPhoneNumber="0541234560", Message=long, EnableChaining="1") == "OK"
    assert await push(sim, ToPhoneNumber="0541234560", Message=long) == "OK"
    lower = {"username": "demo", "password": "demo-password", "sender": "S"}
    assert await push(sim, "POST", **lower, tophonenumber="0541234560", message="short",
                      enablechaining="0") == "OK"  # fmt: skip
    chained, cut, short = world.messages.values()
    assert isinstance(chained, SmsCenterMessage)
    assert isinstance(cut, SmsCenterMessage)
    assert isinstance(short, SmsCenterMessage)
    assert (chained.chained, chained.truncated, chained.parts) == (True, False, 2)
    assert (cut.chained, cut.truncated, cut.parts) == (False, True, 1)
    assert (short.chained, short.truncated) == (False, False)
    assert world.accounts["demo"].sms == 1000 - 4
    world.accounts["demo"].sms = 1
    assert await push(sim, ToPhoneNumber="0541234560", Message=long, EnableChaining="1") == (
        "Company is not allowed to push more messages through URL or MAIL"
    )


# ----------------------------------------------------------------------------- notifications


class Receiver:
    """A customer server on 127.0.0.1 that records notification queries."""

    def __init__(self, answers: Callable[[int], str]) -> None:
        self.answers = answers
        self.queries: list[dict[str, str]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.queries.append(dict(request.query))
        return web.Response(text=self.answers(len(self.queries)))


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    got = Receiver(lambda n: "_OK_")
    app = web.Application()
    app.router.add_get("/dlr", got.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    got.url = f"http://127.0.0.1:{runner.addresses[0][1]}/dlr"
    yield got
    await runner.cleanup()


async def test_notifications_fill_the_template(receiver: Receiver) -> None:
    async with Simulator(delivery_time=0.05) as sim:
        world = sim.smscenter.world
        world.notify_url = (
            receiver.url + "?MSISDN={MSISDN}&id={msgid}&d={Dlr_ddmmyyyyhhmmss}"
            "&d2={DLR_DDMMYYYHHMMSS}&s={StatusCode}&sd={StatusDes}&r={ReasonCode}"
            "&rd={ReasonDes}&keep={Other}"
        )
        sent = await send(sim, "0541234560,0541234568")
        await eventually(lambda: len(world.notifications) == 4)
    queries = receiver.queries
    assert [(q["MSISDN"], q["s"], q["r"]) for q in queries if q["MSISDN"].endswith("0")] == [
        ("972541234560", "300", "301"), ("972541234560", "500", "501"),
        ("972541234560", "600", "601"),
    ]  # fmt: skip
    rejected = next(q for q in queries if q["MSISDN"] == "972541234568")
    assert (rejected["s"], rejected["sd"], rejected["r"], rejected["rd"]) == (
        "400", "Rejected", "402", "Black List",
    )  # fmt: skip
    assert {q["id"] for q in queries} == {sent["MessageID"]}
    assert all(q["keep"] == "{Other}" for q in queries)
    first = world.notifications[0]
    stamp = datetime.fromtimestamp(first.at, ISRAEL).strftime("%d%m%Y%H%M%S")
    assert queries[0]["d"] == queries[0]["d2"] == stamp
    assert len(world.notification_attempts) == 4
    assert all(a.ok for a in world.notification_attempts)


async def test_notifications_are_retried_until_ok(receiver: Receiver) -> None:
    receiver.answers = lambda n: "_OK_" if n >= 3 else "busy, try later"
    async with Simulator(delivery_time=0.05) as sim:
        world = sim.smscenter.world
        world.fate = lambda msisdn: (200, 217)  # one status: one notification
        world.notify_url = receiver.url + "?s={StatusCode}&m={MSISDN}"
        await send(sim, "0541234560")
        await eventually(lambda: len(world.notifications) == 1)
        attempts = world.notification_attempts
        assert [a.ok for a in attempts] == [False, False, True]
        assert attempts[0].body == "busy, try later"
        assert attempts[1].at - attempts[0].at >= world.retry_interval * 0.9
        assert world.pending_notifications == 0


async def test_notifications_give_up_after_retry_for(receiver: Receiver) -> None:
    receiver.answers = lambda n: "error"
    async with Simulator(delivery_time=0.05) as sim:
        world = sim.smscenter.world
        world.fate = lambda msisdn: (200, 217)
        world.retry_interval, world.retry_for = 0.02, 0.2
        world.notify_url = receiver.url + "?s={StatusCode}"
        await send(sim, "0541234560")
        await eventually(lambda: len(world.notifications_given_up) == 1)
        assert world.notifications == []
        assert 2 <= len(world.notification_attempts) <= 12
        assert world.pending_notifications == 0


async def test_unreachable_receiver_counts_as_failed() -> None:
    async with Simulator(delivery_time=0.05) as sim:
        world = sim.smscenter.world
        world.fate = lambda msisdn: (200, 217)
        world.retry_for = 0.1
        world.notify_url = "http://127.0.0.1:9/never?{MsgID}"  # discard port: refused
        await send(sim, "0541234560")
        await eventually(lambda: len(world.notifications_given_up) == 1)
        assert world.notification_attempts[0].http_status is None


# ----------------------------------------------------------------------------- HTTPS, SMTP


async def test_https_with_a_throwaway_certificate() -> None:
    async with Simulator(tls=True) as sim:
        assert sim.url.startswith("https://127.0.0.1:")
        connector = aiohttp.TCPConnector(ssl=sim.client_ssl_context())
        async with aiohttp.ClientSession(connector=connector) as http:
            result = await soap(sim, PREPAID, "CheckCompanyPrePaid", ns=PREPAID_NS,
                                session=http, **DEMO)  # fmt: skip
            assert fields(result, PREPAID_NS)["Result"] == "OK"
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await http.get(sim.url + PUSH)
    with pytest.raises(RuntimeError, match="tls=True"):
        Simulator().client_ssl_context()
    assert isinstance(Simulator(tls=True).client_ssl_context(), ssl.SSLContext)


async def test_smtp_intake_turns_mails_into_messages() -> None:
    async with Simulator(smtp=True) as sim:
        world = sim.smscenter.world

        async def mail(subject: str, to: str, body: str = "שלום מהמייל") -> None:
            message = EmailMessage()
            message["From"] = "Shop <shop@example.com>"
            message["To"] = to
            message["Subject"] = subject
            message.set_content(body)
            await aiosmtplib.send(message, hostname="127.0.0.1", port=sim.smtp_port, timeout=5)

        await mail(
            "demo demo-password", "0541234560@smscenter.co.il, +972541234561@SMSCenter.co.il"
        )
        (taken,) = world.mails
        assert (taken.outcome, taken.refused, taken.sender, taken.text) == (
            "OK", False, "Shop", "שלום מהמייל",
        )  # fmt: skip
        assert taken.message_id is not None
        message = world.sms(taken.message_id)
        assert [r.msisdn for r in message.recipients] == ["972541234560", "972541234561"]
        assert message.channel == "email"
        assert "demo-password" not in repr(taken)

        await mail("demo wrong", "0541234560@smscenter.co.il")
        assert (world.mails[1].outcome, world.mails[1].refused) == (
            "Invalid Username or Password.", True,
        )  # fmt: skip
        assert len(world.messages) == 1
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
            await mail("demo demo-password", "someone@example.com")
        assert len(world.mails) == 2
        port = sim.smtp_port
    with pytest.raises(RuntimeError):
        _ = sim.smtp_port
    with pytest.raises(aiosmtplib.SMTPConnectError):  # closed with the simulator
        await aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=1).connect()


# ----------------------------------------------------------------------------- faults


async def test_faults_name_operations(sim: Simulator) -> None:
    sim.faults.http_error(503, operation="SendMessageReturnMessageID")
    sim.faults.drop(operation="pushsms.aspx", after_processing=True)
    assert (await balance(sim))["Result"] == "OK"  # another operation: untouched
    status, _ = await post_soap(
        sim, SEND, "SendMessageReturnMessageID",
        {**DEMO, "SendToPhoneNumbers": "0541234560", "Message": "x"},
    )  # fmt: skip
    assert status == 503
    assert sim.smscenter.world.messages == {}
    with pytest.raises(aiohttp.ClientError):  # POST: aiohttp would repeat a GET
        await push(sim, "POST", ToPhoneNumber="0541234560", Message="x")
    assert len(sim.smscenter.world.messages) == 1  # sent, though the answer was lost
    assert [c.faults for c in sim.smscenter.calls] == [(), ("http_error",), ("drop",)]
    sim.faults.malformed(b"<oops", operation="GetMessagesResponseByMessageID")
    status, data = await post_soap(sim, IVR, "GetMessagesResponseByMessageID",
                                   {**DEMO, "MessageID": "1"})  # fmt: skip
    assert (status, data) == (200, b"<oops")
    assert sim.faults.pending == ()


def test_world_alone() -> None:
    clock = [1_000_000.0]
    world = SmsCenterWorld(delivery_time=1.0, clock=lambda: clock[0])
    account = world.accounts["demo"]
    status, message = world.send_sms(
        account, sender="S", numbers=["0541234560"], text="x", channel="SendMessagesV2",
        chained=False,
    )  # fmt: skip
    assert status == "OK"
    assert message is not None
    assert world.due_notifications() == []  # no notify_url
    world.notify_url = "http://127.0.0.1/?{msgid}"
    assert [n.status for n in world.due_notifications()] == [300]
    clock[0] += 10
    assert [n.status for n in world.due_notifications()] == [500, 600]
    assert world.due_notifications() == []
    assert "demo-password" not in repr(account)
