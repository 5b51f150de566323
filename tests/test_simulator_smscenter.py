"""The simulated SMSCenter, over loopback with raw aiohttp and hand-written SOAP
envelopes and forms: every operation, auth failures, number formats, prepaid, chained
cost, progress over time, IVR, notifications and their retries, HTTPS, the SMTP intake,
faults. Never uses the aiosms client.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from email.message import EmailMessage
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import aiohttp
import aiosmtplib
import pytest
from aiohttp import web
from lxml import etree

from aiosms.testing import (
    Simulator,
    SmsCenterCall,
    SmsCenterMessage,
    SmsCenterWorld,
    smscenter_fate,
    smscenter_ivr_fate,
)
from aiosms.testing._smscenter_model import parse_number, sms_parts
from aiosms.testing._soap_service import result_envelope

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
NS = "http://www.smscenter.co.il/"
PREPAID_NS = "http://www.smscenter.co.il/Web/WebServices/"
SEND = "/Web/WebServices/SendMessage.aspx"
IVR = "/Web/WebServices/SendIVRMessage.aspx"
PREPAID = "/web/webservices/CheckPrePaid.asmx"
PUSH = "/Web/pushsms.aspx"
DEMO = {"Username": "demo", "Password": "demo-password"}
ISRAEL = ZoneInfo("Asia/Jerusalem")
OK_NUMBERS = "+972541234560,054-1234561,0541234562"  # last digits 0-2: delivered


def envelope(operation: str, params: dict[str, str], ns: str, version: str) -> bytes:
    env = SOAP11 if version == "1.1" else SOAP12
    inner = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in params.items())
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{env}">'
        f'<soap:Body><{operation} xmlns="{ns}">{inner}</{operation}></soap:Body>'
        "</soap:Envelope>"
    ).encode()


def soap_headers(operation: str, ns: str, version: str) -> dict[str, str]:
    if version == "1.1":
        return {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{ns}{operation}"'}
    return {"Content-Type": f'application/soap+xml; charset=utf-8; action="{ns}{operation}"'}


async def post_soap(
    sim: Simulator, path: str, operation: str, params: dict[str, str], *, ns: str = NS,
    version: str = "1.1", session: aiohttp.ClientSession | None = None,
) -> tuple[int, bytes]:  # fmt: skip
    body = envelope(operation, params, ns, version)
    headers = soap_headers(operation, ns, version)
    own = session is None
    http = aiohttp.ClientSession() if session is None else session
    try:
        async with http.post(sim.url + path, data=body, headers=headers) as resp:
            return resp.status, await resp.read()
    finally:
        if own:
            await http.close()


async def soap(
    sim: Simulator, path: str, operation: str, *, ns: str = NS, version: str = "1.1",
    session: aiohttp.ClientSession | None = None, **params: str,
) -> etree._Element:  # fmt: skip
    """The ``<operationResult>`` element of a successful call."""
    status, data = await post_soap(
        sim, path, operation, params, ns=ns, version=version, session=session
    )
    assert status == 200, data
    response = etree.fromstring(data).find(f".//{{{ns}}}{operation}Response")
    assert response is not None, data
    result = response.find(f"{{{ns}}}{operation}Result")
    assert result is not None, data
    return result


def fields(element: etree._Element, ns: str = NS) -> dict[str, str]:
    """Child elements (all in ``ns``) → text."""
    found = {}
    for child in element:
        qname = etree.QName(child)
        assert qname.namespace == ns, child.tag
        found[qname.localname] = child.text or ""
    return found


async def send(sim: Simulator, numbers: str, text: str = "hi", **params: str) -> dict[str, str]:
    args = {**DEMO, "SenderName": "Shop", "SendToPhoneNumbers": numbers, "Message": text}
    return fields(await soap(sim, SEND, "SendMessageReturnMessageID", **{**args, **params}))


async def balance(sim: Simulator, **login: str) -> dict[str, str]:
    result = await soap(sim, PREPAID, "CheckCompanyPrePaid", ns=PREPAID_NS, **(login or DEMO))
    return fields(result, PREPAID_NS)


async def push(sim: Simulator, method: str = "GET", **params: str) -> str:
    query = {"UserName": "demo", "Password": "demo-password", "Sender": "Shop", **params}
    async with aiohttp.ClientSession() as http:
        if method == "GET":
            request = http.get(sim.url + PUSH, params=query)
        else:
            request = http.post(sim.url + PUSH, data=query)
        async with request as resp:
            assert resp.status == 200
            assert resp.content_type == "text/plain"
            return await resp.text()


async def eventually(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(delivery_time=100.0) as simulator:  # statuses move by advance()
        yield simulator


# ----------------------------------------------------------------------------- model


def test_numbers_and_parts() -> None:
    for form in ("+972541234567", "054-1234567", "0541234567", "972541234567", "054 123 4567"):
        assert parse_number(form) == "972541234567"
    assert parse_number("03-6123456") == "97236123456"
    for bad in ("+15551234567", "05412345", "abc", "", "+9720541234567"):
        assert parse_number(bad) is None
    assert sms_parts("a" * 160, chained=True) == 1
    assert sms_parts("a" * 161, chained=True) == 2
    assert sms_parts("a" * 306, chained=True) == 2
    assert sms_parts("a" * 307, chained=True) == 3
    assert sms_parts("€" * 80, chained=True) == 1  # extension characters take two
    assert sms_parts("€" * 81, chained=True) == 2
    assert sms_parts("ש" * 70, chained=True) == 1
    assert sms_parts("ש" * 71, chained=True) == 2
    assert sms_parts("ש" * 135, chained=True) == 3
    assert sms_parts("ש" * 500, chained=False) == 1
    assert [smscenter_fate(f"97254123456{d}") for d in "056789"] == [
        (600, 601), (600, 601), (200, 217), (700, 703), (400, 402), (700, 701),
    ]  # fmt: skip
    assert smscenter_ivr_fate("972541234563") == ("IVRCallSuccess", 11, "3")
    assert smscenter_ivr_fate("972541234560") == ("IVRCallSuccess", 8, "")


def test_result_envelope_takes_nested_children() -> None:
    data = result_envelope(
        "1.1", NS, "Op", [("Login", "OK"), ("Arr", [("Item", [("A", "1")]), ("Item", [])])]
    )
    result = etree.fromstring(data).find(f".//{{{NS}}}OpResult")
    assert result is not None
    assert [etree.QName(e).localname for e in result.iter()] == [
        "OpResult", "Login", "Arr", "Item", "A", "Item",
    ]  # fmt: skip
    assert all(etree.QName(e).namespace == NS for e in result.iter())
    plain = etree.fromstring(result_envelope("1.1", NS, "Op", "-1,x"))
    assert plain.findtext(f".//{{{NS}}}OpResult") == "-1,x"


# ----------------------------------------------------------------------------- sending


async def test_send_returns_an_id_and_spends_prepaid(sim: Simulator) -> None:
    assert await balance(sim) == {"SMS": "1000", "IVRSeconds": "10000", "MMS": "0", "Result": "OK"}
    sent = await send(sim, OK_NUMBERS, "שלום 👋")
    assert sent["Response"] == "OK"
    message = sim.smscenter.world.sms(int(sent["MessageID"]))
    assert [r.msisdn for r in message.recipients] == [
        "972541234560", "972541234561", "972541234562",
    ]  # fmt: skip
    assert (message.text, message.sender, message.channel) == (
        "שלום 👋", "Shop", "SendMessageReturnMessageID",
    )  # fmt: skip
    assert (await balance(sim))["SMS"] == "997"
    again = await send(sim, "0541234560")
    assert int(again["MessageID"]) > int(sent["MessageID"])
    call = sim.smscenter.calls[1]
    assert isinstance(call, SmsCenterCall)
    assert call.operation == "SendMessageReturnMessageID"
    assert call.params["Password"] == "demo-password"
    assert "demo-password" not in repr(call)
    assert sim.smscenter.count("CheckCompanyPrePaid") == 2


@pytest.mark.parametrize("version", ["1.1", "1.2"])
async def test_send_v2_answers_the_status_text(sim: Simulator, version: str) -> None:
    args = {**DEMO, "SenderName": "S", "SendToPhoneNumbers": "0541234560", "Message": "x"}
    result = await soap(sim, SEND, "SendMessagesV2", version=version, **args)
    assert (result.text, len(result)) == ("OK", 0)
    result = await soap(sim, SEND, "SendMessagesV2", version=version, **{**args, "Message": ""})
    assert result.text == "MessageCanNotBeEmpty"
    (message,) = sim.smscenter.world.messages.values()
    assert isinstance(message, SmsCenterMessage)
    assert message.channel == "SendMessagesV2"
    assert sim.smscenter.calls[0].soap_version == version


async def test_numbers_some_invalid_all_invalid_none(sim: Simulator) -> None:
    some = await send(sim, "0541234560, +15551234567 ,abc")
    assert some["Response"] == "SomeMessagesSent"
    message = sim.smscenter.world.sms(int(some["MessageID"]))
    assert [r.msisdn for r in message.recipients] == ["972541234560"]
    assert message.refused == ["+15551234567", "abc"]
    assert await send(sim, "+15551234567,12") == {"Response": "InvalidPhoneNumber", "MessageID": ""}
    assert (await send(sim, " , "))["Response"] == "ThePhoneNumberListMustContainAtLeastOneNumber"
    assert (await send(sim, "0541234560", ""))["Response"] == "MessageCanNotBeEmpty"
    assert (await balance(sim))["SMS"] == "999"


async def test_login_failures(sim: Simulator) -> None:
    world = sim.smscenter.world
    world.add_account("off", "pw", company_disabled=True)
    world.add_account("gone", "pw", disabled=True)
    world.add_account("far", "pw", allow_from=["10.9.9.9"])
    cases = {
        ("demo", "wrong"): "Invalid Username or Password.",
        ("ghost", "pw"): "Invalid Username or Password.",
        ("off", "pw"): "Company is Disabled.",
        ("gone", "pw"): "User is disabled or deleted.",
        ("far", "pw"): "InvalidIPAddress",
    }
    for (user, password), text in cases.items():
        login = {"Username": user, "Password": password}
        assert await send(sim, "0541234560", **login) == {"Response": text, "MessageID": ""}
        assert await balance(sim, **login) == {"SMS": "0", "IVRSeconds": "0", "MMS": "0",
                                              "Result": text}  # fmt: skip
        users = await soap(sim, PREPAID, "CheckUsersPrePaid", ns=PREPAID_NS, Mode="AllUsers",
                           **login)  # fmt: skip
        assert fields(users, PREPAID_NS)["ReturnValues"] == text
    assert world.messages == {}
    assert await push(sim, UserName="off", Password="pw", ToPhoneNumber="0541234560",
                      Message="x") == "Company is Disabled."  # fmt: skip


async def test_chained_cost_truncation_and_running_out(sim: Simulator) -> None:
    world = sim.smscenter.world
    long = "a" * 307  # three parts chained
    sent = await send(sim, "0541234560,0541234561", long, MessageOption="Concatenated")
    message = world.sms(int(sent["MessageID"]))
    assert (message.parts, message.chained, message.truncated) == (3, True, False)
    assert (await balance(sim))["SMS"] == str(1000 - 6)
    cut = world.sms(int((await send(sim, "0541234560", long, MessageOption="0"))["MessageID"]))
    assert (cut.parts, cut.chained, cut.truncated, cut.option) == (1, False, True, "Regular")
    hebrew = await send(sim, "0541234560", "ש" * 71, MessageOption="1")  # by number
    assert world.sms(int(hebrew["MessageID"])).parts == 2
    world.add_account("small", "pw", sms=4)
    small = {"Username": "small", "Password": "pw"}
    some = await send(sim, "0541234560,0541234561,0541234562", "a" * 200,
                      MessageOption="Concatenated", **small)  # fmt: skip
    assert some["Response"] == "SomeMessagesSent"
    assert world.sms(int(some["MessageID"])).unpaid == ["972541234562"]
    assert await send(sim, "0541234560", "b" * 200, MessageOption="Concatenated", **small) == {
        "Response": "NoMessagesSent", "MessageID": "",
    }  # fmt: skip


async def test_arguments_of_the_wrong_type_are_soap_faults(sim: Simulator) -> None:
    base = {**DEMO, "SendToPhoneNumbers": "0541234560", "Message": "x"}
    for bad in ({"DeliveryDelayInMinutes": "soon"}, {"MessageOption": "Huge"},
                {"SMSOperation": "7"}, {"Price": "free"}):  # fmt: skip
        status, data = await post_soap(sim, SEND, "SendMessageReturnMessageID", {**base, **bad})
        assert status == 500
        assert etree.fromstring(data).find(f".//{{{SOAP11}}}Fault") is not None
    assert sim.smscenter.world.messages == {}
    ok = await send(sim, "0541234560", SMSOperation="Pull", Price="0.5", CCToEmail="a@b.c, d@e.f")
    message = sim.smscenter.world.sms(int(ok["MessageID"]))
    assert (message.operation, str(message.price), message.cc) == (
        "Pull",
        "0.5",
        ["a@b.c", "d@e.f"],
    )
    status, data = await post_soap(sim, SEND, "NoSuchOperation", DEMO)
    assert status == 500


async def test_paths_are_case_insensitive(sim: Simulator) -> None:
    result = await soap(sim, PREPAID.upper(), "CheckCompanyPrePaid", ns=PREPAID_NS, **DEMO)
    assert fields(result, PREPAID_NS)["Result"] == "OK"
    async with aiohttp.ClientSession() as http, http.get(sim.url + "/web/PUSHSMS.aspx") as resp:
        assert await resp.text() == "Invalid Username or Password."


# ----------------------------------------------------------------------------- over time


async def test_statuses_progress_by_last_digit(sim: Simulator) -> None:
    sent = await send(sim, "0541234560,0541234566,0541234567,0541234568,0541234569")
    message = sim.smscenter.world.sms(int(sent["MessageID"]))
    now = sim.now()
    first = [r.status(now) for r in message.recipients]
    assert [e.status if e else None for e in first] == [300, None, 300, None, 300]
    sim.advance(200)  # past every final (0.5 to 1.5 times delivery_time)
    now = sim.now()
    assert [(r.status(now).status, r.status(now).reason) for r in message.recipients] == [  # type: ignore[union-attr]
        (600, 601), (200, 217), (700, 703), (400, 402), (700, 701),
    ]  # fmt: skip
    assert [e.status for e in message.recipients[0].events(now)] == [300, 500, 600]
    assert [e.status for e in message.recipient("+972541234568").events(now)] == [400]


async def test_delay_and_expiry(sim: Simulator) -> None:
    world = sim.smscenter.world
    later = world.sms(int((await send(sim, "0541234560", DeliveryDelayInMinutes="5"))["MessageID"]))
    expired = world.sms(
        int((await send(sim, "0541234560", DeliveryDelayInMinutes="5",
                        ExpirationDelayInMinutes="2"))["MessageID"])
    )  # fmt: skip
    assert later.recipients[0].status(sim.now()) is None
    sim.advance(301)
    assert later.recipients[0].status(sim.now()).status == 300  # type: ignore[union-attr]
    assert [(e.status, e.reason) for e in expired.recipients[0].events(sim.now())] == [(700, 701)]


async def test_fate_is_replaceable(sim: Simulator) -> None:
    sim.smscenter.world.fate = lambda msisdn: (700, 705)
    sent = await send(sim, "0541234560")
    sim.advance(200)
    final = sim.smscenter.world.sms(int(sent["MessageID"])).recipients[0].status(sim.now())
    assert final is not None
    assert (final.status, final.reason_text) == (700, "Provision block")


# ----------------------------------------------------------------------------- IVR


async def ivr_send(sim: Simulator, numbers: str, **params: str) -> dict[str, str]:
    args = {**DEMO, "SenderName": "Shop", "RecordID": "12", "SendToPhoneNumbers": numbers,
            "Message": "", "DeliveryDelayInMinutes": "0"}  # fmt: skip
    return fields(await soap(sim, IVR, "SendIVRMessages", **{**args, **params}))


async def ivr_rows(
    sim: Simulator, message_id: str, **login: str
) -> tuple[str, list[dict[str, str]]]:
    result = await soap(sim, IVR, "GetMessagesResponseByMessageID", **(login or DEMO),
                        MessageID=message_id)  # fmt: skip
    login_text = result.findtext(f"{{{NS}}}Login")
    array = result.find(f"{{{NS}}}ArrIVRMessagesReturnResponse")
    assert login_text is not None
    assert array is not None
    return login_text, [fields(row) for row in array]


async def test_ivr_calls_progress_and_report(sim: Simulator) -> None:
    sent = await ivr_send(sim, "0541234563,054-1234567,0541234568,+972541234569,xyz")
    assert list(sent) == ["MessageID", "Response"]
    assert sent["Response"] == "SomeMessagesSent"
    login, rows = await ivr_rows(sim, sent["MessageID"])
    assert login == "OK"
    assert [row["Status"] for row in rows] == ["Queued"] * 4
    assert list(rows[0]) == ["Mobile", "Status", "SendDate", "CallLength", "Response"]
    assert rows[0]["Mobile"] == "972541234563"
    # 11 + 3 seconds charged as the calls were placed
    assert (await balance(sim))["IVRSeconds"] == str(10_000 - 14)
    message = sim.smscenter.world.ivr(int(sent["MessageID"]))
    sim.advance(message.calls[0].calling_at - sim.now() + 0.001)
    assert (await ivr_rows(sim, sent["MessageID"]))[1][0]["Status"] == "Calling"
    sim.advance(200)
    _, rows = await ivr_rows(sim, sent["MessageID"])
    assert [(r["Status"], r["CallLength"], r["Response"]) for r in rows] == [
        ("IVRCallSuccess", "11", "3"), ("IVRCallNotSuccess", "3", ""),
        ("FailedCall", "0", ""), ("MessageExpired", "0", ""),
    ]  # fmt: skip
    called = datetime.fromtimestamp(message.calls[0].calling_at, ISRAEL)
    assert rows[0]["SendDate"] == called.strftime("%d/%m/%Y %H:%M:%S")
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d:\d\d", rows[3]["SendDate"])


async def test_ivr_delay_records_balance_and_ownership(sim: Simulator) -> None:
    world = sim.smscenter.world
    delayed = await ivr_send(sim, "0541234561", DeliveryDelayInMinutes="10")
    assert (await ivr_rows(sim, delayed["MessageID"]))[1][0]["Status"] == "DelayedMessage"
    sim.advance(601)
    assert (await ivr_rows(sim, delayed["MessageID"]))[1][0]["Status"] in ("Queued", "Calling")
    world.add_account("rec", "pw", records=[5], ivr_seconds=10)
    rec = {"Username": "rec", "Password": "pw"}
    assert await ivr_send(sim, "0541234561", RecordID="12", **rec) == {
        "MessageID": "", "Response": "RecordIsNotAllowed",
    }  # fmt: skip
    poor = await ivr_send(sim, "0541234561,0541234562", RecordID="5", **rec)  # 9 then 10 s
    assert poor["Response"] == "OK"
    sim.advance(200)
    _, rows = await ivr_rows(sim, poor["MessageID"], **rec)
    assert [r["Status"] for r in rows] == ["IVRCallSuccess", "NotEnoughIVRSecondsAvailable"]
    assert world.accounts["rec"].ivr_seconds == 1
    world.accounts["rec"].ivr_seconds = 0
    assert (await ivr_send(sim, "0541234561", RecordID="5", **rec))["Response"] == (
        "Company is not allowed to push more IVR messages through URL or MAIL"
    )
    assert (await ivr_send(sim, ""))["Response"] == "ThePhoneNumberListMustContainAtLeastOneNumber"
    assert (await ivr_send(sim, "+15551234567"))["Response"] == "InvalidPhoneNumber"
    assert await ivr_rows(sim, delayed["MessageID"], **rec) == ("OK", [])  # not theirs
    assert await ivr_rows(sim, delayed["MessageID"], Username="demo", Password="x") == (
        "Invalid Username or Password.", [],
    )  # fmt: skip


# ----------------------------------------------------------------------------- prepaid


async def test_users_prepaid(sim: Simulator) -> None:
    sim.smscenter.world.add_account(
        "boss", "pw", sms=1813, ivr_seconds=162516, mms=845, users={"Developers": 1350},
        user_prepaid_mode=True,
    )  # fmt: skip
    boss = {"Username": "boss", "Password": "pw"}
    assert await balance(sim, **boss) == {
        "SMS": "1813", "IVRSeconds": "162516", "MMS": "845", "Result": "OK",
    }  # fmt: skip
    result = await soap(sim, PREPAID, "CheckUsersPrePaid", ns=PREPAID_NS, Mode="AllUsers", **boss)
    assert [etree.QName(e).localname for e in result] == [
        "CompanyWorkingInUserPrepaidMode", "Items", "ReturnValues",
    ]  # fmt: skip
    assert fields(result[0].getparent(), PREPAID_NS)["CompanyWorkingInUserPrepaidMode"] == "true"
    items = result.find(f"{{{PREPAID_NS}}}Items")
    assert items is not None
    assert [fields(item, PREPAID_NS) for item in items] == [
        {"UserName": "boss", "SMS": "1813", "UserWorkingInPrePaidMode": "true"},
        {"UserName": "Developers", "SMS": "1350", "UserWorkingInPrePaidMode": "true"},
    ]
    this = await soap(sim, PREPAID, "CheckUsersPrePaid", ns=PREPAID_NS, Mode="1", **DEMO)
    assert fields(this, PREPAID_NS)["CompanyWorkingInUserPrepaidMode"] == "false"
    assert len(this.find(f"{{{PREPAID_NS}}}Items")) == 1  # type: ignore[arg-type]
    status, _ = await post_soap(
        sim, PREPAID, "CheckUsersPrePaid", {**DEMO, "Mode": "Everyone"}, ns=PREPAID_NS
    )
    assert status == 500


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
