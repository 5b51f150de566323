"""aiosms.smscenter.numbers and .codec: Israeli numbers, GSM-7/UCS-2 lengths, the SOAP
calls and their complex results, the HTTP push replies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from aiosms import (
    AccountBlockedError,
    AuthenticationError,
    DeliveryState,
    InsufficientCreditError,
    InvalidRequestError,
    ProviderError,
    ResponseFormatError,
)
from aiosms._soap import build_envelope, parse_envelope_result
from aiosms.smscenter.codec import (
    ISRAEL,
    NAMESPACE,
    PREPAID_NAMESPACE,
    MessageOption,
    SmsOperation,
    build_push,
    build_send,
    build_send_voice,
    build_users_prepaid,
    build_voice_reports,
    parse_company_prepaid,
    parse_push_reply,
    parse_send,
    parse_send_v2,
    parse_users_prepaid,
)
from aiosms.smscenter.numbers import needs_chaining, normalize_number, sms_length
from aiosms.smscenter.reports import parse_voice_reports

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
AUTH = {"username": "acme", "password": "p<a&ss"}
NOW = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)
GSM7 = "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCXYZÄÖÑÜ§¿abcxyzäöñüà"


# ---------------------------------------------------------------------------- numbers


@FUZZ
@given(
    national=st.from_regex(r"5[0-9]{8}|[2-489][0-9]{7}|7[0-9]{7,8}", fullmatch=True),
    form=st.sampled_from(["+972{}", "972{}", "0{}", "0{}-dash", "+972 {}"]),
)
def test_every_accepted_form_has_one_normal_form(national: str, form: str) -> None:
    written = f"0{national[:2]}-{national[2:]}" if form == "0{}-dash" else form.format(national)
    assert normalize_number(written) == "+972" + national


@pytest.mark.parametrize(
    "bad",
    ["", "12345", "+886912345678", "0512345678901", "05412345", "054-12a4567", "+9720541234567",
     "1" * 10_000, None, 541234567],
)  # fmt: skip
def test_numbers_that_are_not_israeli_are_refused(bad: object) -> None:
    with pytest.raises(InvalidRequestError):
        normalize_number(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "chained"),
    [
        ("a" * 160, False),
        ("a" * 161, True),
        ("€" * 80, False),  # an extension character takes two septets
        ("€" * 80 + "a", True),
        ("ש" * 70, False),  # Hebrew: UCS-2, 70 a message
        ("ש" * 71, True),
        ("a" * 69 + "ש", False),
        ("a" * 70 + "ש", True),
        ("😀" * 35, False),  # an emoji is two UTF-16 units
        ("😀" * 35 + "a", True),
        (GSM7, False),
    ],
)
def test_one_sms_is_160_gsm7_or_70_ucs2_exactly(text: str, chained: bool) -> None:
    assert needs_chaining(text) is chained


@FUZZ
@given(text=st.text(GSM7, min_size=1, max_size=300))
def test_gsm7_texts_are_measured_in_septets(text: str) -> None:
    assert sms_length(text) == (len(text), 160)


# ---------------------------------------------------------------------------- sending


def envelope_params(call: object) -> dict[str, str]:
    data = build_envelope(call.operation, call.params, namespace=call.namespace)  # type: ignore[attr-defined]
    root = etree.fromstring(data)
    (op,) = root[0]
    return {etree.QName(el).localname: el.text or "" for el in op}


def test_a_send_is_send_message_return_message_id_with_every_parameter() -> None:
    call = build_send(
        "שלום hello", ["054-1234567", "+972541234567", "03-1234567"], sender="Acme",
        now=NOW, at=NOW + timedelta(minutes=90, seconds=1), validity=timedelta(hours=2),
        cc_emails=["a@example.com"], price=0.5, **AUTH,
    )  # fmt: skip
    assert (call.operation, call.namespace, call.idempotent) == (
        "SendMessageReturnMessageID", NAMESPACE, False,
    )  # fmt: skip
    params = envelope_params(call)
    assert params == {
        "Username": "acme",
        "Password": "p<a&ss",
        "SenderName": "Acme",
        "SendToPhoneNumbers": "+972541234567,+97231234567",  # one normal form, each once
        "CCToEmail": "a@example.com",
        "Message": "שלום hello",
        "SMSOperation": "Push",
        "DeliveryDelayInMinutes": "91",
        "ExpirationDelayInMinutes": "120",
        "MessageOption": "Regular",
        "Price": "0.5",
    }
    assert "p<a&ss" not in repr(call)


def test_long_texts_go_concatenated_unless_told() -> None:
    long = build_send("ש" * 71, "0541234567", sender="A", now=NOW, **AUTH)
    assert dict(long.params)["MessageOption"] == "Concatenated"
    told = build_send("ש" * 71, "0541234567", sender="A", now=NOW, option="Reply", **AUTH)
    assert dict(told.params)["MessageOption"] == "Reply"
    v2 = build_send("hi", "0541234567", sender="A", now=NOW, returns_id=False, **AUTH)
    assert v2.operation == "SendMessagesV2"


def test_operations_beyond_the_spec_are_accepted() -> None:
    assert SmsOperation("reversebilling") is SmsOperation.REVERSE_BILLING
    odd = SmsOperation("WhatsAppFallback")
    assert odd.value == "WhatsAppFallback"
    call = build_send("hi", "0541234567", sender="A", now=NOW, operation=odd, **AUTH)
    assert dict(call.params)["SMSOperation"] == "WhatsAppFallback"
    assert MessageOption("CONCATENATED") is MessageOption.CONCATENATED
    with pytest.raises(ValueError, match="not a valid"):
        SmsOperation("no spaces allowed")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"to": "+886912345678"},
        {"to": []},
        {"text": ""},
        {"text": "x" * 1001},
        {"sender": ""},
        {"at": datetime(2031, 1, 1)},
        {"validity": timedelta(seconds=30)},
        {"cc_emails": ["not-an-address"]},
        {"price": -1},
        {"operation": "bad value"},
        {"username": ""},
    ],
)
def test_bad_sends_are_refused_before_any_request(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"text": "hi", "to": "0541234567", "sender": "A", "now": NOW}
    args |= AUTH | kwargs
    text, to = args.pop("text"), args.pop("to")
    with pytest.raises((InvalidRequestError, ValueError)):
        build_send(text, to, **args)  # type: ignore[arg-type]


def test_voice_and_report_calls() -> None:
    call = build_send_voice(17, ["0541234567"], sender="A", now=NOW, text="press 1", **AUTH)
    assert call.operation == "SendIVRMessages"
    assert envelope_params(call)["RecordID"] == "17"
    reports = build_voice_reports("123", **AUTH)
    assert reports.idempotent
    assert envelope_params(reports)["MessageID"] == "123"
    assert build_users_prepaid(all_users=False, **AUTH).namespace == PREPAID_NAMESPACE
    assert dict(build_users_prepaid(all_users=False, **AUTH).params)["Mode"] == "ThisUser"
    for bad in ("", "12a", "-1"):
        with pytest.raises(InvalidRequestError):
            build_voice_reports(bad, **AUTH)


def test_the_http_push_form_chains_long_texts() -> None:
    form = build_push("hi", "054-1234567", sender="A", **AUTH)
    assert form == {
        "UserName": "acme", "Password": "p<a&ss", "Sender": "A",
        "ToPhoneNumber": "+972541234567", "Message": "hi",
    }  # fmt: skip
    assert build_push("a" * 161, "0541234567", sender="A", **AUTH)["EnableChaining"] == "1"
    assert "EnableChaining" not in build_push("a" * 161, "0541234567", sender="A",
                                              chaining=False, **AUTH)  # fmt: skip


# ---------------------------------------------------------------------------- replies


def result_of(operation: str, inner: str, ns: str = NAMESPACE) -> etree._Element | None:
    data = (
        '<?xml version="1.0" encoding="utf-8"?><soap:Envelope '
        'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        f'<{operation}Response xmlns="{ns}"><{operation}Result>{inner}'
        f"</{operation}Result></{operation}Response></soap:Body></soap:Envelope>"
    ).encode()
    return parse_envelope_result(data, operation, namespace=ns)


def test_send_results() -> None:
    ok = result_of("SendMessageReturnMessageID", "<Response>OK</Response><MessageID>42</MessageID>")
    assert parse_send(ok) == ("42", True)
    some = result_of(
        "SendMessageReturnMessageID",
        "<Response>SomeMessagesSent</Response><MessageID>7</MessageID>",
    )
    assert parse_send(some) == ("7", False)
    for status, error in (
        ("Invalid Username or Password.", AuthenticationError),
        ("InvalidUserNameOrPassword", AuthenticationError),
        ("Company is Disabled.", AccountBlockedError),
        ("User is disabled or deleted.", AccountBlockedError),
        ("InvalidIPAddress", ProviderError),
        ("NoMessagesSent", ProviderError),
        ("SomethingNew", ProviderError),
    ):
        bad = result_of("SendMessageReturnMessageID", f"<Response>{status}</Response>")
        with pytest.raises(error) as info:
            parse_send(bad)
        assert info.value.code == status
    with pytest.raises(ResponseFormatError):
        parse_send(result_of("SendMessageReturnMessageID", "<Response>OK</Response>"))
    with pytest.raises(ResponseFormatError):
        parse_send(None)
    parse_send_v2(result_of("SendMessagesV2", "OK"))
    with pytest.raises(ProviderError):
        parse_send_v2(result_of("SendMessagesV2", "NoMessagesSent"))


def test_prepaid_results_as_the_spec_shows_them() -> None:
    company = result_of(
        "CheckCompanyPrePaid",
        "<SMS>1813</SMS><IVRSeconds>162516</IVRSeconds><MMS>845</MMS><Result>OK</Result>",
        PREPAID_NAMESPACE,
    )
    balance = parse_company_prepaid(company)
    assert (balance.sms, balance.ivr_seconds, balance.mms) == (1813, 162516, 845)
    users = result_of(
        "CheckUsersPrePaid",
        "<CompanyWorkingInUserPrepaidMode>true</CompanyWorkingInUserPrepaidMode><Items>"
        "<UserPrePaid><UserName>Developers</UserName><SMS>1350</SMS>"
        "<UserWorkingInPrePaidMode>false</UserWorkingInPrePaidMode></UserPrePaid></Items>"
        "<ReturnValues>OK</ReturnValues>",
        PREPAID_NAMESPACE,
    )
    prepaid = parse_users_prepaid(users)
    assert prepaid.company_in_user_mode is True
    ((name, sms, mode),) = [(u.username, u.sms, u.prepaid_mode) for u in prepaid.users]
    assert (name, sms, mode) == ("Developers", 1350, False)
    refused = result_of("CheckCompanyPrePaid", "<Result>Invalid Username or Password.</Result>",
                        PREPAID_NAMESPACE)  # fmt: skip
    with pytest.raises(AuthenticationError):
        parse_company_prepaid(refused)
    with pytest.raises(ResponseFormatError):
        parse_company_prepaid(result_of("CheckCompanyPrePaid", "<SMS>x</SMS><Result>OK</Result>",
                                        PREPAID_NAMESPACE))  # fmt: skip


def test_voice_reports_as_the_spec_shows_them() -> None:
    result = result_of(
        "GetMessagesResponseByMessageID",
        "<Login>OK</Login><ArrIVRMessagesReturnResponse><IVRMessageReturnResponse>"
        "<Mobile>972547123456</Mobile><Status>IVRCallSuccess</Status>"
        "<SendDate>31/08/2011 09:57:23</SendDate><CallLength>8</CallLength>"
        "<Response>2</Response></IVRMessageReturnResponse><IVRMessageReturnResponse>"
        "<Mobile>972547123457</Mobile><Status>Calling</Status><SendDate></SendDate>"
        "<CallLength>0</CallLength><Response></Response></IVRMessageReturnResponse>"
        "</ArrIVRMessagesReturnResponse>",
    )
    done, calling = parse_voice_reports(result, "99")
    assert (done.batch_id, done.mobile, done.state) == (
        "99",
        "+972547123456",
        DeliveryState.DELIVERED,
    )
    assert done.sent_at == datetime(2011, 8, 31, 9, 57, 23, tzinfo=ISRAEL)
    assert dict(done.details) == {"call_length": "8", "response": "2"}
    assert not calling.state.is_final
    assert calling.sent_at is None
    with pytest.raises(ResponseFormatError):
        parse_voice_reports(
            result_of("GetMessagesResponseByMessageID",
                      "<Login>OK</Login><ArrIVRMessagesReturnResponse><IVRMessageReturnResponse>"
                      "<Mobile>1</Mobile><Status>Sent</Status><SendDate>2011-08-31</SendDate>"
                      "</IVRMessageReturnResponse></ArrIVRMessagesReturnResponse>"),
            "1",
        )  # fmt: skip


def test_push_replies() -> None:
    parse_push_reply("OK")
    parse_push_reply("OK\r\n")
    for text, error in (
        ("Invalid Username or Password.", AuthenticationError),
        ("The message cannot be empty.", ProviderError),
        ("Company is Disabled.", AccountBlockedError),
        ("Company Has No Permission To Send to the specified Operator.", ProviderError),
        ("Company is not allowed to push more messages through URL or MAIL", ProviderError),
    ):
        with pytest.raises(error) as info:
            parse_push_reply(text)
        assert info.value.provider_message == text
    for garbage in ("", "<html>500</html>", "x" * 500):
        with pytest.raises(ResponseFormatError):
            parse_push_reply(garbage)
    assert InsufficientCreditError  # the prepaid refusal is mapped (see the client tests)


@FUZZ
@given(text=st.text(st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=200))
def test_hebrew_and_emoji_survive_the_envelope(text: str) -> None:
    if not text.strip():
        return
    call = build_send(text, "0541234567", sender="A", now=NOW, **AUTH)
    assert envelope_params(call)["Message"] == text


# ---------------------------------------------------------------------------- fast paths


@FUZZ
@given(text=st.one_of(st.from_regex(r"972[0-9]{7,10}", fullmatch=True), st.text(max_size=14)))
def test_the_mobile_fast_path_is_normalize_number(text: str) -> None:
    from aiosms.smscenter.reports import _mobile

    try:
        expected = normalize_number(text)
    except InvalidRequestError:
        expected = text[:32]
    assert _mobile(text) == expected


@FUZZ
@given(when=st.datetimes(datetime(2000, 1, 1), datetime(2040, 12, 31)))
def test_send_dates_read_by_minute_are_strptime_s(when: datetime) -> None:
    from aiosms.smscenter.reports import parse_send_date

    text = f"{when:%d/%m/%Y %H:%M:%S}"
    expected = datetime.strptime(text, "%d/%m/%Y %H:%M:%S").replace(tzinfo=ISRAEL)
    got = parse_send_date(text)
    assert got == expected
    assert got is not None
    assert got.utcoffset() == expected.utcoffset()  # the same wall time, DST and all
    for bad in ("31/02/2011 09:57:23", "31/08/2011 09:57:61", "31/08/2011 09:57:2x"):
        with pytest.raises(ValueError, match=r"day is out|second must|unconverted"):
            parse_send_date(bad)
