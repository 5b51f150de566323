"""aiosms._soap against hostile replies: every parse linear, one limit for texts.

Nothing here is timed. Linearity is guarded by what can be counted: how many regex
calls and parses one reply costs, which text each regex is handed, and that no regex
run over a reply holds a quantifier that can give back what it consumed (except the
lazy scan of a CDATA section, handed only text where every section closes); the
rewrite's output is checked against a plain reference model and the old rewrite.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterator
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from aiosms import _soap, _xml
from aiosms.errors import ResponseFormatError
from aiosms.every8d.soap_codec import parse_connection, parse_delivery_status

FUZZ = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MAX = 10_000_000  # libxml2's XML_MAX_TEXT_LENGTH, written out: the constant must equal it
CDATA_OPEN, CDATA_CLOSE = "<![CDATA[", "]]>"

# ----------------------------------------------------------------------- reference models

_NAME_START = set(string.ascii_letters + "_")


def reference_tighten(text: str) -> str:
    """The rule, one character at a time (quadratic on unclosed CDATA: tests only).

    Outside CDATA sections (an opener up to the first "]]>" after it; an opener with no
    "]]>" after it opens nothing), "<" + whitespace + a name start becomes "<", and
    "<" + [whitespace] + "/" + whitespace + a name start becomes "</".
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text.startswith(CDATA_OPEN, i):
            end = text.find(CDATA_CLOSE, i + len(CDATA_OPEN))
            if end >= 0:
                out.append(text[i : end + len(CDATA_CLOSE)])
                i = end + len(CDATA_CLOSE)
                continue
        if text[i] == "<":
            j = i + 1
            while j < n and text[j].isspace():
                j += 1
            k, slash = j, j < n and text[j] == "/"
            if slash:
                k += 1
                while k < n and text[k].isspace():
                    k += 1
            gap = k - (j + 1) if slash else j - (i + 1)  # whitespace before the name
            if gap > 0 and k < n and text[k] in _NAME_START:
                out.append("</" if slash else "<")
                i = k
                continue
        out.append(text[i])
        i += 1
    return "".join(out)


_OLD_CDATA_SPLIT = re.compile(r"(<!\[CDATA\[.*?\]\]>)", re.S)
_OLD_LOOSE_TAG = re.compile(r"<\s*(/?)\s+(?=[A-Za-z_])")


def old_tighten(text: str) -> str:
    """The rewrite as it was before it was made linear (what must still be accepted)."""
    parts = _OLD_CDATA_SPLIT.split(text)
    for i in range(0, len(parts), 2):
        parts[i] = _OLD_LOOSE_TAG.sub(r"<\1", parts[i])
    return "".join(parts)


PIECES = st.sampled_from(
    ["<", "/", " ", "  ", "\t", "\n", "\u3000", "\x85", "a", "Z", "_", "1", "-", ">", "!",
     "]", "]]", CDATA_OPEN, CDATA_CLOSE, "<![CDATA", "< NAME>", "</ SMS >", "< /x"]
)  # fmt: skip
LOOSE_TEXT = st.lists(PIECES, max_size=40).map("".join)


@FUZZ
@given(text=LOOSE_TEXT)
def test_tightening_is_the_reference_rule(text: str) -> None:
    assert _xml._tighten_tags(text) == reference_tighten(text)


@FUZZ
@given(text=LOOSE_TEXT)
def test_tightening_accepts_exactly_what_the_old_rewrite_accepted(text: str) -> None:
    assert _xml._tighten_tags(text) == old_tighten(text)


@pytest.mark.parametrize(
    ("loose", "tight"),
    [
        ("< NAME>", "<NAME>"),
        ("<  MOBILE >", "<MOBILE >"),
        ("</ SMS >", "</SMS >"),
        ("<  / MOBILE>", "</MOBILE>"),
        ("<\t\n_x/>", "<_x/>"),
        ("<\u3000NAME>", "<NAME>"),  # \s is Unicode whitespace, as it always was
        ("< /SMS>", "< /SMS>"),  # no space after the slash: never tightened
        ("< 1>", "< 1>"),  # not a name start
        ("<![CDATA[< NAME>]]>< NAME>", "<![CDATA[< NAME>]]><NAME>"),
        ("<![CDATA[< NAME>", "<![CDATA[<NAME>"),  # unclosed: opens no section
        ("<![CDATA[a]]>< b<![CDATA[< c", "<![CDATA[a]]><b<![CDATA[<c"),
    ],
)
def test_tightening_examples(loose: str, tight: str) -> None:
    assert _xml._tighten_tags(loose) == tight == reference_tighten(loose)


