"""aiosms.every8d.http_codec: the EVERY8D HTTP API's forms, MMS rules and TAB pages."""

from __future__ import annotations

import base64
from datetime import datetime
from decimal import Decimal
from urllib.parse import parse_qsl

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiosms import (
    AuthenticationError,
    DeliveryState,
    InvalidRequestError,
    ProviderError,
    ResponseFormatError,
)
from aiosms.every8d._common import TAIPEI
from aiosms.every8d.codes import describe_status
from aiosms.every8d.http_codec import (
    MMS_MAX_BYTES,
    MMS_PATH,
    PAGE_SIZE,
    build_erase_booking,
    build_get_delivery_status,
    build_send,
    build_send_mms,
    credentials,
    encode_form,
    parse_report_page,
    sniff_image_type,
)
from tests._strategies import XML_TEXT

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
GIF = b"GIF87a" + b"\x00" * 32
FORM_TRICKS = st.sampled_from(["&", "=", "+", "%", "?", "#", " ", "\n", "\r\n", "%20", "中", "😀"])
FORM_TEXT = st.lists(st.one_of(XML_TEXT, FORM_TRICKS), max_size=8).map("".join)


def decode(body: bytes) -> list[tuple[str, str]]:
    return parse_qsl(
        body.decode("ascii"), keep_blank_values=True, strict_parsing=True, encoding="utf-8"
    )


# ---------------------------------------------------------------------- the form


@FUZZ
@given(fields=st.lists(st.tuples(FORM_TEXT.filter(bool), FORM_TEXT), min_size=1, max_size=6))
def test_form_encoding_round_trips_any_text_and_is_ascii(fields: list[tuple[str, str]]) -> None:
    body = encode_form(fields)
    assert body.isascii()
    assert decode(body) == fields


@FUZZ
@given(
    text=FORM_TEXT.filter(str.strip),
    subject=FORM_TEXT,
    password=FORM_TEXT.filter(str.strip),
    numbers=st.lists(st.from_regex(r"09[0-9]{8}|\+886[0-9]{9}", fullmatch=True), min_size=1),
)
def test_send_form_carries_every_field_exactly(
    text: str, subject: str, password: str, numbers: list[str]
) -> None:
    request = build_send(text, numbers, subject=subject)
    sent = dict(decode(encode_form((*credentials("acme", password), *request.fields))))
    assert sent == {
        "UID": "acme",
        "PWD": password,
        "SB": subject,
        "MSG": text,
        "DEST": ",".join(numbers),
        "ST": "",
        "RETRYTIME": "",
    }
    assert not request.idempotent
    assert password not in repr(request)


def test_send_time_and_validity_fields() -> None:
    from datetime import UTC, timedelta

    request = build_send(
        "hi", "0912345678", at=datetime(2031, 1, 31, 7, 30, tzinfo=UTC), validity=timedelta(hours=2)
    )
    fields = dict(request.fields)
    assert (fields["ST"], fields["RETRYTIME"]) == ("20310131153000", "120")


def test_credentials_are_checked_and_hidden() -> None:
    with pytest.raises(InvalidRequestError):
        credentials("", "pw")
    with pytest.raises(InvalidRequestError) as info:
        credentials("acme", "bad\x00secret")
    assert "secret" not in str(info.value)


# ---------------------------------------------------------------------- MMS


def mms(**kwargs: object) -> dict[str, str]:
    args: dict[str, object] = {"text": "hi", "to": "0912345678", "image": PNG} | kwargs
    text = args.pop("text")
    to = args.pop("to")
    request = build_send_mms(text, to, **args)  # type: ignore[arg-type]
    assert request.path == MMS_PATH == "/API21/HTTP/MMS/sendMMS.ashx"
    return dict(request.fields)


@pytest.mark.parametrize(
    ("subject", "ok"),
    [
        ("中" * 15, True),
        ("中" * 16, False),
        ("a" * 14 + "é", True),  # 15 with one non-ASCII character
        ("a" * 15 + "é", False),  # 16 with one: the 15-character rule applies
        ("a" * 95, True),
        ("a" * 96, False),
        ("", True),
    ],
)
def test_mms_subject_limits_at_their_boundaries(subject: str, ok: bool) -> None:
    if ok:
        assert mms(subject=subject)["SB"] == subject
    else:
        with pytest.raises(InvalidRequestError, match="subject"):
            mms(subject=subject)


def test_mms_text_limit_at_its_boundary() -> None:
    image = PNG[:16]
    assert len(mms(text="x" * 4000, image=image)["MSG"]) == 4000
    with pytest.raises(InvalidRequestError, match="4,000"):
        mms(text="x" * 4001, image=image)


