"""EVERY8D HTTP API 2.1: the TAB-separated status pages (spec 2.2 and 2.3), read.

Pure functions, no I/O: :func:`parse_report_page` turns one page of
``getDeliveryStatus.ashx`` (or its MMS twin) into typed reports. A fast reader takes the
usual page column by column; anything else, or anything wrong, goes to a careful
line-by-line reader that names the first line it cannot read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import repeat
from operator import add, itemgetter
from typing import Final

from ..errors import ResponseFormatError
from ..models import DeliveryReport, DeliveryState, Details
from ._common import ReportPage, check_error, parse_decimal, parse_int, parse_time
from .codes import PROVIDER, describe_status

__all__ = ["PAGE_SIZE", "SPLIT_LINES", "parse_report_page"]

PAGE_SIZE: Final = 1000
"""Rows a status page holds at most."""

SPLIT_LINES: Final = 4 * PAGE_SIZE
"""Lines of a reply split at once; a reply with more (more blank lines than a page has
rows) is scanned for its non-blank lines instead, so that memory stays in proportion."""

_STATUS: Final = re.compile(r"-?[0-9]{1,12}")
_MAX_COST: Final = 24  # characters of a COST: a price, not a number to compute with
# A line that is not blank: more than spaces (and the "\r" of a CRLF line). Possessive,
# so that a line is looked at once wherever the scan is.
_NOT_BLANK: Final = re.compile(r"^(?! *+\r?$)[^\n]++", re.MULTILINE)
_NO_DETAILS: Final = Details()
_split = str.split
_strip = str.strip
_head, _tail = itemgetter(slice(None, -3)), itemgetter(slice(-3, None))
_SECONDS: Final = {f":{second:02d}": timedelta(seconds=second) for second in range(60)}


def _bad_line(number: int, line: str, why: str) -> ResponseFormatError:
    shown = repr(line[:80])
    if len(line) > 80 or len(shown) > 90:  # escapes (\t, \x00…) make a repr longer
        shown = shown[:90] + "…"
    return ResponseFormatError(
        f"unexpected getDeliveryStatus reply: line {number} {why}: {shown}", provider=PROVIDER
    )


# Each reads one field's text, stripped of spaces, or raises ResponseFormatError (the
# reason); both readers below use them, so they agree on what a field means.


def _count(line: str) -> int:
    return parse_int(line.strip(" \t"), "count", line)


def _status(code: str) -> tuple[DeliveryState, str, str]:
    """(state, code, description): in DeliveryReport's order."""
    code = code.strip(" ")
    if not _STATUS.fullmatch(code):
        why = f"STATUS {code[:20]!r} is not a code (up to 12 digits)"
        raise ResponseFormatError(why, provider=PROVIDER)
    state, description = describe_status(code)
    return state, code, description


def _cost(text: str) -> Decimal | None:
    text = text.strip(" ")
    if not text:
        return None
    try:
        if len(text) > _MAX_COST:
            raise ResponseFormatError("too long")
        return parse_decimal(text, "COST", text)
    except ResponseFormatError:
        why = f"COST {text[:20]!r} is not a number"
        raise ResponseFormatError(why, provider=PROVIDER) from None


def _time(text: str) -> datetime | None:
    try:
        return parse_time(text)
    except ResponseFormatError:
        why = f"SEND_TIME {text.strip()[:30]!r} is not a time"
        raise ResponseFormatError(why, provider=PROVIDER) from None


def _parse_times(texts: Iterable[str]) -> dict[str, datetime | None]:
    """:func:`parse_time` of each text, called once per distinct minute, not per text,
    when all end in ``:SS`` (``…HH:MM`` + SS seconds is what it would compute)."""
    texts = list(texts)
    tails = list(map(_tail, texts))
    if not _SECONDS.keys() >= set(tails):
        return dict(zip(texts, map(parse_time, texts), strict=True))
    heads = list(map(_head, texts))
    minutes = {head: parse_time(head + ":00") for head in set(heads)}
    sums = map(add, map(minutes.__getitem__, heads), map(_SECONDS.__getitem__, tails))
    return dict(zip(texts, sums, strict=True))


def _details(text: str) -> Details:
    text = text.strip(" ")
    return Details({"extra": text}) if text else _NO_DETAILS


def parse_report_page(text: str, batch_id: str) -> ReportPage:
    """One page of ``getDeliveryStatus.ashx`` or its MMS twin (spec 2.2, 2.3).

    The reply is text, one record a line::

        SMS_COUNT
        NAME<TAB>MOBILE<TAB>SEND_TIME<TAB>COST<TAB>STATUS[<TAB>EXTRA]
        …

    ``SMS_COUNT`` (the first non-empty line) is the batch's total, which becomes the
    page's ``count``; each further non-empty line a :class:`DeliveryReport` of the
    batch: ``mobile`` and ``name`` as given, ``status`` the raw ``STATUS`` with its
    ``state`` and ``description``, ``sent_at`` from ``SEND_TIME`` (Taipei time, empty:
    None), ``cost`` from ``COST`` as a Decimal (empty: None) and, where a sixth column
    is present and not empty, ``details["extra"]``. Fields are stripped of spaces and
    lines end in ``\\n`` or ``\\r\\n``; blank lines are skipped. An empty reply is
    an empty page, and an error code (``-101``, ``-306,message``…) raises its error.

    Raises:
        ResponseFormatError: a row that cannot be read (not 5 or 6 fields, no MOBILE,
            a STATUS that is not a code, an unreadable SEND_TIME or COST), named by its
            line number (1-based) with its start shown; a page of more than 1,000 rows.
            No row is ever dropped.
    """
    head = text.lstrip()
    if not head:
        return ReportPage(0, [])
    if head[0] == "-":
        check_error(text.strip())
    lines = text.split("\n", SPLIT_LINES)
    if len(lines) > SPLIT_LINES:
        return _read_rows(_non_blank(text), batch_id)
    page = _read_uniform(lines, batch_id)
    return page if page is not None else _read_rows(enumerate(lines, 1), batch_id)


