"""aiosms.every8d soap_codec, _common and codes: every builder and parser, from the specification's
samples to fuzzed results."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from _strategies import NOT_XML_CHAR, XML_TEXT
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lxml import etree

from aiosms import (
    AccountBlockedError,
    AuthenticationError,
    CancelResult,
    DeliveryState,
    InvalidRequestError,
    Personalized,
    ProviderBusyError,
    ProviderError,
    Reply,
    ResponseFormatError,
    SendResult,
    SessionExpiredError,
    SmsError,
)
from aiosms._soap import build_envelope, parse_envelope
from aiosms.every8d._common import (
    TAIPEI,
    format_send_time,
    normalize_recipients,
    parse_time,
)
from aiosms.every8d.codes import (
    PROVIDER,
    REPLY_STATUS,
    STATUS_CODES,
    describe_status,
    raise_for_code,
)
from aiosms.every8d.soap_codec import (
    PAGE_SIZE,
    Operation,
    build_close_connection,
    build_content_xml,
    build_erase_booking,
    build_get_connection,
    build_get_credit,
    build_get_delivery_status,
    build_send,
    build_send_personalized,
    parse_close_connection,
    parse_connection,
    parse_credit,
    parse_delivery_status,
    parse_erase_booking,
    parse_send,
)

T = TypeVar("T")
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HEAVY = settings(FUZZ, max_examples=100)

MOBILE = re.compile(r"\+?[0-9]{6,20}")
BATCH = "220478cc-8506-49b2-93b7-2505f651c12e"
T8 = timedelta(hours=8)

# The specification's samples, as printed (odd spaces included).
SPEC_CONNECTION = """<?xml version=" 1.0" encoding=" utf-8" ?>
<SMS>
  <GET_CONNECTION>
    <CODE>0</CODE >
<SESSION_KEY> e9df35fce357589a8e78c44c3e2abcdd</SESSION_KEY>
<DESCRIPTION>取得連線成功</DESCRIPTION>
</GET_CONNECTION>
</ SMS >"""

SPEC_DELIVERY = """<?xml version="1.0" encoding="utf-8"?>
<SMS_LOG>
  <CODE>0</CODE>
  <DESCRIPTION>發送狀態查詢成功</DESCRIPTION>
  <GET_DELIVERY_STATUS COUNT="1230">
    <SMS>
      < NAME>Roger</NAME>
      <MOBILE>+886933123123</MOBILE>
      <SENT_TIME>2010/3/20 03:27:50</SENT_TIME>
      <COST>1.00</COST>
      <STATUS>100</STATUS>
      <REPLY_SMS>
        <REPLY_TIME>2010/03/23 12:05:09 </REPLY_TIME>
        <MESSAGE>
          <![CDATA[回覆簡訊]]>
        </MESSAGE>
      </REPLY_SMS>
    </SMS>
  </GET_DELIVERY_STATUS>