def test_mms_size_counts_picture_and_text_utf8_bytes() -> None:
    text = "中" * 100  # 300 bytes in UTF-8
    fits = PNG + b"\x00" * (MMS_MAX_BYTES - len(PNG) - 300)
    assert len(fits) + 300 == 51_200
    assert base64.b64decode(mms(text=text, image=fits)["ATTACHMENT"]) == fits
    with pytest.raises(InvalidRequestError, match="51201"):
        mms(text=text, image=fits + b"\x00")


@pytest.mark.parametrize(
    ("data", "kind"), [(PNG, "png"), (JPEG, "jpg"), (GIF, "gif"), (b"GIF89a", "gif")]
)
def test_image_types_are_sniffed(data: bytes, kind: str) -> None:
    assert sniff_image_type(data) == kind
    assert mms(image=data)["TYPE"] == kind


@FUZZ
@given(junk=st.binary(max_size=64))
def test_sniffing_junk_never_guesses_wrong(junk: bytes) -> None:
    kind = sniff_image_type(junk)
    signatures = {"png": b"\x89PNG\r\n\x1a\n", "jpg": b"\xff\xd8\xff", "gif": b"GIF8"}
    assert kind is None or junk.startswith(signatures[kind])


def test_image_type_given_is_normalized_and_must_agree() -> None:
    assert mms(image=PNG, image_type=".PNG")["TYPE"] == "png"
    assert mms(image=JPEG, image_type="JPEG")["TYPE"] == "jpeg"
    assert mms(image=b"\x00unknown", image_type="gif")["TYPE"] == "gif"  # trusted when unsniffable
    for bad, match in (("bmp", "image_type"), ("gif", "PNG")):
        with pytest.raises(InvalidRequestError, match=match):
            mms(image=PNG, image_type=bad)
    with pytest.raises(InvalidRequestError, match="JPEG, PNG or GIF"):
        mms(image=b"\x00unknown")
    with pytest.raises(InvalidRequestError, match="empty"):
        mms(image=b"")
    with pytest.raises(InvalidRequestError, match="bytes"):
        mms(image="not bytes")


@pytest.mark.parametrize("number", ["+14155550100", "+85291234567", "+886212345678"])
def test_mms_refuses_numbers_outside_taiwan(number: str) -> None:
    with pytest.raises(InvalidRequestError, match="Taiwan"):
        mms(to=["0912345678", number])


def test_mms_takes_both_taiwanese_forms() -> None:
    assert mms(to=["0912345678", "+886922333444"])["DEST"] == "0912345678,+886922333444"


def test_queries_and_cancels_pick_their_path() -> None:
    assert build_get_delivery_status("b", 2).path == "/API21/HTTP/getDeliveryStatus.ashx"
    mms_query = build_get_delivery_status("b", 2, mms=True)
    assert mms_query.path == "/API21/HTTP/MMS/getDeliveryStatus.ashx"
    assert dict(mms_query.fields) == {"BID": "b", "PNO": "2"}
    assert build_erase_booking("b", mms=True).path == "/API21/HTTP/MMS/eraseBooking.ashx"
    assert not build_erase_booking("b").idempotent
    for bad in (0, -1, True):
        with pytest.raises(InvalidRequestError):
            build_get_delivery_status("b", bad)


# ---------------------------------------------------------------------- TAB pages

NAME = st.text(
    st.characters(blacklist_categories=["Cs", "Cc"], blacklist_characters="\t\n\r\x85"),
    max_size=12,
).map(str.strip)
MOBILE = st.from_regex(r"\+?[0-9]{8,15}", fullmatch=True)
TIME = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda d: d.replace(microsecond=0, tzinfo=TAIPEI)
)
ROW = st.tuples(
    NAME,
    MOBILE,
    st.none() | TIME,
    st.none() | st.sampled_from(["1.0", "2.0", "3", "0.5", "15.00"]),
    st.sampled_from(["0", "100", "101", "107", "300", "303", "700", "-3", "4242"]),
    st.sampled_from(["", "R17", "extra value"]),
)


@FUZZ
@given(
    rows=st.lists(ROW, max_size=20),
    six=st.booleans(),
    crlf=st.booleans(),
    pad=st.sampled_from(["", " ", "  "]),
    blank_lines=st.booleans(),
)
def test_tab_pages_of_any_shape_read_back_every_row(
    rows: list[tuple[str, str, datetime | None, str | None, str, str]],
    six: bool,
    crlf: bool,
    pad: str,
    blank_lines: bool,
) -> None:
    lines = [f"{pad}{len(rows) + 5}{pad}"]
    for name, mobile, sent, cost, status, extra in rows:
        fields = [name, mobile, f"{sent:%Y/%m/%d %H:%M:%S}" if sent else "", cost or "", status]
        if six:
            fields.append(extra)
        lines.append("\t".join(f"{pad}{f}{pad}" for f in fields))
        if blank_lines:
            lines.append("")
    text = ("\r\n" if crlf else "\n").join(lines) + ("\r\n" if crlf else "")
    page = parse_report_page(text, "batch-1")
    assert page.count == len(rows) + 5
    assert len(page.reports) == len(rows)
    for report, (name, mobile, sent, cost, status, extra) in zip(page.reports, rows, strict=True):
        state, description = describe_status(status)
        assert (report.batch_id, report.name, report.mobile) == ("batch-1", name, mobile)
        assert (report.state, report.status, report.description) == (state, status, description)
        assert report.sent_at == sent
        assert report.cost == (Decimal(cost) if cost else None)
        assert dict(report.details) == ({"extra": extra} if six and extra else {})