# ----------------------------------------------------------------------- counting


def backtracking_repeats(pattern: re.Pattern[str]) -> list[tuple[Any, ...]]:
    """The repeats in ``pattern`` that may give back what they matched.

    A possessive repeat never does, nor does one of fixed count; every other one does.
    """
    found: list[tuple[Any, ...]] = []

    def walk(items: Any) -> None:
        for op, av in items:
            if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
                low, high, sub = av
                if low != high:
                    found.append((op, low, high, list(sub)))
                walk(sub)
            elif op == sre_constants.POSSESSIVE_REPEAT:
                walk(av[2])
            elif op == sre_constants.SUBPATTERN:
                walk(av[-1])
            elif op == sre_constants.BRANCH:
                for branch in av[1]:
                    walk(branch)
            elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
                walk(av[1])
            elif op == sre_constants.ATOMIC_GROUP:
                walk(av)

    walk(sre_parse.parse(pattern.pattern, pattern.flags))
    return found


_LAZY_ANY = (sre_constants.MIN_REPEAT, 0, sre_constants.MAXREPEAT, [(sre_constants.ANY, None)])


def every_cdata_closes(text: str) -> bool:
    last = text.rfind(CDATA_OPEN)
    return last < 0 or text.find(CDATA_CLOSE, last + len(CDATA_OPEN)) >= 0


class RecordingPattern:
    """A compiled pattern that records each call (method, the text it was handed)."""

    def __init__(self, pattern: re.Pattern[str], calls: list[tuple[re.Pattern[str], str]]):
        self._pattern = pattern
        self._calls = calls

    def __getattr__(self, method: str) -> Callable[..., Any]:
        real = getattr(self._pattern, method)

        def call(*args: Any, **kwargs: Any) -> Any:
            texts = [a for a in args if isinstance(a, str) and a is not self._pattern.pattern]
            self._calls.append((self._pattern, texts[-1] if texts else ""))
            return real(*args, **kwargs)

        return call


@pytest.fixture
def regex_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[re.Pattern[str], str]]:
    """Every compiled regex of aiosms._soap and aiosms._xml, recorded while it runs."""
    calls: list[tuple[re.Pattern[str], str]] = []
    for module, name, value in [(m, n, v) for m in (_soap, _xml) for n, v in vars(m).items()]:
        if isinstance(value, re.Pattern):
            monkeypatch.setattr(module, name, RecordingPattern(value, calls))
    return calls


