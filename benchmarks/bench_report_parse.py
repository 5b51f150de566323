"""(c) Parsing one 1,000-row ``getDeliveryStatus`` reply: aiosms vs plain lxml.

aiosms: ``_soap.parse_envelope`` (hardened parser, fault check, unwrap) then
``codec.parse_delivery_status`` (inner XML → typed ``DeliveryReport``s with
``DeliveryState``, aware ``datetime``s, ``Decimal`` costs and ``Reply`` tuples).
The SENT_TIME cache is cleared before every call, so each call pays for its 1,000
distinct SENT_TIMEs as a fresh page would (the figure the target is checked on); the
figure with the cache warm (a page seen before, as ``watch()`` re-polls) is printed too.

Baseline: ``etree.fromstring`` of the envelope, find the Result text, strip the XML
declaration, ``etree.fromstring`` of the inner document, and one plain dict of strings
per SMS (tag → text; replies as a list of dicts).

Same bytes for both; timeit-style loops, taking turns, best of the repeats.

Target: aiosms ≤ 1.3 × baseline.
"""

from __future__ import annotations

from lxml import etree

from aiosms._soap import parse_envelope
from aiosms.every8d import _common
from aiosms.every8d import soap_codec as codec

from ._common import BATCH_ID, delivery_page, interleaved_min, result, soap_reply, spread, verdict

TARGET = 1.3
NUMBER = 20
REPEAT = 9
ROWS = 1000

_BODY = "{http://schemas.xmlsoap.org/soap/envelope/}Body"
_RESULT = (
    "{http://tempuri.org/}getDeliveryStatusResponse/{http://tempuri.org/}getDeliveryStatusResult"
)


def aiosms_parse(data: bytes) -> codec.ReportPage:
    """A fresh page: parse_time's minute cache is emptied first (the target uses this)."""
    _common._minute.cache_clear()
    return aiosms_parse_warm(data)


def aiosms_parse_warm(data: bytes) -> codec.ReportPage:
    """A page seen before (e.g. ``watch()`` polling again): its minutes are cached."""
    text = parse_envelope(data, "getDeliveryStatus", provider="every8d")
    return codec.parse_delivery_status(text, BATCH_ID)


def baseline_parse(data: bytes) -> list[dict]:
    body = etree.fromstring(data).find(_BODY)
    text = body.findtext(_RESULT)
    text = text.lstrip()
    if text.startswith("<?xml"):
        text = text[text.index("?>") + 2 :]
    root = etree.fromstring(text.encode())
    rows = []
    for sms in root.find("GET_DELIVERY_STATUS").iterchildren("SMS"):
        row: dict = {}
        replies = []
        for child in sms:
            if child.tag == "REPLY_SMS":
                replies.append({el.tag: el.text for el in child})
            else:
                row[child.tag] = child.text
        row["REPLY_SMS"] = replies
        rows.append(row)
    return rows


def main(number: int = NUMBER, repeat: int = REPEAT) -> dict:
    data = soap_reply("getDeliveryStatus", delivery_page(1, count=ROWS * 5))
    page = aiosms_parse(data)
    rows = baseline_parse(data)
    assert len(page.reports) == len(rows) == ROWS
    assert sum(len(r.replies) for r in page.reports) == sum(len(r["REPLY_SMS"]) for r in rows)
    times = interleaved_min(
        {
            "aiosms": lambda: aiosms_parse(data),
            "baseline": lambda: baseline_parse(data),
            "aiosms_warm": lambda: aiosms_parse_warm(data),
        },
        number=number,
        repeat=repeat,
    )
    ours = min(times["aiosms"]) * 1e3
    base = min(times["baseline"]) * 1e3
    warm = min(times["aiosms_warm"]) * 1e3
    ratio = ours / base
    passed = ratio <= TARGET
    line = (
        f"report parse ({ROWS} rows, {len(data) // 1024} KiB): aiosms {ours:.2f} ms, "
        f"lxml+dicts {base:.2f} ms, ratio {ratio:.2f} (target ≤ {TARGET}) {verdict(passed)}"
        f"  [best of {len(times['aiosms'])} × {number}; minutes cached (page seen "
        f"before): aiosms {warm:.2f} ms, ratio {warm / base:.2f}; "
        f"aiosms {spread([t * 1e3 for t in times['aiosms']])} ms, "
        f"baseline {spread([t * 1e3 for t in times['baseline']])} ms]"
    )
    return result(
        "report_parse",
        line,
        value=ratio,
        target=f"≤ {TARGET}",
        passed=passed,
        aiosms_ms=ours,
        baseline_ms=base,
        aiosms_warm_ms=warm,
    )


if __name__ == "__main__":
    main()