def test_the_specs_sample_page() -> None:
    text = (
        "1130\nRoger\t+886933123123\t2010/03/03 14:25:55\t1.0\t100\n"
        "Peggy\t+886933123122\t2010/03/03 14:26:55\t1.0\t100\n"
        "Larry\t+886933123121\t2010/03/03 14:27:55\t1.0\t103\n"
    )
    page = parse_report_page(text, "b")
    assert page.count == 1130
    assert [(r.name, r.state) for r in page.reports] == [
        ("Roger", DeliveryState.DELIVERED),
        ("Peggy", DeliveryState.DELIVERED),
        ("Larry", DeliveryState.FAILED),
    ]
    assert page.reports[0].sent_at == datetime(2010, 3, 3, 14, 25, 55, tzinfo=TAIPEI)


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("Roger\t+886933123123\t2010/03/03 14:25:55\t1.0", "4 fields"),
        ("Roger\t+886933123123\t2010/03/03 14:25:55\t1.0\t100\tx\ty", "7 fields"),
        ("Roger\t \t2010/03/03 14:25:55\t1.0\t100", "no MOBILE"),
        ("Roger\t+886933123123\t2010/03/03 14:25:55\t1.0\tok", "STATUS"),
        ("Roger\t+886933123123\t2010/03/03 14:25:55\t1.0\t1-0", "STATUS"),
        ("Roger\t+886933123123\t2010/13/03 14:25:55\t1.0\t100", "SEND_TIME"),
        ("Roger\t+886933123123\tyesterday\t1.0\t100", "SEND_TIME"),
        ("Roger\t+886933123123\t2010/03/03 14:25:55\tNaN\t100", "COST"),
        ("Roger\t+886933123123\t2010/03/03 14:25:55\tfree\t100", "COST"),
        ("just words", "no TAB"),
    ],
)
def test_an_unreadable_row_names_its_line(line: str, why: str) -> None:
    good = "A\t+886933123120\t2010/03/03 14:25:55\t1.0\t100"
    with pytest.raises(ResponseFormatError, match=f"line 4 .*{why}"):
        parse_report_page(f"3\n{good}\n\n{line}\n{good}\n", "b")


def test_negative_replies_raise_their_error() -> None:
    with pytest.raises(AuthenticationError) as info:
        parse_report_page("-101", "b")
    assert info.value.code == "-101"
    with pytest.raises(ProviderError) as err:
        parse_report_page("-306,手機格式不符:+1-202-895-1800\n", "b")
    assert err.value.provider_message == "手機格式不符:+1-202-895-1800"


def test_empty_and_count_only_pages() -> None:
    assert parse_report_page("", "b").reports == []
    assert parse_report_page(" \r\n", "b").count == 0
    page = parse_report_page("0\n", "b")
    assert (page.count, page.reports) == (0, [])
    with pytest.raises(ResponseFormatError):
        parse_report_page("many\n", "b")


def test_a_page_over_1000_rows_is_refused() -> None:
    row = "A\t+886933123120\t2010/03/03 14:25:55\t1.0\t100\n"
    assert len(parse_report_page("1000\n" + row * PAGE_SIZE, "b").reports) == PAGE_SIZE
    with pytest.raises(ResponseFormatError, match=f"line {PAGE_SIZE + 2}.*more than"):
        parse_report_page("1001\n" + row * (PAGE_SIZE + 1), "b")


@pytest.mark.parametrize(
    "text",
    [
        "1\n" + "x" * 10_000_000,  # one 10 MB line
        "1\n" + "\t" * 1_000_000,  # a million fields
        "1\nA\t+886912345678\t\t1.0\t" + "1" * 1_000_000,  # a huge STATUS
        "1\nA\t+886912345678\t" + "9" * 1_000_000 + "\t1.0\t100",  # a huge time
        "1\nA\t+886912345678\t\t" + "9" * 1_000_000 + "\t100",  # a huge cost
    ],
)
def test_hostile_pages_are_refused_with_the_line_named(text: str) -> None:
    """Each is refused on its one line (every step looks at a line once: split, strip,
    a bounded check), and the error shows at most 80 characters of it."""
    with pytest.raises(ResponseFormatError, match="line 2") as info:
        parse_report_page(text, "b")
    assert len(str(info.value)) < 300


def test_a_million_empty_lines_are_no_rows() -> None:
    assert parse_report_page("1\n" + "\r\n" * 1_000_000, "b").reports == []
