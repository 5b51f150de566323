"""XML replies read with one hardened lxml parser; no I/O here.

Every parse goes through one hardened lxml parser: no entity resolution, no DTD
loading, no network, no huge trees, and any document with a DOCTYPE is refused before
libxml2 sees it, so hostile replies (external entities, entity-expansion bombs) end in a
:class:`~aiosms.errors.ResponseFormatError` at once (:func:`safe_fromstring`).

Every step is linear in the reply's length: libxml2's own parse is linear (depth, names
and texts capped as below), the checks around it are substring searches, and
:func:`parse_inner_xml`'s one fallback, for documents carried as a result string with
the providers' loose tags, is three regex passes with no quantifier that can give back
what it consumed (the reasoning is at :func:`_tighten_tags`). :mod:`aiosms._soap`
builds and reads the SOAP envelopes around them.
"""

from __future__ import annotations

import re
import threading
from typing import Final

from lxml import etree

from .errors import ResponseFormatError

__all__ = ["MAX_XML_TEXT", "parse_inner_xml", "safe_fromstring"]

MAX_XML_TEXT: Final = 10_000_000
"""The longest text a reply may hold in one node, in UTF-8 bytes (after unescaping).

It is libxml2's limit on one text node (``XML_MAX_TEXT_LENGTH``; the same figure caps an
attribute value, a CDATA section, a comment and a start tag) when ``huge_tree`` is off,
which we keep: ``huge_tree`` would lift every other limit that keeps hostile replies
cheap too (nesting depth, name lengths). A longer text is refused with a
:class:`~aiosms.errors.ResponseFormatError` that names this limit.

EVERY8D's result string is one text node holding a whole (escaped) XML document, so an
inner document read by :func:`parse_inner_xml` is at most this long as well, and
:func:`parse_inner_xml` refuses a longer one before parsing. A UTF-8 reply's texts are
never longer than the reply itself (markup and escapes only add bytes), so a transport
that refuses replies longer than this never lets one through that this limit refuses;
with a larger response cap, a reply between the two is refused by this limit instead.
"""

# lxml parsers are not thread-safe; keep one per thread.
_local = threading.local()


def _parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            collect_ids=False,
            remove_comments=True,
            remove_pis=True,
        )
        _local.parser = parser
    return parser


def _snippet(data: bytes | str, limit: int = 80) -> str:
    """The first ``limit`` characters of ``data``, whitespace squeezed, for a message.

    Only the first ``4 * limit`` bytes are decoded (no UTF-8 character is longer), so a
    message about a 10 MB reply costs no more than one about a short one.
    """
    head = data[: 4 * limit]
    text = head.decode("utf-8", "replace") if isinstance(head, bytes) else head
    cut = len(text) > limit or len(data) > len(head)
    return " ".join(text[:limit].split()) + ("…" if cut else "")


# libxml2's messages for its resource limits (huge_tree off), as this version and older
# ones word them, and what each means for the reply.
_LIMIT_MESSAGES = (
    (
        ("Text node too long", "huge text node"),
        f"a text in the reply is longer than {MAX_XML_TEXT:,} bytes, "
        "the XML parser's limit (MAX_XML_TEXT)",
    ),
    (
        ("Buffer size limit exceeded", "AttValue length too long", "too big found"),
        f"a tag, attribute value, CDATA section or comment in the reply is longer than "
        f"{MAX_XML_TEXT:,} bytes, the XML parser's limit (MAX_XML_TEXT)",
    ),
    (
        ("Excessive depth",),
        "the reply nests elements deeper than 256 levels, the XML parser's limit",
    ),
    (
        ("Name too long",),
        "a tag or attribute name in the reply is longer than 50,000 bytes, the XML parser's limit",
    ),
)


def _limit_hit(exc: Exception) -> str | None:
    """What an lxml error means when it is one of the parser's size limits, else None."""
    detail = str(exc.args[0]) if exc.args else ""
    for needles, meaning in _LIMIT_MESSAGES:
        if any(needle in detail for needle in needles):
            return meaning
    return None