</SMS_LOG>"""


def only_sms_errors(func: Callable[..., T], *args: Any) -> T | None:
    """Call ``func``; an SmsError is an acceptable answer, anything else escapes the test."""
    try:
        return func(*args)
    except SmsError:
        return None


def sms_log(*sms: str, count: str | None = "1", code: str = "0") -> str:
    status = "" if count is None else f'<GET_DELIVERY_STATUS COUNT="{count}">{"".join(sms)}'
    close = "" if count is None else "</GET_DELIVERY_STATUS>"
    return f"<SMS_LOG><CODE>{code}</CODE><DESCRIPTION>d</DESCRIPTION>{status}{close}</SMS_LOG>"


def sms(status: str = "100", mobile: str = "+886912345678", **extra: str) -> str:
    parts = [f"<MOBILE>{mobile}</MOBILE>", f"<STATUS>{status}</STATUS>"]
    parts += [f"<{tag}>{value}</{tag}>" for tag, value in extra.items()]
    return "<SMS>" + "".join(parts) + "</SMS>"


# =============================================================================== codes


STATUS_TABLE = [
    ("0", DeliveryState.ACCEPTED),
    ("100", DeliveryState.DELIVERED),
    ("101", DeliveryState.FAILED),
    ("102", DeliveryState.FAILED),
    ("103", DeliveryState.FAILED),
    ("104", DeliveryState.FAILED),
    ("105", DeliveryState.FAILED),
    ("106", DeliveryState.FAILED),
    ("107", DeliveryState.EXPIRED),
    ("300", DeliveryState.SCHEDULED),
    ("303", DeliveryState.CANCELLED),
    ("500", DeliveryState.FAILED),
    ("-1", DeliveryState.FAILED),
    ("-2", DeliveryState.FAILED),
    ("-3", DeliveryState.FAILED),
    ("-4", DeliveryState.FAILED),
    ("-5", DeliveryState.FAILED),
    ("-6", DeliveryState.FAILED),
    # From the HTTP API 2.1 status table, which the SOAP gateway shares.
    ("301", DeliveryState.FAILED),
    ("700", DeliveryState.DELIVERED),  # MMS: no later status exists
]


@pytest.mark.parametrize(("code", "state"), STATUS_TABLE)
def test_every_status_code_maps_to_its_state(code: str, state: DeliveryState) -> None:
    got, description = describe_status(code)
    assert got is state
    assert description
    assert STATUS_CODES[code][0] is state


@pytest.mark.parametrize(("code", "state"), STATUS_TABLE)
def test_status_codes_map_through_the_parser_too(code: str, state: DeliveryState) -> None:
    (report,) = parse_delivery_status(sms_log(sms(code)), BATCH).reports
    assert (report.state, report.status) == (state, code)
    assert report.description == describe_status(code)[1]


@pytest.mark.parametrize("code", ["42", "999", "1000", "-7", "", "abc", "100 "])
def test_unknown_status_code_is_unknown_and_kept(code: str) -> None:
    state, description = describe_status(code)
    assert state is DeliveryState.UNKNOWN
    assert f"unknown status code {code}" == description


def test_unknown_status_through_the_parser_keeps_the_raw_code() -> None:
    (report,) = parse_delivery_status(sms_log(sms("4242")), BATCH).reports
    assert (report.state, report.status) == (DeliveryState.UNKNOWN, "4242")
    assert "4242" in report.description


def test_reply_status_is_999() -> None:
    assert REPLY_STATUS == "999"
    assert REPLY_STATUS not in STATUS_CODES


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("-301", SessionExpiredError),
        ("-100", AuthenticationError),
        ("-101", AuthenticationError),
        ("-999", AccountBlockedError),
        ("-97", ProviderBusyError),
        ("-99", ProviderError),
        ("-306", ProviderError),
        ("-1", ProviderError),
    ],
)
def test_raise_for_code(code: str, error: type[SmsError]) -> None:
    with pytest.raises(error) as info:
        raise_for_code(code)
    assert type(info.value) is error
    assert (info.value.code, info.value.provider) == (code, PROVIDER)
    assert info.value.message  # a default text even when the provider gave none


def test_blocked_account_is_an_authentication_error_and_busy_a_provider_error() -> None:
    with pytest.raises(AuthenticationError):
        raise_for_code("-999")
    with pytest.raises(ProviderError):
        raise_for_code("-97")
    with pytest.raises(SmsError) as info:
        raise_for_code("-100")
    assert not isinstance(info.value, AccountBlockedError)


def test_raise_for_code_prefers_the_providers_message() -> None:
    with pytest.raises(ProviderError) as info:
        raise_for_code("-306", "  手機格式不符  ")
    assert info.value.provider_message == "手機格式不符"  # the provider's words, trimmed
    assert info.value.message.isascii()  # explained in English first
    assert str(info.value).index("number") < str(info.value).index("手機格式不符")


# =============================================================================== checks


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("0912345678", ["0912345678"]),
        ("+886912345678", ["+886912345678"]),
        ("0912-345-678", ["0912345678"]),
        ("+886 912 345 678", ["+886912345678"]),
        ("(0912) 345-678", ["0912345678"]),
        (["0912345678", "0922-333-444"], ["0912345678", "0922333444"]),
        (("+12028951800",), ["+12028951800"]),
        (iter(["0912345678"]), ["0912345678"]),
    ],
)
def test_normalize_recipients(given: object, expected: list[str]) -> None:
    assert normalize_recipients(given) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "number",
    [
        "912345670",  # a Taiwanese mobile that lost its leading 0: not international
        "886912345678",  # a country code without its +
        "0223456789",  # a landline
        "091234567",  # one digit short
        "09123456789",  # one digit long
        "+0912345678",  # no country code starts with 0
    ],
)
def test_a_number_is_plus_country_code_or_09(number: str) -> None:
    with pytest.raises(InvalidRequestError, match="not a mobile number"):
        normalize_recipients(number)


@pytest.mark.parametrize("to", [912345670, 912345670.0, b"0912345670", [912345670]])
def test_a_number_that_is_not_text_is_refused_clearly(to: object) -> None:
    with pytest.raises(InvalidRequestError, match="str"):
        normalize_recipients(to)  # type: ignore[arg-type]


def test_a_bare_string_is_one_number_not_characters() -> None:
    assert normalize_recipients("0912345678") == ["0912345678"]


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "abc",
        "12345",  # too short
        "1" * 21,  # too long
        "+",
        "++886912345678",
        "886+912345678",
        "0912345678,0922333444",  # a comma would smuggle in a second recipient
        "0912345678\n",
        "0912\t345678",
        "０９１２３４５６７８",  # full-width digits
        "٠٩١٢٣٤٥٦٧٨",  # Arabic-Indic digits
        "09123456７8",
    ],
)
def test_bad_numbers_are_refused(bad: str) -> None:
    with pytest.raises(InvalidRequestError):
        normalize_recipients(bad)
    with pytest.raises(InvalidRequestError):
        normalize_recipients(["0912345678", bad])


@pytest.mark.parametrize("empty", [[], (), iter([])])
def test_no_recipients_is_refused(empty: object) -> None:
    with pytest.raises(InvalidRequestError, match="at least one"):
        normalize_recipients(empty)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [[912345678], [None], [b"0912345678"]])
def test_non_str_numbers_are_refused(bad: list[object]) -> None:
    with pytest.raises(InvalidRequestError, match="must be str"):
        normalize_recipients(bad)  # type: ignore[arg-type]


@FUZZ
@given(numbers=st.lists(st.text(alphabet="0123456789+-() ,\n;a", max_size=25), max_size=5))
def test_normalized_numbers_are_digits_only(numbers: list[str]) -> None:
    try:
        out = normalize_recipients(numbers)
    except InvalidRequestError:
        return
    assert len(out) == len(numbers)
    assert all(MOBILE.fullmatch(n) for n in out)
    assert ",".join(out).count(",") == len(numbers) - 1


def test_format_send_time_converts_to_taipei() -> None:
    assert format_send_time(None) == ""
    assert format_send_time(datetime(2009, 1, 31, 7, 30, tzinfo=UTC)) == "20090131153000"
    assert format_send_time(datetime(2009, 1, 31, 15, 30, tzinfo=TAIPEI)) == "20090131153000"
    new_york = timezone(timedelta(hours=-5))
    assert format_send_time(datetime(2009, 1, 30, 23, 59, 59, tzinfo=new_york)) == "20090131125959"


AWARE = st.datetimes(
    min_value=datetime(1000, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.timedeltas(
        min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59)
    ).map(timezone),
)


@FUZZ
@given(at=AWARE)
def test_format_send_time_matches_a_utc_based_expectation(at: datetime) -> None:
    utc = (at.replace(tzinfo=None) - at.utcoffset()).replace(tzinfo=None)  # type: ignore[operator]
    wall = utc + T8
    assert format_send_time(at) == wall.strftime("%Y%m%d%H%M%S")
    assert len(format_send_time(at)) == 14


@pytest.mark.parametrize(
    "at",
    [
        datetime.min.replace(tzinfo=timezone(timedelta(hours=14))),  # before year 1 in Taipei
        datetime.max.replace(tzinfo=timezone(timedelta(hours=-12))),  # past year 9999 in Taipei
    ],
)
def test_unrepresentable_send_times_are_refused(at: datetime) -> None:
    with pytest.raises(InvalidRequestError, match="at"):
        format_send_time(at)


def test_early_years_keep_four_digits() -> None:
    assert format_send_time(datetime(5, 1, 1, tzinfo=TAIPEI)) == "00050101000000"


def test_naive_and_non_datetime_times_are_refused() -> None:
    with pytest.raises(InvalidRequestError, match="timezone-aware"):
        format_send_time(datetime(2030, 1, 1))
    with pytest.raises(InvalidRequestError, match="datetime"):
        format_send_time("20300101000000")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="timezone-aware"):
        build_send("hi", "0912345678", at=datetime(2030, 1, 1))


# =============================================================================== builders


def test_get_connection() -> None:
    op = build_get_connection("acme", "pa&ss<w>rd")
    assert op.name == "getConnection"
    assert op.with_key("ignored") == (("userID", "acme"), ("password", "pa&ss<w>rd"))
    assert (op.idempotent, op.needs_session) == (True, False)
    assert "pa&ss<w>rd" not in repr(op)


@pytest.mark.parametrize(("user", "password"), [("", "p"), ("u", ""), ("  ", "p"), ("u", "\x00")])
def test_get_connection_refuses_empty_or_illegal_credentials(user: str, password: str) -> None:
    with pytest.raises(InvalidRequestError):
        build_get_connection(user, password)


def test_close_connection_and_credit() -> None:
    close = build_close_connection()
    assert (close.name, close.with_key("K"), close.idempotent) == (
        "closeConnection",
        (("sessionKey", "K"),),
        False,
    )
    credit = build_get_credit()
    assert (credit.name, credit.with_key("K"), credit.idempotent) == (
        "getCredit",
        (("sessionKey", "K"),),
        True,
    )


def test_send_without_validity_is_send_sms() -> None:
    op = build_send("Your code is 1234", ["0912-345-678", "+886922333444"], subject="otp")
    assert op.name == "sendSMS"
    assert op.idempotent is False
    assert op.with_key("KEY") == (
        ("sessionKey", "KEY"),
        ("subject", "otp"),
        ("content", "Your code is 1234"),
        ("mobile", "0912345678,+886922333444"),
        ("sendTime", ""),
    )


@pytest.mark.parametrize(
    ("validity", "minutes"),
    [
        (timedelta(minutes=90), "90"),
        (timedelta(hours=24), "1440"),
        (timedelta(seconds=61), "2"),
        (timedelta(seconds=1), "1"),
        (timedelta(microseconds=1), "1"),
        (timedelta(minutes=5, microseconds=1), "6"),
        # Beyond a float's precision for microseconds: still rounded up, not down.
        (timedelta(minutes=10**10, microseconds=1), str(10**10 + 1)),
    ],
)
def test_validity_is_send_message_with_minutes_rounded_up(
    validity: timedelta, minutes: str
) -> None:
    at = datetime(2030, 1, 1, tzinfo=UTC)
    op = build_send("hi", "0912345678", at=at, validity=validity)
    assert op.name == "sendMessage"
    assert op.idempotent is False
    assert op.params == (
        ("subject", ""),
        ("content", "hi"),
        ("mobile", "0912345678"),
        ("sendTime", "20300101080000"),
        ("retryTime", minutes),
    )


@FUZZ
@example(validity=timedelta(days=10**7, microseconds=1))
@given(validity=st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=10**8)))
def test_validity_minutes_are_the_least_that_cover_it(validity: timedelta) -> None:
    minutes = int(dict(build_send("hi", "0912345678", validity=validity).params)["retryTime"])
    assert timedelta(minutes=minutes - 1) < validity <= timedelta(minutes=minutes)


@pytest.mark.parametrize("validity", [timedelta(0), timedelta(seconds=-1), 60, "1h"])
def test_bad_validity_is_refused(validity: object) -> None:
    with pytest.raises(InvalidRequestError, match="validity"):
        build_send("hi", "0912345678", validity=validity)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "  \n"}, "text"),
        ({"text": "a\x00b"}, "text"),
        ({"text": 5}, "text"),
        ({"subject": "a\x0bb"}, "subject"),
        ({"to": []}, "to"),
        ({"to": "not a number"}, "mobile"),
    ],
)
def test_send_refuses_bad_input(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"text": "hi", "to": "0912345678", **kwargs}
    with pytest.raises(InvalidRequestError, match=field):
        build_send(args.pop("text"), args.pop("to"), **args)  # type: ignore[arg-type]


@FUZZ
@given(before=XML_TEXT, bad=NOT_XML_CHAR, after=XML_TEXT)
def test_send_refuses_characters_xml_cannot_carry(before: str, bad: str, after: str) -> None:
    with pytest.raises(InvalidRequestError, match="text"):
        build_send("x" + before + bad + after, "0912345678")


def test_get_delivery_status() -> None:
    op = build_get_delivery_status(BATCH)
    assert (op.name, op.params, op.idempotent) == (
        "getDeliveryStatus",
        (("batchID", BATCH), ("pageNo", "1")),
        True,
    )
    assert build_get_delivery_status(BATCH, 3).params[1] == ("pageNo", "3")
    assert PAGE_SIZE == 1000


@pytest.mark.parametrize(("batch_id", "page"), [("", 1), (BATCH, 0), (BATCH, -1), ("\x00", 1)])
def test_get_delivery_status_refuses_bad_input(batch_id: str, page: int) -> None:
    with pytest.raises(InvalidRequestError):
        build_get_delivery_status(batch_id, page)


def test_erase_booking() -> None:
    op = build_erase_booking(BATCH)
    assert (op.name, op.params, op.idempotent) == ("eraseBooking", (("batchID", BATCH),), False)
    with pytest.raises(InvalidRequestError):
        build_erase_booking(" ")


def test_operation_is_frozen() -> None:
    op = Operation("getCredit", ())
    with pytest.raises(AttributeError):
        op.name = "sendSMS"  # type: ignore[misc]


# ------------------------------------------------------------------- personalized


def users(content_xml: str) -> list[etree._Element]:
    root = etree.fromstring(content_xml)
    assert root.tag == "REPS"
    return list(root)


def test_content_xml_follows_the_spec() -> None:
    xml = build_content_xml(
        [
            Personalized("0900000001", "ok ok java hello<>@#$$%^&*()", name="TEST"),
            Personalized(
                "+886900000002",
                "這是什麼的測試內容喔",
                name="Eric1",
                email="service@every8d.com.tw",
            ),
        ]
    )
    assert xml == (
        '<REPS><USER NAME="TEST" MOBILE="+886900000001" EMAIL="" SENDTIME="">'
        "<![CDATA[ok ok java hello<>@#$$%^&*()]]></USER>"
        '<USER NAME="Eric1" MOBILE="+886900000002" EMAIL="service@every8d.com.tw" SENDTIME="">'
        "<![CDATA[這是什麼的測試內容喔]]></USER></REPS>"
    )


@pytest.mark.parametrize(
    ("to", "mobile"),
    [
        ("0912345678", "+886912345678"),
        ("0912-345-678", "+886912345678"),
        ("+886912345678", "+886912345678"),
        ("+12028951800", "+12028951800"),
    ],
)
def test_personalized_mobile_uses_the_886_form(to: str, mobile: str) -> None:
    (user,) = users(build_content_xml([Personalized(to, "hi")]))
    assert user.get("MOBILE") == mobile


def test_personalized_send_time_is_taipei_time() -> None:
    at = datetime(2009, 1, 31, 7, 30, tzinfo=UTC)
    (user,) = users(build_content_xml([Personalized("0912345678", "hi", at=at)]))
    assert user.get("SENDTIME") == "20090131153000"


def test_a_single_item_is_accepted() -> None:
    assert len(users(build_content_xml(Personalized("0912345678", "hi")))) == 1  # type: ignore[arg-type]


def test_name_of_50_is_fine_and_51_refused() -> None:
    (user,) = users(build_content_xml([Personalized("0912345678", "hi", name="名" * 50)]))
    assert user.get("NAME") == "名" * 50
    with pytest.raises(InvalidRequestError, match=r"items\[1\]\.name"):
        build_content_xml(
            [Personalized("0912345678", "hi"), Personalized("0912345678", "hi", name="x" * 51)]
        )


@pytest.mark.parametrize(
    ("item", "match"),
    [
        (Personalized("0912345678", ""), r"items\[0\]\.text"),
        (Personalized("0912345678", "a\x00"), r"items\[0\]\.text"),
        (Personalized("0912345678", "hi", name="\x0b"), r"items\[0\]\.name"),
        (Personalized("0912345678", "hi", email="\ud800"), r"items\[0\]\.email"),
        (Personalized("nope", "hi"), "mobile"),
        (Personalized("", "hi"), "mobile"),
        (Personalized("0912345678,0922333444", "hi"), "mobile"),
        (Personalized(["0912345678", "0922333444"], "hi"), "one mobile number"),  # type: ignore[arg-type]
        (Personalized("0912345678", "hi", at=datetime(2030, 1, 1)), r"items\[0\]\.at"),
        ("0912345678", "Personalized"),
    ],
)
def test_personalized_refuses_bad_items(item: object, match: str) -> None:
    with pytest.raises(InvalidRequestError, match=match):
        build_content_xml([item])  # type: ignore[list-item]


def test_personalized_needs_an_item() -> None:
    with pytest.raises(InvalidRequestError, match="at least one"):
        build_content_xml([])


@FUZZ
@given(
    text=XML_TEXT.filter(lambda t: t.strip()),
    name=XML_TEXT.filter(lambda n: len(n) <= 50),
    email=XML_TEXT,
)
def test_content_xml_round_trips_any_text(text: str, name: str, email: str) -> None:
    xml = build_content_xml([Personalized("0912345678", text, name=name, email=email)])
    (user,) = users(xml)
    # Exact, "\r" and "]]>" included: CDATA is used only where it keeps the text intact.
    assert (user.text or "", user.get("NAME"), user.get("MOBILE"), user.get("EMAIL")) == (
        text,
        name,
        "+886912345678",
        email,
    )
    assert set(user.keys()) == {"NAME", "MOBILE", "EMAIL", "SENDTIME"}
    if "]]>" not in text and "\r" not in text:
        assert f"<![CDATA[{text}]]>" in xml  # the spec asks for CDATA


@FUZZ
@given(text=XML_TEXT.filter(lambda t: t.strip()), subject=XML_TEXT)
def test_personalized_round_trips_through_the_envelope(text: str, subject: str) -> None:
    op = build_send_personalized([Personalized("0912345678", text)], subject=subject)
    assert op.name == "sendParamSMS"
    assert op.idempotent is False
    envelope = build_envelope(op.name, op.with_key("K"))
    call = etree.fromstring(envelope)[0][0]
    values = {etree.QName(el).localname: el.text or "" for el in call}
    assert list(values) == ["sessionKey", "subject", "contentXML", "sendTime"]
    assert values["subject"] == subject
    (user,) = users(values["contentXML"])
    assert user.text == text


def test_personalized_send_time_for_the_batch() -> None:
    at = datetime(2030, 1, 1, tzinfo=UTC)
    op = build_send_personalized([Personalized("0912345678", "hi")], at=at)
    assert op.params[2] == ("sendTime", "20300101080000")
    with pytest.raises(InvalidRequestError, match="subject"):
        build_send_personalized([Personalized("0912345678", "hi")], subject="\x00")


# =============================================================================== parsers


def test_parse_connection_reads_the_spec_sample() -> None:
    assert parse_connection(SPEC_CONNECTION) == "e9df35fce357589a8e78c44c3e2abcdd"


def test_parse_connection_through_an_envelope() -> None:
    env = etree.Element("{http://schemas.xmlsoap.org/soap/envelope/}Envelope")
    body = etree.SubElement(env, "{http://schemas.xmlsoap.org/soap/envelope/}Body")
    resp = etree.SubElement(body, "{http://tempuri.org/}getConnectionResponse")
    etree.SubElement(resp, "{http://tempuri.org/}getConnectionResult").text = SPEC_CONNECTION
    result = parse_envelope(etree.tostring(env), "getConnection")
    assert parse_connection(result) == "e9df35fce357589a8e78c44c3e2abcdd"


def connection(code: str, description: str = "", key: str = "") -> str:
    return (
        f"<SMS><GET_CONNECTION><CODE>{code}</CODE><SESSION_KEY>{key}</SESSION_KEY>"
        f"<DESCRIPTION>{description}</DESCRIPTION></GET_CONNECTION></SMS>"
    )


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("-100", AuthenticationError),
        ("-101", AuthenticationError),
        ("-999", AccountBlockedError),
        ("-97", ProviderBusyError),
        ("-99", ProviderError),
    ],
)
def test_parse_connection_raises_for_its_code(code: str, error: type[SmsError]) -> None:
    with pytest.raises(error) as info:
        parse_connection(connection(code, "取得連線失敗"))
    assert type(info.value) is error
    assert (info.value.code, info.value.provider_message) == (code, "取得連線失敗")
    assert info.value.message.isascii()


def test_parse_connection_wrong_password() -> None:
    with pytest.raises(AuthenticationError) as info:
        parse_connection(connection(" -101 ", "密碼錯誤"))
    assert info.value.code == "-101"


@pytest.mark.parametrize(
    "result",
    [
        connection("", key="k"),
        connection("0", key="  "),
        "<SMS><CODE>0</CODE></SMS>",
        "<SMS><GET_CONNECTION><SESSION_KEY>k</SESSION_KEY></GET_CONNECTION></SMS>",
        "",
        "not xml",
        "1",
    ],
)
def test_parse_connection_refuses_malformed_results(result: str) -> None:
    with pytest.raises(ResponseFormatError):
        parse_connection(result)


def test_parse_connection_plain_error_code() -> None:
    with pytest.raises(SessionExpiredError):
        parse_connection(" -301 ")
    with pytest.raises(AuthenticationError):
        parse_connection("-101,密碼錯誤")


def test_parse_send_five_fields() -> None:
    result = parse_send("1230.00,4,4.0,1," + BATCH)
    assert result == SendResult(
        batch_id=BATCH, sent=4, cost=Decimal("4.0"), credit=Decimal("1230.00"), unsent=1
    )
    assert type(result.cost) is Decimal
    assert type(result.credit) is Decimal
    assert (str(result.credit), str(result.cost)) == ("1230.00", "4.0")


def test_parse_send_the_specs_four_field_sample() -> None:
    result = parse_send(f"1230.00,4,4.0,{BATCH}")
    assert (result.batch_id, result.sent, result.cost, result.credit, result.unsent) == (
        BATCH,
        4,
        Decimal("4.0"),
        Decimal("1230.00"),
        0,
    )
    assert not any(isinstance(v, float) for v in (result.cost, result.credit))


def test_parse_send_tolerates_whitespace() -> None:
    result = parse_send(f"\n 1230.00 , 4 , 4.0 , 0 , {BATCH} \n")
    assert (result.batch_id, result.sent, result.credit) == (BATCH, 4, Decimal("1230.00"))


@pytest.mark.parametrize(
    ("result", "error", "code", "message"),
    [
        ("-301", SessionExpiredError, "-301", None),
        ("-99", ProviderError, "-99", None),
        (
            "-306,手機格式不符:+1-202-895-1800",
            ProviderError,
            "-306",
            "手機格式不符:+1-202-895-1800",
        ),
        ("-100", AuthenticationError, "-100", None),
        ("-101", AuthenticationError, "-101", None),
        ("-999", AccountBlockedError, "-999", None),
        ("-97", ProviderBusyError, "-97", None),
        ("-5,a,b", ProviderError, "-5", "a,b"),
    ],
)
def test_error_results(result: str, error: type[SmsError], code: str, message: str | None) -> None:
    for parse in (parse_send, parse_credit, parse_erase_booking, parse_connection):
        with pytest.raises(error) as info:
            parse(result)
        assert type(info.value) is error
        assert (info.value.code, info.value.provider) == (code, "every8d")
        if message is not None:
            assert info.value.provider_message == message
        assert info.value.message.isascii()
    with pytest.raises(error):
        parse_delivery_status(result, BATCH)


@pytest.mark.parametrize(
    "result",
    [
        "",
        "1,2,3",
        "1,2,3,4,5,6",
        f"x,4,4.0,{BATCH}",
        f"1,x,4.0,{BATCH}",
        f"1,4,x,{BATCH}",
        f"1,4,4.0,x,{BATCH}",
        f"1,-4,4.0,{BATCH}",
        f"1,4.5,4.0,{BATCH}",
        f"NaN,4,4.0,{BATCH}",
        f"1,4,Infinity,{BATCH}",
        "1,4,4.0, ",
        f"1,²,4.0,{BATCH}",
        f"1,4,4.0,²,{BATCH}",
        f"1,{'9' * 13},4.0,{BATCH}",
    ],
)
def test_parse_send_refuses_malformed_results(result: str) -> None:
    with pytest.raises(ResponseFormatError):
        parse_send(result)


def test_parse_credit() -> None:
    assert parse_credit("2310.00") == Decimal("2310.00")
    assert str(parse_credit(" 2310.00\n")) == "2310.00"
    assert type(parse_credit("0")) is Decimal
    for bad in ("", "abc", "NaN", "-Infinity", "1,2"):
        with pytest.raises(ResponseFormatError):
            parse_credit(bad)


def test_parse_erase_booking() -> None:
    result = parse_erase_booking("3,3.0")
    assert result == CancelResult(cancelled=3, credit_returned=Decimal("3.0"))
    assert result.found
    for empty in ("", "  \n"):
        nothing = parse_erase_booking(empty)
        assert nothing == CancelResult(0, Decimal(0))
        assert not nothing.found
    for bad in ("3", "3,3.0,1", "x,1", "1,x", "-1.5,2"):
        with pytest.raises(ResponseFormatError):
            parse_erase_booking(bad)


@pytest.mark.parametrize(
    ("result", "closed"), [("1", True), (" 1\n", True), ("-1", False), ("", False), ("0", False)]
)
def test_parse_close_connection(result: str, closed: bool) -> None:
    assert parse_close_connection(result) is closed


def test_parse_time() -> None:
    when = parse_time("2010/3/20 03:27:50")
    assert when == datetime(2010, 3, 20, 3, 27, 50, tzinfo=TAIPEI)
    assert when is not None
    assert when.utcoffset() == T8
    assert when.astimezone(UTC) == datetime(2010, 3, 19, 19, 27, 50, tzinfo=UTC)
    assert parse_time("2010/03/23 12:05:09 ") == datetime(2010, 3, 23, 12, 5, 9, tzinfo=TAIPEI)
    assert parse_time("2010/3/20") == datetime(2010, 3, 20, tzinfo=TAIPEI)
    assert parse_time("") is None
    assert parse_time("  ") is None
    # Padding and unpadded seconds miss the cached fast path and take the careful one.
    assert parse_time(" 2010/3/20 03:27:50") == datetime(2010, 3, 20, 3, 27, 50, tzinfo=TAIPEI)
    assert parse_time("2010/3/20 03:27:5") == datetime(2010, 3, 20, 3, 27, 5, tzinfo=TAIPEI)


@pytest.mark.parametrize(
    "bad",
    [
        "2010-03-20 03:27:50",
        "2010/13/1 00:00:00",
        "2010/2/30 00:00:00",
        "2010/3/20 25:00:00",
        "2010/3/20 03:27",
        "2010/3/20 03:27:50:10",
        "2010/3/20 03:27:60",
        "2010/3/20 03:2750",
        "2010/3/20/1 03:27:50",
        "x",
        "²/1/1",
        "99999999999999999999/1/1 00:00:00",
        "2010/1/1 99999999999999999999:00:00",
        "2010/1/1 0:0:" + "9" * 5000,
    ],
)
def test_parse_time_refuses_malformed_times(bad: str) -> None:
    with pytest.raises(ResponseFormatError):
        parse_time(bad)


def test_parse_delivery_status_reads_the_spec_sample() -> None:
    page = parse_delivery_status(SPEC_DELIVERY, BATCH)
    assert page.count == 1230
    (report,) = page.reports
    assert report.batch_id == BATCH
    assert report.message_id is None
    assert (report.name, report.mobile, report.status) == ("Roger", "+886933123123", "100")
    assert report.state is DeliveryState.DELIVERED
    assert report.sent_at == datetime(2010, 3, 20, 3, 27, 50, tzinfo=TAIPEI)
    assert report.cost == Decimal("1.00")
    assert type(report.cost) is Decimal
    assert report.replies == (
        Reply(
            mobile="+886933123123",
            text="回覆簡訊",
            received_at=datetime(2010, 3, 23, 12, 5, 9, tzinfo=TAIPEI),
            batch_id=BATCH,
        ),
    )


def test_several_replies_and_several_sms() -> None:
    reply = (
        "<REPLY_SMS><REPLY_TIME>2010/3/23 12:0{0}:00</REPLY_TIME>"
        "<MESSAGE>r{0}</MESSAGE></REPLY_SMS>"
    )
    doc = sms_log(
        "<SMS><MOBILE>+886900000001</MOBILE><STATUS>100</STATUS>"
        + "".join(reply.format(i) for i in range(3))
        + "</SMS>",
        sms("0", "+886900000002", COST="0.5"),
        count="2",
    )
    page = parse_delivery_status(doc, BATCH)
    first, second = page.reports
    assert [r.text for r in first.replies] == ["r0", "r1", "r2"]
    assert [r.received_at.minute for r in first.replies] == [0, 1, 2]  # type: ignore[union-attr]
    assert all(r.mobile == "+886900000001" for r in first.replies)
    assert (second.mobile, second.state, second.cost, second.replies) == (
        "+886900000002",
        DeliveryState.ACCEPTED,
        Decimal("0.5"),
        (),
    )
    assert second.sent_at is None


def test_the_same_number_twice_gives_two_reports() -> None:
    page = parse_delivery_status(sms_log(sms("100"), sms("101"), count="2"), BATCH)
    assert [(r.mobile, r.state) for r in page.reports] == [
        ("+886912345678", DeliveryState.DELIVERED),
        ("+886912345678", DeliveryState.FAILED),
    ]


def test_cdata_reply_that_looks_like_a_loose_tag_is_untouched() -> None:
    # The "< NAME>" tag forces the tag-tightening fallback; the CDATA must survive it.
    doc = sms_log(
        "<SMS>< NAME>n</NAME><MOBILE>+886900000001</MOBILE><STATUS>100</STATUS>"
        "<REPLY_SMS><REPLY_TIME></REPLY_TIME>"
        "<MESSAGE><![CDATA[see < NAME> and </ SMS > here]]></MESSAGE></REPLY_SMS></SMS>"
    )
    (report,) = parse_delivery_status(doc, BATCH).reports
    assert report.name == "n"
    assert report.replies[0].text == "see < NAME> and </ SMS > here"
    assert report.replies[0].received_at is None


def test_sms_log_with_session_expired_code() -> None:
    with pytest.raises(SessionExpiredError):
        parse_delivery_status(sms_log(count=None, code="-301"), BATCH)
    with pytest.raises(ProviderError) as info:
        parse_delivery_status(
            "<SMS_LOG><CODE>-99</CODE><DESCRIPTION>系統錯誤</DESCRIPTION></SMS_LOG>", BATCH
        )
    assert (info.value.code, info.value.provider_message) == ("-99", "系統錯誤")


def test_empty_pages() -> None:
    page = parse_delivery_status(sms_log(count=None), BATCH)
    assert (page.count, page.reports) == (0, [])
    page = parse_delivery_status(sms_log(count="0"), BATCH)
    assert (page.count, page.reports) == (0, [])
    no_count = "<SMS_LOG><CODE>0</CODE><GET_DELIVERY_STATUS/></SMS_LOG>"
    assert parse_delivery_status(no_count, BATCH).count == 0


def test_missing_fields_are_empty_not_errors() -> None:
    (report,) = parse_delivery_status(sms_log("<SMS/>"), BATCH).reports
    assert (report.mobile, report.name, report.status, report.cost, report.sent_at) == (
        "",
        "",
        "",
        None,
        None,
    )
    assert report.state is DeliveryState.UNKNOWN


@pytest.mark.parametrize(
    "doc",
    [
        "<SMS><CODE>0</CODE></SMS>",
        "<SMS_LOG><DESCRIPTION>x</DESCRIPTION></SMS_LOG>",
        sms_log(count="abc"),
        sms_log(count="-1"),
        sms_log(count="²"),
        sms_log(sms(COST="abc")),
        sms_log(sms(COST="NaN")),
        sms_log(sms(SENT_TIME="yesterday")),
        sms_log(sms(SENT_TIME="99999999999/1/1")),
        "<SMS_LOG>",
        "",
        "1230.00,4,4.0," + BATCH,
    ],
)
def test_parse_delivery_status_refuses_malformed_results(doc: str) -> None:
    with pytest.raises(ResponseFormatError):
        parse_delivery_status(doc, BATCH)


# ------------------------------------------------------------------- properties and fuzzing

DIGITS = st.text(alphabet="0123456789", min_size=6, max_size=20)
STATUS = st.sampled_from([code for code, _ in STATUS_TABLE] + ["42"])
DECIMAL = st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=0, max_value=10**6)
TIME = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda d: d.replace(microsecond=0)
)


@st.composite
def sms_rows(draw: st.DrawFn) -> dict[str, object]:
    return {
        "NAME": draw(XML_TEXT),
        "MOBILE": draw(st.sampled_from(["", "+"])) + draw(DIGITS),
        "SENT_TIME": draw(st.none() | TIME),
        "COST": draw(st.none() | DECIMAL),
        "STATUS": draw(STATUS),
        "REPLIES": draw(st.lists(st.tuples(st.none() | TIME, XML_TEXT), max_size=3)),
    }


def build_sms_log(rows: list[dict[str, object]]) -> str:
    root = etree.Element("SMS_LOG")
    etree.SubElement(root, "CODE").text = "0"
    status = etree.SubElement(root, "GET_DELIVERY_STATUS", COUNT=str(len(rows)))
    for row in rows:
        el = etree.SubElement(status, "SMS")
        etree.SubElement(el, "NAME").text = row["NAME"]  # type: ignore[assignment]
        etree.SubElement(el, "MOBILE").text = row["MOBILE"]  # type: ignore[assignment]
        if row["SENT_TIME"] is not None:
            t: datetime = row["SENT_TIME"]  # type: ignore[assignment]
            etree.SubElement(el, "SENT_TIME").text = f"{t.year}/{t.month}/{t.day} {t:%H:%M:%S}"
        if row["COST"] is not None:
            etree.SubElement(el, "COST").text = str(row["COST"])
        etree.SubElement(el, "STATUS").text = row["STATUS"]  # type: ignore[assignment]
        for when, text in row["REPLIES"]:  # type: ignore[attr-defined]
            reply = etree.SubElement(el, "REPLY_SMS")
            etree.SubElement(reply, "REPLY_TIME").text = (
                "" if when is None else f"{when:%Y/%m/%d %H:%M:%S}"
            )
            etree.SubElement(reply, "MESSAGE").text = (
                etree.CDATA(text) if "]]>" not in text else text
            )
    return etree.tostring(root, encoding="unicode")


def aware(t: object) -> datetime | None:
    return None if t is None else t.replace(tzinfo=TAIPEI)  # type: ignore[attr-defined]


@HEAVY
@given(rows=st.lists(sms_rows(), max_size=3))
def test_delivery_status_round_trips(rows: list[dict[str, object]]) -> None:
    page = parse_delivery_status(build_sms_log(rows), BATCH)
    assert page.count == len(rows)
    assert len(page.reports) == len(rows)
    for row, report in zip(rows, page.reports, strict=True):
        # Text fields are stripped: the provider pads them with newlines and indentation,
        # and a CDATA text in a CDATA-free build normalizes "\r" to "\n" as XML does.
        assert report.name == str(row["NAME"]).strip()
        assert report.mobile == row["MOBILE"]
        assert report.status == row["STATUS"]
        assert report.state is describe_status(str(row["STATUS"]))[0]
        assert report.sent_at == aware(row["SENT_TIME"])
        assert report.cost == row["COST"]
        expected = tuple(
            (
                aware(when),
                text.replace("\r\n", "\n").replace("\r", "\n").strip()
                if "]]>" not in text
                else text.strip(),
            )
            for when, text in row["REPLIES"]  # type: ignore[attr-defined]
        )
        assert tuple((r.received_at, r.text) for r in report.replies) == expected


@FUZZ
@given(sent=st.integers(0, 10**9), unsent=st.integers(0, 10**9), cost=DECIMAL, credit=DECIMAL)
def test_send_result_round_trips(sent: int, unsent: int, cost: Decimal, credit: Decimal) -> None:
    result = parse_send(f"{credit},{sent},{cost},{unsent},{BATCH}")
    assert (result.credit, result.sent, result.cost, result.unsent) == (credit, sent, cost, unsent)
    assert str(result.credit) == str(credit)


@FUZZ
@given(at=TIME)
def test_parse_time_round_trips(at: datetime) -> None:
    assert parse_time(
        f"{at.year}/{at.month}/{at.day} {at.hour}:{at.minute}:{at.second}"
    ) == at.replace(tzinfo=TAIPEI)
    assert parse_time(f"{at:%Y/%m/%d %H:%M:%S}") == at.replace(tzinfo=TAIPEI)
    assert parse_time(f"\t{at:%Y/%m/%d %H:%M:%S} ") == at.replace(tzinfo=TAIPEI)


SAMPLES = [
    SPEC_CONNECTION,
    SPEC_DELIVERY,
    connection("-101", "x"),
    sms_log(sms("100", COST="1.00", SENT_TIME="2010/3/20 03:27:50", NAME="n")),
    f"1230.00,4,4.0,0,{BATCH}",
    "-306,手機格式不符:+1-202-895-1800",
    "3,3.0",
    "2310.00",
]
PARSERS: list[Callable[[str], object]] = [
    parse_connection,
    parse_send,
    parse_credit,
    parse_erase_booking,
    parse_close_connection,
    lambda r: parse_delivery_status(r, BATCH),
    parse_time,
]


@st.composite
def mutated_text(draw: st.DrawFn) -> str:
    chars = list(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 5))):
        if not chars:
            break
        i = draw(st.integers(0, len(chars) - 1))
        op = draw(st.sampled_from(["replace", "delete", "insert", "duplicate"]))
        if op == "replace":
            chars[i] = draw(st.characters())
        elif op == "delete":
            del chars[i : i + draw(st.integers(1, 10))]
        elif op == "insert":
            piece = draw(
                st.one_of(
                    st.text(max_size=5),
                    st.sampled_from(
                        ["<", ">", "&", ",", "-", "²", "9" * 25, "<!DOCTYPE x>", "]]>", "/", ":"]
                    ),
                )
            )
            chars[i:i] = list(piece)
        else:
            j = draw(st.integers(i, len(chars)))
            chars[j:j] = chars[i:j]
    return "".join(chars)


@FUZZ
@given(result=st.one_of(st.text(max_size=120), mutated_text()))
def test_parsers_never_leak_a_foreign_exception(result: str) -> None:
    for parse in PARSERS:
        only_sms_errors(parse, result)


NUMBERISH = st.one_of(
    st.text(alphabet="0123456789.-+eE ,²٣NaIinfty", max_size=12),
    st.sampled_from(["9" * 30, "1e999999999999999999", "-0", "²", "١٢", "1_000"]),
)


@FUZZ
@given(fields=st.lists(NUMBERISH, min_size=1, max_size=6))
def test_comma_results_never_leak_a_foreign_exception(fields: list[str]) -> None:
    result = ",".join(fields)
    for parse in (parse_send, parse_credit, parse_erase_booking):
        only_sms_errors(parse, result)


@FUZZ
@given(
    count=NUMBERISH,
    values=st.lists(
        st.tuples(
            st.sampled_from(["NAME", "MOBILE", "SENT_TIME", "COST", "STATUS", "REPLY_SMS", "X"]),
            st.one_of(NUMBERISH, XML_TEXT, st.text(alphabet="0123456789/: ²", max_size=25)),
        ),
        max_size=6,
    ),
    code=st.one_of(st.just("0"), NUMBERISH),
)
def test_structured_delivery_status_never_leaks_a_foreign_exception(
    count: str, values: list[tuple[str, str]], code: str
) -> None:
    root = etree.Element("SMS_LOG")
    etree.SubElement(root, "CODE").text = code
    status = etree.SubElement(root, "GET_DELIVERY_STATUS", COUNT=count)
    el = etree.SubElement(status, "SMS")
    for tag, value in values:
        child = etree.SubElement(el, tag)
        if tag == "REPLY_SMS":
            etree.SubElement(child, "REPLY_TIME").text = value
            etree.SubElement(child, "MESSAGE").text = value
        else:
            child.text = value
    page = only_sms_errors(parse_delivery_status, etree.tostring(root, encoding="unicode"), BATCH)
    if page is not None:
        assert len(page.reports) == 1


# =============================================================================== pricing


@pytest.mark.parametrize(
    ("length", "points"),
    [
        (1, 1),
        (70, 1),
        (71, 2),
        (134, 2),
        (135, 3),
        (201, 3),
        (202, 4),
        (268, 4),
        (269, 5),
        (333, 5),
        (334, 6),  # split: 333 (5) + 1 (1)
        (403, 6),  # 333 + 70
        (404, 7),  # 333 + 71
        (666, 10),
        (667, 11),
    ],
)
def test_estimate_cost_follows_the_price_table(length: int, points: int) -> None:
    from aiosms.every8d import estimate_cost

    assert estimate_cost("字" * length, "0912345678") == Decimal(points)
    assert estimate_cost("a" * length, "+886912345678") == Decimal(points)
    assert estimate_cost("a" * length, "+14155550100") == Decimal(points * 3)
    assert estimate_cost("a" * length, ["0912345678", "+14155550100"]) == Decimal(points * 4)


@given(st.integers(min_value=1, max_value=5000))
def test_estimate_cost_is_the_sum_of_its_333_character_parts(length: int) -> None:
    from aiosms.every8d import estimate_cost

    parts = [333] * (length // 333) + ([length % 333] if length % 333 else [])
    table = [(70, 1), (134, 2), (201, 3), (268, 4), (333, 5)]
    expected = sum(next(p for limit, p in table if part <= limit) for part in parts)
    assert estimate_cost("x" * length, "0912345678") == Decimal(expected)


@pytest.mark.parametrize(("text", "to"), [("", "0912345678"), ("hi", "912345678"), ("hi", [])])
def test_estimate_cost_checks_its_arguments(text: str, to: str) -> None:
    from aiosms.every8d import estimate_cost

    with pytest.raises(InvalidRequestError):
        estimate_cost(text, to)


def test_a_page_of_more_than_1000_rows_is_refused_before_it_is_read() -> None:
    from aiosms.every8d.soap_codec import MAX_REPLIES

    row = "<SMS><NAME></NAME><MOBILE>+886912345678</MOBILE><STATUS>100</STATUS></SMS>"
    page = (
        '<SMS_LOG><CODE>0</CODE><GET_DELIVERY_STATUS COUNT="{n}">{rows}'
        "</GET_DELIVERY_STATUS></SMS_LOG>"
    )
    assert len(parse_delivery_status(page.format(n=1000, rows=row * 1000), BATCH).reports) == 1000
    with pytest.raises(ResponseFormatError, match="more than 1000 rows"):
        parse_delivery_status(page.format(n=1001, rows=row * 1001), BATCH)
    reply = (
        "<REPLY_SMS><REPLY_TIME>2010/03/23 12:05:09</REPLY_TIME><MESSAGE>ok</MESSAGE></REPLY_SMS>"
    )
    many = row.replace("</SMS>", reply * MAX_REPLIES + "</SMS>")
    (report,) = parse_delivery_status(page.format(n=1, rows=many), BATCH).reports
    assert len(report.replies) == MAX_REPLIES
    too_many = row.replace("</SMS>", reply * (MAX_REPLIES + 1) + "</SMS>")
    with pytest.raises(ResponseFormatError, match="replies"):
        parse_delivery_status(page.format(n=1, rows=too_many), BATCH)
