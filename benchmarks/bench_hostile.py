"""(f) Hostile replies: every parse linear in its input.

Each shape of hostile (or merely huge) result text is built at 100 KB, 1 MB and 10 MB
(characters; all within ``MAX_XML_TEXT``) and run through the real entry points:

* ``envelope``: ``_soap.parse_envelope`` of a SOAP reply carrying it, escaped, as the
  ``getDeliveryStatus`` result, then ``parse_inner_xml`` of that result (the receive
  path); the envelope's bytes are up to 4 × the text (``<`` is ``&lt;``);
* ``raw``: ``parse_envelope`` of a reply whose Body holds the shape as markup;
* ``inner``: ``_soap.parse_inner_xml``;
* ``delivery``: ``every8d.soap_codec.parse_delivery_status``;
* ``connection``: ``every8d.soap_codec.parse_connection`` (the login path).

Every input must end parsed or refused with ``ResponseFormatError``; anything else is
an error. The figure per shape and size is the worst entry point's best time. Baseline,
measured in the same run: plain ``lxml.etree.fromstring`` of a valid
``getDeliveryStatus`` page of the same size.

Printed: worst ms per size, its ratio to the baseline, and its growth per 10× size
(linear ≈ 10; the old quadratic fallback gave ≈ 100 and took 8.7 s at 40 KB).

Target: from 1 MB to 10 MB, every shape's time grows slower than size^1.5, i.e. its
growth is ≤ 10^1.5 ≈ 31.6 (linear is 10, and memory effects alone take plain lxml to
about 12 here; any quadratic step would show as 100).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from lxml import etree

from aiosms import _soap
from aiosms.errors import ResponseFormatError
from aiosms.every8d.soap_codec import parse_connection, parse_delivery_status

from ._common import BATCH_ID, SOAP11_NS, delivery_page, result, soap_reply, verdict

EXPONENT = 1.5  # target: time grows slower than size ** EXPONENT
TARGET = 10**EXPONENT  # the growth that means, per 10× size
SIZES = (100_000, 1_000_000, 10_000_000)
RUNS = {100_000: 5, 1_000_000: 2, 10_000_000: 0}  # timed runs after the first; best taken
SLOW = 1.0  # seconds: a first call this slow is not run again (noise is small beside it)
CDATA = "<![CDATA["


def _fill(head: str, unit: str, n: int, tail: str = "") -> str:
    """``head`` + ``unit`` repeated + ``tail``, at most ``n`` characters in all."""
    return head + unit * ((n - len(head) - len(tail)) // len(unit)) + tail


def _attributes(n: int) -> str:
    parts, size, i = ["<SMS_LOG"], 8, 0
    while size + 16 < n:
        attribute = f' a{i}=""'
        parts.append(attribute)
        size += len(attribute)
        i += 1
    parts.append("/>")
    return "".join(parts)


# name -> result text of about n characters
SHAPES: dict[str, Callable[[int], str]] = {
    "'<' + spaces": lambda n: _fill("<SMS_LOG><", " ", n, "1"),
    "'<' + spaces '/' spaces": lambda n: (
        "<SMS_LOG><" + " " * (n // 2 - 6) + "/" + " " * (n // 2 - 6)
    ),
    "unclosed <![CDATA[ x N": lambda n: _fill("<SMS_LOG>", CDATA, n),
    "'< NAME' x N, unclosed": lambda n: _fill("<SMS_LOG>", "< NAME", n),
    "'< NAME/>' x N (valid loose)": lambda n: _fill("<SMS_LOG>", "< NAME/>", n, "</ SMS_LOG>"),
    "<![CDATA[]]> x N + '< a'": lambda n: _fill("<SMS_LOG>", "<![CDATA[]]>", n, "< a"),
    "'< ' x N": lambda n: _fill("", "< ", n),
    "'<' x N": lambda n: _fill("", "<", n),
    "deep <a> x N": lambda n: _fill("<SMS_LOG>", "<a>", n),
    "deep '< a>' x N": lambda n: _fill("<SMS_LOG>", "< a>", n),
    "many attributes": _attributes,
    "huge text node": lambda n: _fill(
        "<SMS_LOG><CODE>0</CODE><DESCRIPTION>", "x", n, "</DESCRIPTION></SMS_LOG>"
    ),
    "&amp; x N": lambda n: _fill(
        "<SMS_LOG><CODE>0</CODE><DESCRIPTION>", "&amp;", n, "</DESCRIPTION></SMS_LOG>"
    ),
    "'<!---->x' x N": lambda n: _fill(
        "<SMS_LOG><CODE>0</CODE><DESCRIPTION>", "<!---->x", n, "</DESCRIPTION></SMS_LOG>"
    ),
    "<SMS/> x N (huge page)": lambda n: _fill(
        '<SMS_LOG><CODE>0</CODE><GET_DELIVERY_STATUS COUNT="1">',
        "<SMS/>",
        n,
        "</GET_DELIVERY_STATUS></SMS_LOG>",
    ),
}


def _raw_reply(markup: str) -> bytes:
    return (
        f'<soap:Envelope xmlns:soap="{SOAP11_NS}"><soap:Body>{markup}</soap:Body></soap:Envelope>'
    ).encode()


ENTRY_POINTS = ("envelope", "raw", "inner", "delivery", "connection")


def entry_points(text: str) -> dict[str, Callable[[], Any]]:
    envelope = soap_reply("getDeliveryStatus", text)
    raw = _raw_reply(text)
    return {
        "envelope": lambda: _soap.parse_inner_xml(
            _soap.parse_envelope(envelope, "getDeliveryStatus", provider="every8d"),
            provider="every8d",
        ),
        "raw": lambda: _soap.parse_envelope(raw, "getDeliveryStatus", provider="every8d"),
        "inner": lambda: _soap.parse_inner_xml(text, provider="every8d"),
        "delivery": lambda: parse_delivery_status(text, BATCH_ID),
        "connection": lambda: parse_connection(text),
    }


def run_once(fn: Callable[[], Any]) -> tuple[float, str]:
    """Seconds for one call, and 'parsed' or 'refused' (ResponseFormatError); any other
    exception escapes."""
    start = time.perf_counter()
    try:
        fn()
    except ResponseFormatError:
        return time.perf_counter() - start, "refused"
    return time.perf_counter() - start, "parsed"


def timed(fn: Callable[[], Any], size: int) -> tuple[float, str]:
    """The best of a first call and the size's further runs, and the outcome."""
    best, said = run_once(fn)
    for _ in range(RUNS[size] if best < SLOW else 0):
        seconds, again = run_once(fn)
        assert again == said
        best = min(best, seconds)
    return best, said