def _non_blank(text: str) -> Iterator[tuple[int, str]]:
    """(number, line) of each non-blank line of a reply of thousands of lines."""
    number, seen = 1, 0
    for match in _NOT_BLANK.finditer(text):
        start = match.start()
        number += text.count("\n", seen, start)
        seen = start
        yield number, match.group()


def _read_uniform(lines: list[str], batch_id: str) -> ReportPage | None:
    """The fast reader of the usual page (the count on line 1, then rows all 5 or all
    6 fields wide), column by column: per row it only splits the line and builds the
    report; the rest is done once per column (a strip, if any field there is padded)
    or once per distinct STATUS, COST, SEND_TIME and EXTRA (a page has few of each).
    None for any other page or anything wrong: :func:`_read_rows` then reads it."""
    try:
        count = _count(lines[0])
    except ResponseFormatError:
        return None
    rows = list(filter(None, lines[1:]))
    if "\r" in rows:  # the blank lines of a CRLF page
        rows = list(filter("\r".__ne__, rows))
    n = len(rows)
    if not n:
        return ReportPage(count, [])
    if n > PAGE_SIZE:
        return None
    try:  # strict: every row as wide as the first
        columns = list(zip(*map(_split, rows, repeat("\t", n), repeat(6, n)), strict=True))
    except ValueError:
        return None
    if len(columns) not in (5, 6):
        return None
    names, mobiles, times, costs, statuses, *more = columns
    extras = more[0] if more else None
    joined = "\t".join(names)
    if joined[:1] == " " or joined[-1:] == " " or " \t" in joined or "\t " in joined:
        names = tuple(map(_strip, names, repeat(" ", n)))
    if " " in "".join(mobiles):
        mobiles = tuple(map(_strip, mobiles, repeat(" ", n)))
    if not all(mobiles):
        return None
    try:
        # The line's last field may still end in the "\r" of a CRLF line.
        described = {
            raw: _status(raw if extras is not None else raw.removesuffix("\r"))
            for raw in set(statuses)
        }
        amounts = {raw: _cost(raw) for raw in set(costs)}
        sent = _parse_times(set(times))
    except ResponseFormatError:
        return None
    codes: Iterable[str] = statuses
    if any(raw != code for raw, (_, code, _) in described.items()):
        codes = map({raw: code for raw, (_, code, _) in described.items()}.__getitem__, statuses)
    states = {raw: state for raw, (state, _, _) in described.items()}
    descriptions = {raw: description for raw, (_, _, description) in described.items()}
    args: list[Iterable[object]] = [
        repeat(batch_id, n),
        repeat(None, n),
        mobiles,
        names,
        map(states.__getitem__, statuses),
        codes,
        map(descriptions.__getitem__, statuses),
        map(sent.__getitem__, times),
        map(amounts.__getitem__, costs),
    ]
    if extras is not None:
        details = {raw: _details(raw.removesuffix("\r")) for raw in set(extras)}
        args += [repeat((), n), repeat(None, n), map(details.__getitem__, extras)]
    return ReportPage(count, list(map(DeliveryReport, *args)))


def _read_rows(lines: Iterable[tuple[int, str]], batch_id: str) -> ReportPage:
    """The careful reader, line by line: any padding, blank or CRLF lines, a mix of 5
    and 6 fields; raises on the first line it cannot read, naming it."""
    count: int | None = None
    reports: list[DeliveryReport] = []
    append = reports.append
    described: dict[str, tuple[DeliveryState, str, str]] = {}
    amounts: dict[str, Decimal | None] = {}
    sent: dict[str, datetime | None] = {}
    for number, raw in lines:
        line = raw.removesuffix("\r")
        if not line.strip(" "):
            continue
        if count is None:
            try:
                count = _count(line)
            except ResponseFormatError:
                raise _bad_line(number, line, "is not the count of reports") from None
            continue
        if len(reports) == PAGE_SIZE:
            raise _bad_line(number, line, f"is a row more than the {PAGE_SIZE} a page holds")
        fields = line.split("\t", 6)
        if len(fields) == 5:
            name, mobile, when, cost, status = fields
            extra = _NO_DETAILS
        elif len(fields) == 6:
            name, mobile, when, cost, status, more = fields
            extra = _details(more)
        else:
            width = {1: "1 field (no TAB)", 7: "7 or more fields"}.get(len(fields))
            why = f"has {width or f'{len(fields)} fields'}, not 5 or 6 TAB-separated"
            raise _bad_line(number, line, f"{why} (NAME MOBILE SEND_TIME COST STATUS [EXTRA])")
        mobile = mobile.strip(" ")
        if not mobile:
            raise _bad_line(number, line, "has no MOBILE")
        try:
            if (code := described.get(status)) is None:
                code = described[status] = _status(status)
            try:
                amount = amounts[cost]
            except KeyError:
                amount = amounts[cost] = _cost(cost)
            try:
                at = sent[when]
            except KeyError:
                at = sent[when] = _time(when)
        except ResponseFormatError as exc:
            raise _bad_line(number, line, f"cannot be read ({exc.message})") from None
        row = (batch_id, None, mobile, name.strip(" "), *code, at, amount, (), None, extra)
        append(DeliveryReport(*row))
    return ReportPage(count or 0, reports)
