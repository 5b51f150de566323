"""aiosms.every8d.http_codec: the form, every builder, the MMS limits at their edges, and
the TAB report pages, from the specification's samples to generated and hostile ones."""

from __future__ import annotations

import base64
import tracemalloc
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qsl

import attrs
import pytest
from _strategies import TRICKY, XML_CHAR
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiosms import (
    AccountBlockedError,
    AuthenticationError,
    DeliveryReport,
    DeliveryState,
    Details,
    InvalidRequestError,
    ProviderError,
    ResponseFormatError,
)
from aiosms.every8d import _common, http_reports
from aiosms.every8d import http_codec as codec
from aiosms.every8d._common import TAIPEI
from aiosms.every8d.codes import STATUS_CODES, describe_status
from aiosms.every8d.http_codec import (
    IMAGE_TYPES,
    MMS_MAX_BYTES,
    PAGE_SIZE,
    ReportPage,
    Request,
    build_erase_booking,
    build_get_credit,
    build_get_delivery_status,
    build_send,
    build_send_mms,
    credentials,
    encode_form,
    parse_report_page,
    sniff_image_type,
)
from aiosms.every8d.http_reports import SPLIT_LINES

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BATCH = "220478cc-8506-49b2-93b7-2505f651c12e"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 24
GIF = b"GIF89a" + b"\x00" * 24

# Text a form must carry: XML chars, the tricky pieces, and what a query string means.
FORM_PIECES = st.sampled_from(["&", "=", "+", "%", "?", "#", " ", "\n", "\r\n", "%20", "a=b&c"])
FORM_TEXT = st.lists(st.one_of(XML_CHAR, TRICKY, FORM_PIECES), max_size=30).map("".join)


def qsl(body: bytes) -> list[tuple[str, str]]:
    return parse_qsl(
        body.decode("ascii"), keep_blank_values=True, strict_parsing=True, encoding="utf-8"
    )


# =============================================================================== the form


def test_the_interface_constants() -> None:
    assert (codec.SMS_PATH, codec.MMS_PATH) == (
        "/API21/HTTP/sendSMS.ashx",
        "/API21/HTTP/MMS/sendMMS.ashx",
    )
    assert (codec.STATUS_PATH, codec.MMS_STATUS_PATH, codec.CREDIT_PATH) == (
        "/API21/HTTP/getDeliveryStatus.ashx",
        "/API21/HTTP/MMS/getDeliveryStatus.ashx",
        "/API21/HTTP/getCredit.ashx",
    )
    assert (codec.CANCEL_PATH, codec.MMS_CANCEL_PATH) == (
        "/API21/HTTP/eraseBooking.ashx",
        "/API21/HTTP/MMS/eraseBooking.ashx",
    )
    assert (PAGE_SIZE, MMS_MAX_BYTES, codec.MMS_MAX_TEXT) == (1000, 51_200, 4000)
    assert codec.FORM_CONTENT_TYPE == "application/x-www-form-urlencoded; charset=utf-8"
    assert frozenset({"jpg", "jpeg", "png", "gif"}) == IMAGE_TYPES


def test_the_shared_parsers_are_reexported() -> None:
    for name in ("parse_send", "parse_credit", "parse_erase_booking", "ReportPage"):
        assert getattr(codec, name) is getattr(_common, name)
        assert name in codec.__all__
    assert all(hasattr(codec, name) for name in codec.__all__)
    sent = codec.parse_send("1230.00,4,4.0,220478cc-8506-49b2-93b7-2505f651c12e")  # spec 1.1
    assert (sent.credit, sent.sent, sent.cost, sent.unsent) == (Decimal("1230.00"), 4, 4, 0)


def test_credentials_are_checked_and_the_password_never_shown() -> None:
    assert credentials("acme", "p&ss=w rd") == (("UID", "acme"), ("PWD", "p&ss=w rd"))
    for uid, password in [("", "p"), (" ", "p"), ("u", ""), ("u", None)]:
        with pytest.raises(InvalidRequestError):
            credentials(uid, password)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError) as info:
        credentials("acme", "secret\x00word")
    assert "secret" not in str(info.value)
    assert "password" in str(info.value)