def valid_page(size: int) -> bytes:
    """A valid getDeliveryStatus page (inner document) of about ``size`` bytes."""
    per_row = len(delivery_page(1, count=1000, rows=1000).encode()) / 1000
    rows = max(1, int(size / per_row))
    return delivery_page(1, count=rows, rows=rows).encode()


def main() -> dict:
    baseline: dict[int, float] = {}
    for size in SIZES:
        page = valid_page(size)
        baseline[size], _ = timed(lambda page=page: etree.fromstring(page), size)
    lxml_growth = baseline[SIZES[-1]] / baseline[SIZES[-2]]

    print(
        "worst = the slowest entry point's best time; × lxml = worst / plain "
        "lxml.etree.fromstring of a valid page of that size; growth = worst / worst at "
        "the size 10× smaller (linear ≈ 10, quadratic ≈ 100)"
    )
    print(
        f"{'shape':<30} {'size':>6} {'worst ms':>9} {'entry':>10} {'× lxml':>7} "
        f"{'growth':>6}  outcome"
    )
    for size in SIZES:
        print(
            f"{'baseline: valid page, lxml':<30} {_label(size):>6} "
            f"{baseline[size] * 1e3:>9.2f} {'fromstring':>10} {1.0:>7.1f}"
        )

    worst_growth = 0.0
    worst_ms: dict[str, dict[int, float]] = {}
    errors: list[str] = []
    for name, make in SHAPES.items():
        worst_ms[name] = {}
        previous: float | None = None
        for size in SIZES:
            text = make(size)
            assert len(text) <= size <= _soap.MAX_XML_TEXT, (name, len(text))
            points = entry_points(text)
            try:
                measured = {entry: timed(fn, size) for entry, fn in points.items()}
            except Exception as exc:  # anything but ResponseFormatError is a defect
                errors.append(f"{name} at {_label(size)}: {type(exc).__name__}: {exc}")
                print(f"{name:<30} {_label(size):>6}  ERROR {type(exc).__name__}: {exc}")
                previous = None
                continue
            times = {entry: seconds for entry, (seconds, _) in measured.items()}
            outcomes = {entry: said for entry, (_, said) in measured.items()}
            entry = max(times, key=times.__getitem__)
            worst = times[entry]
            growth = f"{worst / previous:>6.1f}" if previous else f"{'':>6}"
            if size == SIZES[-1] and previous:
                worst_growth = max(worst_growth, worst / previous)
            previous = worst
            worst_ms[name][size] = worst * 1e3
            parsed = [e for e, o in outcomes.items() if o == "parsed"]
            said = "refused by all" if not parsed else f"parsed by {', '.join(parsed)}"
            print(
                f"{name if size == SIZES[0] else '':<30} {_label(size):>6} {worst * 1e3:>9.2f} "
                f"{entry:>10} {worst / baseline[size]:>7.1f} {growth}  {said}",
                flush=True,
            )
    print(
        "entry points: envelope = parse_envelope of the reply carrying it + parse_inner_xml; "
        "raw = parse_envelope of a Body holding it as markup; inner = parse_inner_xml; "
        "delivery = parse_delivery_status; connection = parse_connection. "
        "refused = ResponseFormatError."
    )
    passed = not errors and worst_growth <= TARGET
    line = (
        f"hostile replies ({len(SHAPES)} shapes × {len(SIZES)} sizes × {len(ENTRY_POINTS)} "
        f"entry points): worst growth 1 MB → 10 MB {worst_growth:.1f} (target ≤ "
        f"{TARGET:.1f}; linear 10, plain lxml {lxml_growth:.1f}, quadratic 100)"
        f"{'; ' + str(len(errors)) + ' errors' if errors else ''} {verdict(passed)}"
    )
    return result(
        "hostile",
        line,
        value=worst_growth,
        target=f"≤ {TARGET:.1f}",
        passed=passed,
        baseline_ms={s: baseline[s] * 1e3 for s in SIZES},
        worst_ms=worst_ms,
    )


def _label(size: int) -> str:
    return f"{size // 1_000_000} MB" if size >= 1_000_000 else f"{size // 1000} KB"


if __name__ == "__main__":
    main()