def _parse_error(exc: Exception, data: bytes | str, provider: str | None) -> ResponseFormatError:
    """The ResponseFormatError for an lxml parse error (a limit named as such)."""
    meaning = _limit_hit(exc)
    if meaning is not None:
        return ResponseFormatError(f"refused the reply: {meaning}", provider=provider)
    detail = str(exc.args[0]) if exc.args else str(exc)
    return ResponseFormatError(
        f"malformed XML reply: {detail}; starts {_snippet(data)!r}", provider=provider
    )


_DTD_REFUSED = "refused an XML reply that declares a DTD"


def safe_fromstring(data: bytes | str, *, provider: str | None = None) -> etree._Element:
    """Parse ``data`` with the hardened parser; refuse DTDs and malformed XML.

    Linear in ``len(data)``: one substring search (the DOCTYPE check), then one libxml2
    parse, which caps nesting at 256 levels, names at 50,000 bytes and any one text at
    :data:`MAX_XML_TEXT` bytes.

    Raises:
        ResponseFormatError: the document is malformed, declares a DTD, or is too deep
            or holds a text longer than :data:`MAX_XML_TEXT` (the message says which).
    """
    # The same steps as _strict_parse, written out: this runs on every reply.
    has_doctype = (b"<!DOCTYPE" in data) if isinstance(data, bytes) else ("<!DOCTYPE" in data)
    if has_doctype:
        raise ResponseFormatError(_DTD_REFUSED, provider=provider)
    try:
        root = etree.fromstring(data, _parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise _parse_error(exc, data, provider) from None
    if getattr(
        root.getroottree().docinfo, "doctype", ""
    ):  # e.g. a UTF-16 document that hid its DOCTYPE
        raise ResponseFormatError(_DTD_REFUSED, provider=provider)
    return root


def _strict_parse(data: str, provider: str | None) -> etree._Element:
    """:func:`safe_fromstring`, but lxml's own errors reach the caller as they are."""
    if "<!DOCTYPE" in data:
        raise ResponseFormatError(_DTD_REFUSED, provider=provider)
    root = etree.fromstring(data, _parser())
    if getattr(root.getroottree().docinfo, "doctype", ""):
        raise ResponseFormatError(_DTD_REFUSED, provider=provider)
    return root


# The providers' samples write tags with stray spaces: "< NAME>", "</ SMS >". Outside
# CDATA sections, "<" + whitespace + a name start becomes "<" + the name, and "<" +
# [whitespace] + "/" + whitespace + a name start becomes "</" + the name ("< /SMS>" is
# not among the samples and stays refused). Whitespace is what ``\s`` matches.
#
# Every quantifier in the two tag patterns is possessive: no match attempt gives back
# a character it consumed. The CDATA pattern's lazy ".*?" is only ever run over text
# that ends at its last "]]>", where every "<![CDATA[" has a "]]>" after it, so each
# scan stops at the first "]]>" after its opener and is never retried.
_LOOSE_OPEN = re.compile(r"<\s++(?=[A-Za-z_])")
_LOOSE_CLOSE = re.compile(r"<\s*+/\s++(?=[A-Za-z_])")
_CDATA_SECTION = re.compile(r"(<!\[CDATA\[.*?\]\]>)", re.S)
_CDATA_END = "]]>"
_SEPARATOR = "\x00"  # never in an XML document, and no tag pattern can match across it


def _tighten_tags(text: str) -> str:
    r"""``text`` with loose tags tightened, CDATA sections left as they are.

    ``text`` must not hold NUL (no rewrite could make such a text XML). Three regex
    passes, each linear, and the splits and joins around them:

    1. The text is cut after its last ``]]>`` (one ``rfind``); before the cut, every
       ``<![CDATA[`` has a ``]]>`` after it (an opener holds no ``]``, so it cannot
       overlap that ``]]>``). :data:`_CDATA_SECTION` splits that part around its CDATA
       sections: each lazy scan ends at its section's first ``]]>`` and the search goes
       on past it, so every character is read once. After the cut no section can close:
       it is markup as it stands, and no CDATA pattern is ever run over it (the old
       rewrite was, from every unclosed opener to the end: quadratic).
    2. The markup pieces, joined by NUL (a match cannot span a NUL: it is not
       whitespace, "/" or a name start, so each piece is rewritten as if alone), get one
       :data:`_LOOSE_OPEN` and one :data:`_LOOSE_CLOSE` substitution. Their attempts
       start at a ``<`` (any other position fails on its first character) and read, with
       possessive quantifiers, the whitespace run after it, at most one ``/`` and a
       second run, then one character of lookahead; those runs hold no ``<``, so no two
       attempts read the same character. (The old pattern's adjacent ``\s*`` and ``\s+``
       backtracked through every split of a run: quadratic.) At any ``<`` at most one of
       the two can match, and tightening one leaves nothing the other could match, so
       the two passes do what one pass with both would.
    3. The pieces are split back at the NULs and put back between the CDATA sections.

    Every substitution is a literal string (no per-match Python work), and a tightened
    tag only ever loses characters, so the result is shorter than ``text`` exactly when
    a tag was tightened.
    """
    last = text.rfind(_CDATA_END)
    cut = last + len(_CDATA_END) if last >= 0 else 0
    parts = _CDATA_SECTION.split(text[:cut]) if cut else [""]
    parts[-1] += text[cut:]  # split's last piece is markup: the rest joins it
    markup = _SEPARATOR.join(parts[0::2])
    markup = _LOOSE_CLOSE.sub("</", _LOOSE_OPEN.sub("<", markup))
    parts[0::2] = markup.split(_SEPARATOR)
    return "".join(parts)


def _too_long(text: str) -> bool:
    """Whether ``text`` is longer than :data:`MAX_XML_TEXT` bytes in UTF-8.

    O(1) unless it holds between ``MAX_XML_TEXT / 4`` and ``MAX_XML_TEXT`` characters
    some of them not ASCII; then one encoding pass.
    """
    n = len(text)
    if n > MAX_XML_TEXT:
        return True
    if 4 * n <= MAX_XML_TEXT or text.isascii():
        return False
    return len(text.encode("utf-8", "surrogatepass")) > MAX_XML_TEXT


def parse_inner_xml(text: str, *, provider: str | None = None) -> etree._Element:
    """Parse an XML document carried as a result string.

    The XML declaration is dropped (the text is already decoded, and the providers'
    samples write it as ``version=" 1.0"``); tags with stray spaces (``< NAME>``,
    ``</ SMS >``) are tolerated.

    What one call can cost is capped: ``text`` may be at most :data:`MAX_XML_TEXT`
    bytes in UTF-8 (the longest text an envelope can carry in its result, so nothing an
    envelope delivers is refused here for its length); the strict parse comes first and
    is the only step for a well-formed document; only when it fails on malformed markup
    (not on a DTD, a NUL or one of the parser's limits) does the fallback run, once:
    :func:`_tighten_tags` (three linear regex passes), then, if it tightened any tag,
    one more strict parse. So a call costs at most two parses and three regex passes
    over at most :data:`MAX_XML_TEXT` bytes.

    Raises:
        ResponseFormatError: ``text`` is longer than :data:`MAX_XML_TEXT` bytes, declares
            a DTD, or is not XML even with its tags tightened.
    """
    if _too_long(text):
        raise ResponseFormatError(
            f"refused the result: it is longer than {MAX_XML_TEXT:,} bytes, "
            "the XML parser's limit on one text (MAX_XML_TEXT)",
            provider=provider,
        )
    doc = text.lstrip()
    if doc.startswith("<?xml"):
        end = doc.find("?>")
        if end < 0:
            raise ResponseFormatError("unterminated XML declaration", provider=provider)
        doc = doc[end + 2 :]
    try:
        return _strict_parse(doc, provider)
    except (etree.XMLSyntaxError, ValueError) as exc:
        if _limit_hit(exc) is not None:  # tightening tags cannot bring it under a limit
            raise _parse_error(exc, doc, provider) from None
        if _SEPARATOR in doc:  # NUL: no rewrite can make it XML
            raise _parse_error(exc, doc, provider) from None
        tightened = _tighten_tags(doc)
        if len(tightened) == len(doc):  # no loose tag: the strict parse's error stands
            raise _parse_error(exc, doc, provider) from None
    return safe_fromstring(tightened, provider=provider)