@FUZZ
@given(fields=st.lists(st.tuples(FORM_TEXT, FORM_TEXT), min_size=1, max_size=6))
def test_any_sendable_text_round_trips_through_the_form(fields: list[tuple[str, str]]) -> None:
    body = encode_form(fields)
    assert isinstance(body, bytes)
    assert body.isascii()
    assert qsl(body) == fields


def test_the_form_encoding_itself() -> None:
    # ASCII values exactly as quote_plus writes them; others every byte as %XX.
    assert encode_form([("MSG", "a b&=+%\r\n"), ("SB", ""), ("DEST", "+886912345678")]) == (
        b"MSG=a+b%26%3D%2B%25%0D%0A&SB=&DEST=%2B886912345678"
    )
    assert encode_form([("MSG", "中 文&")]) == b"MSG=%E4%B8%AD%20%E6%96%87%26"
    assert encode_form([("a", "😀/")]) == b"a=%F0%9F%98%80%2F"


# =============================================================================== builders

MOBILE = st.one_of(
    st.from_regex(r"09[0-9]{8}", fullmatch=True),
    st.from_regex(r"\+8869[0-9]{8}", fullmatch=True),
    st.from_regex(r"\+[1-9][0-9]{7,12}", fullmatch=True),
)


@st.composite
def written_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """(as a user may write it, as normalize_recipients makes it)."""
    number = draw(MOBILE)
    cuts = sorted(draw(st.lists(st.integers(1, len(number) - 1), max_size=3)))
    written, last = "", 0
    for cut in cuts:
        written += number[last:cut] + draw(st.sampled_from([" ", "-", ""]))
        last = cut
    return written + number[last:], number


@FUZZ
@given(
    text=FORM_TEXT.filter(str.strip),
    subject=FORM_TEXT,
    numbers=st.lists(written_numbers(), min_size=1, max_size=5),
)
def test_build_send_fields(text: str, subject: str, numbers: list[tuple[str, str]]) -> None:
    request = build_send(text, [w for w, _ in numbers], subject=subject)
    assert (request.name, request.path, request.idempotent) == ("sendSMS", codec.SMS_PATH, False)
    dest = ",".join(n for _, n in numbers)
    expected = (("SB", subject), ("MSG", text), ("DEST", dest), ("ST", ""), ("RETRYTIME", ""))
    assert request.fields == expected
    assert qsl(encode_form([*credentials("u", "p"), *request.fields]))[2:] == list(expected)


def test_build_send_time_and_validity() -> None:
    at = datetime(2009, 1, 31, 7, 30, tzinfo=UTC)
    fields = dict(build_send("hi", "0912345678", at=at, validity=timedelta(seconds=61)).fields)
    assert (fields["ST"], fields["RETRYTIME"]) == ("20090131153000", "2")
    assert "hi" not in repr(build_send("hi", "0912345678"))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"text": ""}, "text"),
        ({"text": " \n"}, "text"),
        ({"text": "a\x00"}, "text"),
        ({"subject": "\x0b"}, "subject"),
        ({"to": []}, "at least one"),
        ({"to": "12345"}, "mobile"),
        ({"at": datetime(2030, 1, 1)}, "timezone-aware"),
        ({"validity": timedelta(0)}, "validity"),
    ],
)
def test_build_send_refuses_bad_input(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"text": "hi", "to": "0912345678"} | kwargs
    with pytest.raises(InvalidRequestError, match=match):
        build_send(args.pop("text"), args.pop("to"), **args)  # type: ignore[arg-type]


def test_status_credit_and_cancel_requests() -> None:
    assert build_get_delivery_status(BATCH) == Request(
        "getDeliveryStatus", codec.STATUS_PATH, (("BID", BATCH), ("PNO", "1"))
    )
    assert build_get_delivery_status(BATCH, 3, mms=True) == Request(
        "getMmsDeliveryStatus", codec.MMS_STATUS_PATH, (("BID", BATCH), ("PNO", "3"))
    )
    assert build_get_credit() == Request("getCredit", codec.CREDIT_PATH, ())
    assert build_erase_booking(BATCH) == Request(
        "eraseBooking", codec.CANCEL_PATH, (("BID", BATCH),), idempotent=False
    )
    assert build_erase_booking(BATCH, mms=True) == Request(
        "eraseMmsBooking", codec.MMS_CANCEL_PATH, (("BID", BATCH),), idempotent=False
    )


