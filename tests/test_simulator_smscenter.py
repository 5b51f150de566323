"""The simulated SMSCenter's web services, over loopback with raw aiohttp and
hand-written SOAP envelopes: every operation, auth failures, number formats, prepaid,
chained cost, progress over time, IVR. Never uses the aiosms client. (The HTTP push,
notifications, HTTPS, the SMTP intake and faults: test_simulator_smscenter_push.py.)
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime

import aiohttp
import pytest
from _smscenter_wire import (  # the hand-written wire
    DEMO,
    ISRAEL,
    IVR,
    NS,
    OK_NUMBERS,
    PREPAID,
    PREPAID_NS,
    SEND,
    SOAP11,
    balance,
    fields,
    post_soap,
    push,
    send,
    soap,
)
from lxml import etree

from aiosms.testing import (
    Simulator,
    SmsCenterCall,
    SmsCenterMessage,
    smscenter_fate,
    smscenter_ivr_fate,
)
from aiosms.testing._smscenter_model import parse_number, sms_parts
from aiosms.testing._soap_service import result_envelope


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