def hostile_texts(n: int) -> Iterator[str]:
    """Inner documents that cost the old rewrite O(n²); ``n`` characters or so each."""
    yield "<SMS_LOG><" + " " * n + "1"
    yield "<SMS_LOG><" + " " * n + "/" + " " * n
    yield "<SMS_LOG>" + CDATA_OPEN * (n // 9)
    yield "<SMS_LOG>< a" + CDATA_OPEN * (n // 9)
    yield "<SMS_LOG>" + "< a" * (n // 3)
    yield "<SMS_LOG>" + "<![CDATA[x]]>< " * (n // 15) + CDATA_OPEN * (n // 18)
    yield "< " * (n // 2)


HOSTILE_N = 20_000


@pytest.mark.parametrize("text", list(hostile_texts(HOSTILE_N)), ids=lambda t: repr(t[:14]))
def test_the_rewrite_is_one_backtrack_free_pass(
    text: str, regex_calls: list[tuple[re.Pattern[str], str]]
) -> None:
    """At most three regex calls, each handed at most as much text as the input, none
    of them able to backtrack: the lazy CDATA scan is only ever
    handed text where every CDATA section closes, so each scan stops at its section's
    end and is never repeated."""
    _xml._tighten_tags(text)
    assert 1 <= len(regex_calls) <= 3
    assert all(len(handed) <= len(text) for _, handed in regex_calls)
    for pattern, handed in regex_calls:
        repeats = backtracking_repeats(pattern)
        assert repeats in ([], [_LAZY_ANY]), f"{pattern.pattern!r} can backtrack: {repeats}"
        if repeats:
            assert "CDATA" in pattern.pattern
            assert every_cdata_closes(handed), f"{pattern.pattern!r} scans unclosed CDATA"


def test_the_loose_tag_patterns_cannot_backtrack() -> None:
    # Possessive throughout; the old pattern's adjacent \s* and \s+ could, quadratically.
    assert backtracking_repeats(_xml._LOOSE_OPEN) == []
    assert backtracking_repeats(_xml._LOOSE_CLOSE) == []
    assert len(backtracking_repeats(_OLD_LOOSE_TAG)) == 3


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The length of every document lxml is asked to parse while the test runs."""
    seen: list[int] = []
    real = etree.fromstring

    def counting(data: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(len(data))
        return real(data, *args, **kwargs)

    monkeypatch.setattr(etree, "fromstring", counting)
    return seen


@pytest.fixture
def tightenings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    seen: list[int] = []
    real = _xml._tighten_tags

    def counting(text: str) -> str:
        seen.append(len(text))
        return real(text)

    monkeypatch.setattr(_xml, "_tighten_tags", counting)
    return seen


@pytest.mark.parametrize("text", list(hostile_texts(HOSTILE_N)), ids=lambda t: repr(t[:14]))
def test_a_hostile_result_costs_at_most_two_parses_and_one_rewrite(
    text: str, parses: list[int], tightenings: list[int]
) -> None:
    with pytest.raises(ResponseFormatError):
        _soap.parse_inner_xml(text, provider="every8d")
    assert len(tightenings) <= 1
    assert len(parses) <= 2
    assert all(n <= len(text) for n in parses + tightenings)


def test_well_formed_xml_is_parsed_once_and_never_rewritten(
    parses: list[int], tightenings: list[int]
) -> None:
    _soap.parse_inner_xml('<?xml version="1.0"?><SMS><CODE>0</CODE></SMS>')
    assert (len(parses), tightenings) == (1, [])


@pytest.mark.parametrize(
    "text",
    [
        '<!DOCTYPE x [<!ENTITY e "e">]>< x>&e;</x>',  # a DTD is refused, not rewritten
        "<a>" * 300 + "< b>",  # too deep: tightening cannot help
        "<a>" + "x" * (MAX + 1) + "</a>< b>",  # a text over the limit
        "<a>\x00< b/></a>",  # NUL: no rewrite can make it XML
    ],
    ids=["dtd", "deep", "long-text", "nul"],
)
def test_refusals_that_tightening_cannot_fix_skip_the_fallback(
    text: str, parses: list[int], tightenings: list[int]
) -> None:
    with pytest.raises(ResponseFormatError):
        _soap.parse_inner_xml(text)
    assert tightenings == []
    assert len(parses) <= 1


def test_loose_tags_are_still_fixed_in_one_rewrite(
    parses: list[int], tightenings: list[int]
) -> None:
    root = _soap.parse_inner_xml("<R>" + "< a/>" * 5_000 + "</ R >")
    assert len(root) == 5_000
    assert (len(parses), len(tightenings)) == (2, 1)


# ----------------------------------------------------------------------- hostile replies


def _soap_reply(result: str) -> bytes:
    env = etree.Element(f"{{{_soap.SOAP11_NS}}}Envelope")
    body = etree.SubElement(env, f"{{{_soap.SOAP11_NS}}}Body")
    resp = etree.SubElement(body, "{http://tempuri.org/}getDeliveryStatusResponse")
    etree.SubElement(resp, "{http://tempuri.org/}getDeliveryStatusResult").text = result
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


SHAPES = {
    "lt-spaces": lambda n: "<SMS_LOG><" + " " * n + "1",
    "unclosed-cdata": lambda n: "<SMS_LOG>" + CDATA_OPEN * (n // 9),
    "loose-unclosed": lambda n: "<SMS_LOG>" + "< NAME" * (n // 6),
    "loose-close": lambda n: "<SMS_LOG>" + "</ " * (n // 3),
    "deep": lambda n: "<SMS_LOG>" + "<a>" * (n // 3),
    "deep-loose": lambda n: "<SMS_LOG>" + "< a>" * (n // 4),
    "attributes": lambda n: "<SMS_LOG " + "".join(f'a{i}="" ' for i in range(n // 8)),
    "cdata-then-loose": lambda n: "<SMS_LOG>" + "<![CDATA[]]>< " * (n // 14),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_hostile_results_are_refused_as_format_errors(shape: str) -> None:
    text = SHAPES[shape](100_000)
    for parse in (
        lambda: _soap.parse_inner_xml(text, provider="every8d"),
        lambda: parse_delivery_status(text, "b1"),
        lambda: parse_connection(text),
        lambda: parse_delivery_status(
            _soap.parse_envelope(_soap_reply(text), "getDeliveryStatus"), "b1"
        ),
    ):
        with pytest.raises(ResponseFormatError):
            parse()


# ----------------------------------------------------------------------- one text limit


def test_the_exported_limit_is_libxml2s() -> None:
    assert _soap.MAX_XML_TEXT == MAX
    assert "MAX_XML_TEXT" in _soap.__all__
    parser = _xml._parser()
    assert etree.fromstring(b"<a>" + b"x" * MAX + b"</a>", parser).text is not None
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(b"<a>" + b"x" * (MAX + 1) + b"</a>", parser)


def _escaped_inner(size: int, char: str = "x") -> str:
    """An inner document of exactly ``size`` UTF-8 bytes, one long text of ``char``."""
    frame = "<SMS><CODE>0</CODE><SESSION_KEY>k</SESSION_KEY><X></X></SMS>"
    room = size - len(frame.encode())
    width = len(char.encode())
    body = char * (room // width) + "y" * (room % width)
    doc = frame.replace("<X></X>", f"<X>{body}</X>")
    assert len(doc.encode()) == size
    return doc


@pytest.mark.parametrize("char", ["x", "中"])
def test_a_result_of_exactly_the_limit_parses(char: str) -> None:
    inner = _escaped_inner(MAX, char)
    text = _soap.parse_envelope(_soap_reply(inner), "getDeliveryStatus")
    assert text == inner
    assert len(_soap.parse_inner_xml(text).findtext("X") or "") > MAX // 4


@pytest.mark.parametrize("char", ["x", "中"])
def test_a_result_one_byte_over_the_limit_is_a_clear_format_error(char: str) -> None:
    data = _soap_reply(_escaped_inner(MAX + 1, char))
    with pytest.raises(ResponseFormatError, match="longer than 10,000,000 bytes") as info:
        _soap.parse_envelope(data, "getDeliveryStatus", provider="every8d")
    assert "XML parser's limit" in str(info.value)
    assert "XML_PARSE_HUGE" not in str(info.value)
    assert info.value.provider == "every8d"


@pytest.mark.parametrize("char", ["x", "中", "😀"])
def test_parse_inner_xml_takes_what_an_envelope_can_carry_and_no_more(
    char: str, parses: list[int]
) -> None:
    assert _soap.parse_inner_xml(_escaped_inner(MAX, char)).tag == "SMS"
    over = _escaped_inner(MAX + 1, char)
    with pytest.raises(ResponseFormatError, match="longer than 10,000,000 bytes"):
        _soap.parse_inner_xml(over)
    assert len(parses) == 1  # the one over the limit never reached the parser


def test_other_parser_limits_are_named_as_limits() -> None:
    cases = {
        b'<a x="' + b"v" * (MAX + 1) + b'"/>': "attribute value",
        b"<a>" * 300: "deeper than 256",
        b"<" + b"n" * 50_001 + b"/>": "50,000 bytes",
    }
    for data, meaning in cases.items():
        with pytest.raises(ResponseFormatError, match=meaning) as info:
            _soap.safe_fromstring(data)
        assert "XML_PARSE_HUGE" not in str(info.value)


def test_error_snippet_reads_only_the_start_of_a_huge_reply() -> None:
    huge = b"<html>  Bad   Gateway" + b"\xff" * MAX
    assert _xml._snippet(huge).startswith("<html> Bad Gateway")
    assert _xml._snippet(huge).endswith("…")
    assert _xml._snippet(b"<short/>") == "<short/>"
    assert _xml._snippet("中" * 100) == "中" * 80 + "…"