@pytest.mark.parametrize(
    ("batch_id", "page"),
    [("", 1), (" ", 1), ("\x00", 1), (BATCH, 0), (BATCH, -1), (BATCH, True), (BATCH, 1.0)],
)
def test_status_and_cancel_refuse_bad_input(batch_id: str, page: int) -> None:
    with pytest.raises(InvalidRequestError):
        build_get_delivery_status(batch_id, page)
    if batch_id != BATCH:
        with pytest.raises(InvalidRequestError, match="batch_id"):
            build_erase_booking(batch_id, mms=True)


# =============================================================================== MMS


def mms(text: str = "hi", to: object = "0912345678", **kwargs: object) -> Request:
    kwargs.setdefault("image", PNG)
    return build_send_mms(text, to, **kwargs)  # type: ignore[arg-type]


def test_build_send_mms_fields() -> None:
    at = datetime(2030, 1, 1, tzinfo=UTC)
    request = mms("圖", ["0912-345-678", "+886922333444"], subject="Logo", at=at)
    assert (request.name, request.path, request.idempotent) == ("sendMMS", codec.MMS_PATH, False)
    assert [name for name, _ in request.fields] == [
        "SB", "MSG", "DEST", "ST", "RETRYTIME", "ATTACHMENT", "TYPE"
    ]  # fmt: skip
    fields = dict(request.fields)
    assert fields["DEST"] == "0912345678,+886922333444"
    assert (fields["SB"], fields["MSG"], fields["ST"], fields["TYPE"]) == (
        "Logo", "圖", "20300101080000", "png"
    )  # fmt: skip
    assert fields["ATTACHMENT"].isascii()
    assert base64.b64decode(fields["ATTACHMENT"], validate=True) == PNG
    assert qsl(encode_form(request.fields)) == list(request.fields)


def test_an_mms_text_may_be_empty_but_must_be_sendable() -> None:
    assert dict(mms("").fields)["MSG"] == ""
    assert dict(mms(" ").fields)["MSG"] == " "
    with pytest.raises(InvalidRequestError, match="text"):
        mms("a\x00")


@pytest.mark.parametrize(
    ("subject", "ok"),
    [
        ("中" * 15, True),
        ("中" * 16, False),
        ("a" * 14 + "中", True),  # 15 characters, one of them not ASCII
        ("a" * 15 + "中", False),
        ("a" * 95, True),
        ("a" * 96, False),
        ("!" * 95, True),  # ASCII punctuation counts as ASCII
        ("", True),
    ],
)
def test_the_mms_subject_limits(subject: str, ok: bool) -> None:
    if ok:
        assert dict(mms(subject=subject).fields)["SB"] == subject
    else:
        with pytest.raises(InvalidRequestError, match="subject"):
            mms(subject=subject)


def test_the_mms_text_limit() -> None:
    assert len(dict(mms("x" * 4000).fields)["MSG"]) == 4000
    with pytest.raises(InvalidRequestError, match="4,000"):
        mms("x" * 4001)


@pytest.mark.parametrize("text", ["", "x" * 100, "中" * 100, "😀" * 50])
def test_the_mms_size_limit_counts_picture_and_text_bytes(text: str) -> None:
    room = MMS_MAX_BYTES - len(text.encode("utf-8"))
    fits = PNG + b"\x00" * (room - len(PNG))
    assert len(base64.b64decode(dict(mms(text, image=fits).fields)["ATTACHMENT"])) == room
    with pytest.raises(InvalidRequestError, match="51200"):
        mms(text, image=fits + b"\x00")


@FUZZ
@given(text=FORM_TEXT, extra=st.integers(-8, 8))
def test_the_mms_size_limit_at_its_edge(text: str, extra: int) -> None:
    size = MMS_MAX_BYTES - len(text.encode("utf-8")) + extra
    image = GIF + b"\x00" * (size - len(GIF))
    if extra <= 0:
        assert dict(mms(text, image=image).fields)["TYPE"] == "gif"
    else:
        with pytest.raises(InvalidRequestError, match="bytes"):
            mms(text, image=image)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (JPEG, "jpg"),
        (b"\xff\xd8\xff", "jpg"),
        (PNG, "png"),
        (b"GIF87a", "gif"),
        (GIF, "gif"),
        (b"", None),
        (b"\xff\xd8", None),
        (b"\x89PNG\r\n\x1a", None),
        (b"GIF88a", None),
        (b"BM\x00\x00", None),  # a BMP
        (b"RIFF\x00\x00\x00\x00WEBP", None),
        (b"<svg", None),
    ],
)
def test_sniff_image_type(data: bytes, kind: str | None) -> None:
    assert sniff_image_type(data) == kind


@FUZZ
@given(data=st.binary(max_size=16))
def test_sniffing_junk_is_none_or_a_real_signature(data: bytes) -> None:
    kind = sniff_image_type(data)
    signature = {"jpg": b"\xff\xd8\xff", "png": b"\x89PNG\r\n\x1a\n", "gif": b"GIF8"}
    assert kind is None or data.startswith(signature[kind])
    if kind is None:
        assert not data.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a"))


@pytest.mark.parametrize(
    ("image", "given", "sent"),
    [
        (PNG, None, "png"),
        (JPEG, None, "jpg"),
        (JPEG, "jpeg", "jpeg"),
        (JPEG, "JPG", "jpg"),
        (JPEG, ".JPEG", "jpeg"),
        (PNG, ".PNG", "png"),
        (GIF, "Gif", "gif"),
        (b"\x00unsniffable", "png", "png"),  # the caller's word, when the bytes say nothing
    ],
)
def test_image_type_case_dot_and_sniffing(image: bytes, given: str | None, sent: str) -> None:
    assert dict(mms(image=image, image_type=given).fields)["TYPE"] == sent


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"image_type": "bmp"}, "image_type"),
        ({"image_type": "..png"}, "image_type"),
        ({"image_type": 3}, "image_type"),
        ({"image_type": "gif"}, "PNG"),  # the bytes contradict it
        ({"image": JPEG, "image_type": "png"}, "JPG"),
        ({"image": b"\x00junk"}, "JPEG, PNG or GIF"),
        ({"image": b""}, "empty"),
        ({"image": "logo.png"}, "bytes"),
        ({"image": None}, "bytes"),
        ({"to": "+14155550100"}, "international"),
        ({"to": ["0912345678", "+8613812345678"]}, "Taiwan"),
        ({"to": "+886223456789"}, "Taiwan"),  # a +886 landline
        ({"to": "0912"}, "mobile"),
    ],
)
def test_mms_refusals(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidRequestError, match=match):
        mms(**kwargs)


def test_an_mms_image_may_be_a_bytearray() -> None:
    assert base64.b64decode(dict(mms(image=bytearray(GIF)).fields)["ATTACHMENT"]) == GIF


# =============================================================================== reports

SPEC_PAGE = (  # spec 2.2 (2), as printed
    "1130\nRoger\t+886933123123\t2010/03/03 14:25:55\t1.0\t100\n"
    "Peggy\t+886933123122\t2010/03/03 14:26:55\t1.0\t100\n"
    "Larry\t+886933123121\t2010/03/03 14:27:55\t1.0\t103\n"
)


def report(mobile: str, status: str, name: str = "", sent_at: datetime | None = None,
           cost: Decimal | None = None, extra: str = "") -> DeliveryReport:  # fmt: skip
    state, description = describe_status(status)
    details = Details({"extra": extra}) if extra else Details()
    return DeliveryReport(
        BATCH, None, mobile, name, state, status, description, sent_at, cost, (), None, details
    )


def test_the_spec_sample() -> None:
    page = parse_report_page(SPEC_PAGE, BATCH)
    assert page.count == 1130
    assert page.reports == [
        report("+886933123123", "100", "Roger", datetime(2010, 3, 3, 14, 25, 55, tzinfo=TAIPEI),
               Decimal("1.0")),
        report("+886933123122", "100", "Peggy", datetime(2010, 3, 3, 14, 26, 55, tzinfo=TAIPEI),
               Decimal("1.0")),
        report("+886933123121", "103", "Larry", datetime(2010, 3, 3, 14, 27, 55, tzinfo=TAIPEI),
               Decimal("1.0")),
    ]  # fmt: skip
    assert [r.state for r in page.reports] == [DeliveryState.DELIVERED] * 2 + [DeliveryState.FAILED]
    assert page == parse_report_page(SPEC_PAGE.replace("\n", "\r\n"), BATCH)


def test_the_mms_spec_sample_and_its_statuses() -> None:
    page = parse_report_page(
        "3\nRoger\t+886933123123\t2010/03/03 14:25:55\t4.0\t700\n"
        "Larry\t+886933123121\t2010/03/03 14:27:55\t4.0\t303\n\tx\t\t\t300\n",
        BATCH,
    )
    states = [r.state for r in page.reports]
    assert states == [DeliveryState.DELIVERED, DeliveryState.CANCELLED, DeliveryState.SCHEDULED]
    assert page.reports[2].sent_at is None
    assert page.reports[2].cost is None


@pytest.mark.parametrize("text", ["", " ", "\r\n\r\n", "\t\n "])
def test_an_empty_reply_is_an_empty_page(text: str) -> None:
    assert parse_report_page(text, BATCH) == ReportPage(0, [])


@pytest.mark.parametrize(
    ("text", "count"), [("0", 0), ("12\r\n", 12), ("\n\n 7 \n", 7), ("1130\t\t\t\t\n", 1130)]
)
def test_a_page_of_only_the_count(text: str, count: int) -> None:
    assert parse_report_page(text, BATCH) == ReportPage(count, [])


@pytest.mark.parametrize(
    ("text", "error", "code"),
    [
        ("-101", AuthenticationError, "-101"),
        (" -101\r\n", AuthenticationError, "-101"),
        ("-999", AccountBlockedError, "-999"),
        ("-306,手機格式不符", ProviderError, "-306"),
        ("-99", ProviderError, "-99"),
    ],
)
def test_error_codes_raise_their_errors(text: str, error: type[Exception], code: str) -> None:
    with pytest.raises(error) as info:
        parse_report_page(text, BATCH)
    assert info.value.code == code  # type: ignore[attr-defined]


def test_names_keep_what_splitlines_would_split_on() -> None:
    odd = "a\x0bb\x0cc\x1cd\x1de\x1ef\x85g\u2028h\u2029i\rj"
    (row,) = parse_report_page(f"1\n{odd}\t0912345678\t\t\t100\n", BATCH).reports
    assert row.name == odd


def test_extra_column() -> None:
    page = parse_report_page("2\na\t1\t\t\t100\t CustID=7 \nb\t2\t\t\t100\t \n", BATCH)
    assert page.reports[0].details == {"extra": "CustID=7"}
    assert page.reports[1].details is Details()


# ------------------------------------------------------------------ generated pages

CLEAN = st.lists(st.one_of(XML_CHAR, TRICKY), min_size=0, max_size=12).map("".join)
FIELD = CLEAN.map(lambda s: s.replace("\t", "").replace("\n", "").strip(" "))
EXTRA = FIELD.map(lambda s: s.rstrip("\r ").strip(" "))  # a line's last "\r" is dropped
STATUS = st.one_of(
    st.sampled_from(sorted(STATUS_CODES)), st.from_regex(r"-?[0-9]{1,6}", fullmatch=True)
)
SENT = st.one_of(st.none(), st.datetimes(datetime(1000, 1, 1), datetime(9999, 12, 31)))
COST = st.one_of(st.none(), st.decimals(-1000, 1000, places=2))


@st.composite
def rows(draw: st.DrawFn) -> tuple[DeliveryReport, list[str]]:
    """A report and the fields of its row as EVERY8D could write them."""
    mobile = draw(st.one_of(MOBILE, FIELD.filter(bool)))
    name, status, sent, cost = draw(FIELD), draw(STATUS), draw(SENT), draw(COST)
    extra = draw(st.one_of(st.none(), EXTRA))
    if sent is not None:
        sent = sent.replace(microsecond=0, tzinfo=TAIPEI)
        day = (
            f"{sent.month:02d}/{sent.day:02d}"
            if draw(st.booleans())
            else f"{sent.month}/{sent.day}"
        )
        when = f"{sent.year}/{day} {sent:%H:%M:%S}"
    fields = [name, mobile, "" if sent is None else when, "" if cost is None else str(cost), status]
    fields += [] if extra is None else [extra]
    return report(mobile, status, name, sent, cost, extra or ""), fields


@st.composite
def pages(draw: st.DrawFn, *, tidy: bool = False) -> tuple[str, list[DeliveryReport], int]:
    """(reply text, its reports, its count); ``tidy``: one width, no padding, LF only."""
    items = draw(st.lists(rows(), max_size=12))
    if tidy:
        width = draw(st.sampled_from([5, 6]))
        items = [
            (
                r if width == 6 else attrs.evolve(r, details=Details()),
                [*f, r.details.get("extra", "")][:width],
            )
            for r, f in items
        ]
    count = draw(st.integers(0, 10**12 - 1))
    newline = "\n" if tidy else draw(st.sampled_from(["\n", "\r\n"]))
    pad = st.just("") if tidy else st.sampled_from(["", "", " ", "  "])
    blank = st.just([]) if tidy else st.lists(st.sampled_from(["", " ", "  "]), max_size=2)
    lines = [*draw(blank), draw(pad) + str(count) + draw(pad)]
    for _, fields in items:
        lines += draw(blank)
        lines.append("\t".join(draw(pad) + field + draw(pad) for field in fields))
    end = draw(st.sampled_from([newline, ""])) if not tidy else newline
    return newline.join(lines) + end, [r for r, _ in items], count


@FUZZ
@given(page=pages())
def test_generated_pages_parse_to_exactly_their_reports(page: tuple[str, list, int]) -> None:
    text, reports, count = page
    assert parse_report_page(text, BATCH) == ReportPage(count, reports)


@FUZZ
@given(page=pages(tidy=True))
def test_the_fast_reader_takes_tidy_pages_and_agrees_with_the_careful_one(
    page: tuple[str, list, int],
) -> None:
    text, reports, count = page
    lines = text.split("\n")
    fast = http_reports._read_uniform(lines, BATCH)
    assert fast is not None
    assert fast == http_reports._read_rows(enumerate(lines, 1), BATCH) == ReportPage(count, reports)
    assert parse_report_page(text.replace("\n", "\r\n"), BATCH) == fast


TIME_TEXT = st.one_of(
    st.builds(lambda d, pad: f"{pad}{d.year}/{d.month}/{d.day} {d:%H:%M:%S}", SENT.filter(bool),
              st.sampled_from(["", " "])),
    st.text("0123456789/: ", max_size=22),
    st.sampled_from(["", " ", ":00", "2010/3/3", "2010/3/3 1:2:3", "2010/3/3 14:25 :55",
                     "9999/12/31 23:59:59", "2010/13/03 14:25:55", "2010/3/3 14:25:60"]),
)  # fmt: skip


@FUZZ
@given(texts=st.lists(TIME_TEXT, max_size=8))
def test_times_read_a_minute_at_a_time_are_what_parse_time_reads(texts: list[str]) -> None:
    try:
        expected = {text: _common.parse_time(text) for text in texts}
    except ResponseFormatError:
        with pytest.raises(ResponseFormatError):
            http_reports._parse_times(texts)
    else:
        assert http_reports._parse_times(texts) == expected


def test_parse_time_is_called_once_a_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def counted(text: str) -> datetime | None:
        calls.append(text)
        return _common.parse_time(text)

    monkeypatch.setattr(http_reports, "parse_time", counted)
    start = datetime(2024, 3, 20, 3, 27, 50, tzinfo=TAIPEI)
    texts = [f"{start + timedelta(seconds=s):%Y/%m/%d %H:%M:%S}" for s in range(200)]
    assert list(http_reports._parse_times(texts).values()) == [
        start + timedelta(seconds=s) for s in range(200)
    ]
    assert sorted(calls) == [f"2024/03/20 03:{minute}:00" for minute in range(27, 32)]


# ------------------------------------------------------------------ unreadable rows

GOOD = "王小明\t+886912345678\t2010/03/03 14:25:55\t1.0\t100"
BAD_ROWS = [
    ("a\tb\tc\td", "has 4 fields, not 5 or 6"),
    ("a\tb\tc\td\t100\tf\tg", "7 or more fields"),
    ("no tabs at all", r"1 field \(no TAB\)"),
    ("a\t \t\t\t100", "no MOBILE"),
    ("a\t1\t\t\t1a", "STATUS"),
    ("a\t1\t\t\t", "STATUS"),
    ("a\t1\t\t\t--1", "STATUS"),
    ("a\t1\t\t\t١٠٠", "STATUS"),  # not ASCII digits
    ("a\t1\t\t\t" + "1" * 13, "STATUS"),
    ("a\t1\t\t" + "1" * 25 + "\t100", "COST"),
    ("a\t1\t2010/13/03 14:25:55\t\t100", "SEND_TIME"),
    ("a\t1\tyesterday\t\t100", "SEND_TIME"),
    ("a\t1\t\t1.0.0\t100", "COST"),
    ("a\t1\t\tNaN\t100", "COST"),
]


@pytest.mark.parametrize(("row", "why"), BAD_ROWS)
def test_an_unreadable_row_names_its_line(row: str, why: str) -> None:
    text = f"\r\n3\r\n{GOOD}\r\n\r\n{row}\r\n{GOOD}\r\n"
    with pytest.raises(ResponseFormatError, match=why) as info:
        parse_report_page(text, BATCH)
    assert "line 5 " in str(info.value)
    assert repr(row[:20])[:-1] in str(info.value)  # its start is shown


@FUZZ
@given(
    before=st.lists(rows(), max_size=6),
    bad=st.sampled_from(BAD_ROWS),
    blanks=st.lists(st.integers(0, 2), min_size=8, max_size=8),
    newline=st.sampled_from(["\n", "\r\n"]),
)
def test_the_line_named_is_the_first_unreadable_one(
    before: list, bad: tuple[str, str], blanks: list[int], newline: str
) -> None:
    lines = [""] * blanks[0] + ["9"]
    for (_, fields), gap in zip(before, blanks[1:] + [0] * 6, strict=False):
        lines += [""] * gap + ["\t".join(fields)]
    number = len(lines) + 1
    lines += [bad[0], "a\tb"]  # a second bad row after it is not the one named
    with pytest.raises(ResponseFormatError, match=bad[1]) as info:
        parse_report_page(newline.join(lines), BATCH)
    assert f"line {number} " in str(info.value)


def test_a_bad_count_line_is_named() -> None:
    with pytest.raises(ResponseFormatError, match="line 3 is not the count"):
        parse_report_page("\n \nRoger\t1\t\t\t100\n", BATCH)
    with pytest.raises(ResponseFormatError, match="line 1 is not the count"):
        parse_report_page("five\n", BATCH)


def test_the_error_shows_a_long_line_trimmed() -> None:
    with pytest.raises(ResponseFormatError) as info:
        parse_report_page("1\n" + "名" * 10_000 + "\tx\n", BATCH)
    assert len(str(info.value)) < 300
    assert "名" * 80 in str(info.value)


# ------------------------------------------------------------------ sizes and hostility


def row_lines(count: int) -> str:
    return "".join(
        f"n\t+8869{i:08d}\t2024/03/20 03:27:{i % 60:02d}\t1.0\t100\n" for i in range(count)
    )


def test_a_full_page_is_read_and_one_row_more_refused() -> None:
    assert len(parse_report_page("5000\n" + row_lines(PAGE_SIZE), BATCH).reports) == PAGE_SIZE
    with pytest.raises(ResponseFormatError, match="1000"):
        parse_report_page("5000\n" + row_lines(PAGE_SIZE + 1), BATCH)
    with pytest.raises(ResponseFormatError, match=r"line 1003 .*1000"):  # the careful reader too
        parse_report_page("5000\r\n\r\n" + row_lines(PAGE_SIZE + 1).replace("\n", "\r\n"), BATCH)


def test_thousands_of_blank_lines_are_skipped_and_lines_still_counted() -> None:
    blanks = "\r\n \r\n\n" * SPLIT_LINES  # 3 blank lines each
    text = "\n5\n" + blanks + GOOD + "\n" + blanks + GOOD + "\n" + blanks
    page = parse_report_page(text, BATCH)
    assert page == parse_report_page(f"5\n{GOOD}\n{GOOD}", BATCH)
    assert len(page.reports) == 2
    with pytest.raises(ResponseFormatError, match=f"line {3 * SPLIT_LINES + 3} has 4 fields"):
        parse_report_page(text.replace(GOOD, "a\tb\tc\td", 1), BATCH)
    assert parse_report_page("1\n" + "\r\n" * 1_000_000, BATCH) == ReportPage(1, [])


def peak_bytes(text: str) -> int:
    """The most memory parse_report_page held beyond ``text`` while refusing it."""
    tracemalloc.start()
    try:
        with pytest.raises(ResponseFormatError) as info:
            parse_report_page(text, BATCH)
        assert len(str(info.value)) < 300  # never the whole reply
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


MB10 = 10 * 1024 * 1024


@pytest.mark.parametrize(
    "text",
    [
        "1\n" + "x" * MB10,  # one huge line: one field, not 5
        "1\n" + "\t" * MB10,  # millions of fields: split no further than a 7th
        "1\n" + "a\t" * (MB10 // 2),
        "9" * MB10,  # a huge count
        "1\n" + "x\t1\t\t\t100\n" * (MB10 // 11),  # millions of good rows
    ],
)
def test_a_10_mb_reply_is_refused_in_bounded_memory(text: str) -> None:
    # A reader that split it all would hold 8 bytes a field or line (80 MB for 10 M).
    assert peak_bytes(text) < 3 * len(text)


@pytest.mark.parametrize(
    "row",
    [
        "A\t+886912345678\t\t1.0\t" + "1" * 1_000_000,  # a huge STATUS
        "A\t+886912345678\t" + "9" * 1_000_000 + "\t1.0\t100",  # a huge time
        "A\t+886912345678\t\t" + "9" * 1_000_000 + "\t100",  # a huge cost
        "A\t\t\t\t" + " " * 1_000_000 + "100",  # no MOBILE, much padding
    ],
)
def test_a_huge_field_is_refused_on_its_line(row: str) -> None:
    with pytest.raises(ResponseFormatError, match="line 2 ") as info:
        parse_report_page(f"1\n{row}\n", BATCH)
    assert len(str(info.value)) < 300


def test_millions_of_blank_lines_are_scanned_not_split() -> None:
    text = "1\n" + "\n \r\n" * (MB10 // 4)
    tracemalloc.start()
    try:
        assert parse_report_page(text, BATCH) == ReportPage(1, [])
        assert tracemalloc.get_traced_memory()[1] < 2 * len(text)  # split: 8 bytes a line and more
    finally:
        tracemalloc.stop()


def test_refusing_a_huge_line_costs_memory_in_proportion_to_it() -> None:
    small, large = peak_bytes("1\n" + "\t" * 500_000), peak_bytes("1\n" + "\t" * 1_000_000)
    assert large < 2.5 * small + 4096  # doubling the input at most doubles the work


@FUZZ
@given(text=st.text(st.characters(blacklist_categories=["Cs"])))
def test_form_quoting_reads_back_and_matches_quote_plus_for_ascii(text: str) -> None:
    from urllib.parse import quote_plus, unquote_plus

    quoted = codec._quote(text)
    assert quoted.isascii()
    assert unquote_plus(quoted, errors="strict") == text
    if text.isascii():
        assert quoted == quote_plus(text)
    else:
        assert "+" not in quoted  # a space inside is %20, never a bare "+"
