"""SOAP 1.1/1.2 envelopes built and parsed with lxml; no I/O here.

ASMX services (EVERY8D, SMSCenter) wrap each operation's result as a string in
``<opResponse><opResult>…</opResult></opResponse>``; that string is often itself an
XML document, which :func:`parse_inner_xml` reads.

Every parse goes through one hardened lxml parser: no entity resolution, no DTD
loading, no network, no huge trees, and any document with a DOCTYPE is refused before
libxml2 sees it, so hostile replies (external entities, entity-expansion bombs) end in a
:class:`~aiosms.errors.ResponseFormatError` at once.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable
from typing import Literal

from lxml import etree

from .errors import InvalidRequestError, ProviderError, ResponseFormatError

__all__ = [
    "DEFAULT_NAMESPACE",
    "SOAP11_NS",
    "SOAP12_NS",
    "SoapVersion",
    "build_envelope",
    "parse_envelope",
    "parse_inner_xml",
    "safe_fromstring",
    "soap_action",
    "soap_headers",
]

SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
DEFAULT_NAMESPACE = "http://tempuri.org/"

SoapVersion = Literal["1.1", "1.2"]

_ENVELOPE_NS: dict[str, str] = {"1.1": SOAP11_NS, "1.2": SOAP12_NS}
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_XSD = "http://www.w3.org/2001/XMLSchema"

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
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    text = " ".join(text[:limit].split())
    return text + ("…" if len(data) > limit else "")


def safe_fromstring(data: bytes | str, *, provider: str | None = None) -> etree._Element:
    """Parse ``data`` with the hardened parser; refuse DTDs and malformed XML.

    Raises:
        ResponseFormatError: the document is malformed, declares a DTD, or is too deep/large.
    """
    has_doctype = (b"<!DOCTYPE" in data) if isinstance(data, bytes) else ("<!DOCTYPE" in data)
    if has_doctype:
        raise ResponseFormatError("refused an XML reply that declares a DTD", provider=provider)
    try:
        root = etree.fromstring(data, _parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise ResponseFormatError(
            f"malformed XML reply: {exc.args[0] if exc.args else exc}; starts {_snippet(data)!r}",
            provider=provider,
        ) from None
    if getattr(
        root.getroottree().docinfo, "doctype", ""
    ):  # e.g. a UTF-16 document that hid its DOCTYPE
        raise ResponseFormatError("refused an XML reply that declares a DTD", provider=provider)
    return root


def soap_action(operation: str, namespace: str = DEFAULT_NAMESPACE) -> str:
    """The SOAPAction of an ASMX operation: the namespace joined with the operation name."""
    sep = "" if namespace.endswith("/") else "/"
    return f"{namespace}{sep}{operation}"


def soap_headers(
    operation: str, *, namespace: str = DEFAULT_NAMESPACE, version: SoapVersion = "1.1"
) -> dict[str, str]:
    """HTTP headers for a SOAP call: ``text/xml`` + ``SOAPAction`` (1.1) or
    ``application/soap+xml; action=…`` (1.2)."""
    action = soap_action(operation, namespace)
    if version == "1.1":
        return {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'}
    if version == "1.2":
        return {"Content-Type": f'application/soap+xml; charset=utf-8; action="{action}"'}
    raise InvalidRequestError(f"soap_version must be '1.1' or '1.2', not {version!r}")


def build_envelope(
    operation: str,
    params: Iterable[tuple[str, str]],
    *,
    namespace: str = DEFAULT_NAMESPACE,
    version: SoapVersion = "1.1",
) -> bytes:
    """Build the UTF-8 bytes of a document/literal SOAP envelope calling ``operation``.

    ``params`` are (name, text) pairs, in the order the service's WSDL lists them.

    Raises:
        InvalidRequestError: a value holds characters XML cannot carry (e.g. NUL).
    """
    try:
        env_ns = _ENVELOPE_NS[version]
    except KeyError:
        raise InvalidRequestError(f"soap_version must be '1.1' or '1.2', not {version!r}") from None
    params = tuple(params)
    # Fast path, byte-for-byte the lxml output: lxml writes the envelope once per
    # (operation, parameter names) as a cached template; plain values are escaped into it.
    if type(operation) is str and type(namespace) is str:
        texts = _plain_texts(params)
        if texts is not None:
            names = tuple([name for name, _ in params])
            parts = _envelope_template(operation, names, namespace, env_ns)
            if parts is not None:
                out = [parts[0]]
                for text, part in zip(texts, parts[1:], strict=True):
                    out.append(text)
                    out.append(part)
                return "".join(out).encode("utf-8")
    return _build_envelope_lxml(operation, params, namespace, env_ns)


def _build_envelope_lxml(
    operation: str, params: Iterable[tuple[str, str]], namespace: str, env_ns: str
) -> bytes:
    envelope = etree.Element(
        f"{{{env_ns}}}Envelope", nsmap={"xsi": _XSI, "xsd": _XSD, "soap": env_ns}
    )
    body = etree.SubElement(envelope, f"{{{env_ns}}}Body")
    call = etree.SubElement(
        body,
        f"{{{namespace}}}{operation}",
        nsmap={None: namespace},  # type: ignore[dict-item]
    )
    try:
        for name, value in params:
            etree.SubElement(call, f"{{{namespace}}}{name}").text = value
    except ValueError as exc:
        raise InvalidRequestError(
            f"{operation}: {name} holds characters XML cannot carry ({exc})"
        ) from None
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


# Text made only of XML characters is written by lxml with exactly &, <, > and CR
# escaped (checked against lxml for every such character); anything else (NUL, lone
# surrogates, U+FFFE, non-str values) takes the lxml path, which accepts or refuses it.
_PLAIN_TEXT = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")
_MARKER = "\ue000"


def _plain_texts(params: tuple[tuple[str, str], ...]) -> list[str] | None:
    """The values escaped as lxml writes them, or None where only lxml can decide."""
    texts = []
    try:
        for name, value in params:
            if type(name) is not str or type(value) is not str or not _PLAIN_TEXT.fullmatch(value):
                return None
            if "&" in value or "<" in value or ">" in value or "\r" in value:
                value = _escape_text(value)
            texts.append(value)
    except (TypeError, ValueError):  # not (name, value) pairs: let the lxml path decide
        return None
    return texts


def _escape_text(value: str) -> str:
    return (
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )


@functools.lru_cache(maxsize=256)
def _envelope_template(
    operation: str, names: tuple[str, ...], namespace: str, env_ns: str
) -> tuple[str, ...] | None:
    """The lxml-written envelope split around each parameter's text (None: use lxml)."""
    try:
        data = _build_envelope_lxml(operation, [(n, _MARKER) for n in names], namespace, env_ns)
    except (TypeError, ValueError):
        return None
    parts = tuple(data.decode("utf-8").split(_MARKER))
    return parts if len(parts) == len(names) + 1 else None


def _fault(body: etree._Element, env_ns: str, provider: str | None) -> ProviderError:
    if env_ns == SOAP11_NS:
        code = (body.findtext("faultcode") or "").strip()
        text = (body.findtext("faultstring") or "").strip()
    else:
        code = (body.findtext(f"{{{env_ns}}}Code/{{{env_ns}}}Value") or "").strip()
        text = (body.findtext(f"{{{env_ns}}}Reason/{{{env_ns}}}Text") or "").strip()
    return ProviderError(f"SOAP fault: {text or 'no reason given'}", provider=provider, code=code)


def _qname(namespace: str, name: str) -> str:
    """The tag lxml gives an element: ``{namespace}name``, or ``name`` with no namespace."""
    return f"{{{namespace}}}{name}" if namespace else name


# Envelope namespace -> (Envelope, Body, Fault) tags, as lxml spells them.
_ENVELOPE_TAGS = {
    ns: tuple(_qname(ns, n) for n in ("Envelope", "Body", "Fault")) for ns in (SOAP11_NS, SOAP12_NS)
}


@functools.lru_cache(maxsize=256)
def _result_tags(namespace: str, operation: str) -> tuple[str, str]:
    """The ``operationResponse`` and ``operationResult`` tags."""
    return _qname(namespace, f"{operation}Response"), _qname(namespace, f"{operation}Result")


def _first_child(parent: etree._Element, tag: str) -> etree._Element | None:
    """The first child with exactly this tag (a plain loop beats ``find``'s ElementPath)."""
    if len(parent) == 1:  # the usual case: no child iterator to set up
        child = parent[0]
        return child if child.tag == tag else None
    for child in parent:
        if child.tag == tag:
            return child
    return None


def parse_envelope(
    data: bytes,
    operation: str,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    provider: str | None = None,
) -> str:
    """Return the text of ``<operationResult>`` from a SOAP 1.1 or 1.2 response.

    A missing result element (ASMX's way of returning ``null``) gives ``""``.

    Raises:
        ProviderError: the envelope holds a ``Fault``.
        ResponseFormatError: it is not a SOAP envelope answering ``operation``.
    """
    root = safe_fromstring(data, provider=provider)
    tag = root.tag
    env_ns = tag[1 : tag.find("}")] if tag[:1] == "{" else ""
    tags = _ENVELOPE_TAGS.get(env_ns)
    if tags is None or tag != tags[0]:
        raise ResponseFormatError(
            f"expected a SOAP envelope, got <{tag}>; starts {_snippet(data)!r}", provider=provider
        )
    _, body_tag, fault_tag = tags
    body = _first_child(root, body_tag)
    if body is None:
        raise ResponseFormatError("SOAP envelope has no Body", provider=provider)
    response_tag, result_tag = _result_tags(namespace, operation)
    response = _first_child(body, response_tag)
    # A Fault can only be there if the response is not the Body's one child.
    fault = _first_child(body, fault_tag) if response is None or len(body) > 1 else None
    if fault is not None:
        raise _fault(fault, env_ns, provider)
    if response is None:
        raise ResponseFormatError(
            f"SOAP Body has no {operation}Response in namespace {namespace!r}", provider=provider
        )
    result = _first_child(response, result_tag)
    if result is None:
        return ""
    return result.text or ""


# Tags written with stray spaces, as in the providers' samples: "< NAME>", "</ SMS >".
_CDATA_SPLIT = re.compile(r"(<!\[CDATA\[.*?\]\]>)", re.S)
_LOOSE_TAG = re.compile(r"<\s*(/?)\s+(?=[A-Za-z_])")


def _tighten_tags(text: str) -> str:
    parts = _CDATA_SPLIT.split(text)
    # Even indexes are outside CDATA sections; leave CDATA content untouched.
    for i in range(0, len(parts), 2):
        parts[i] = _LOOSE_TAG.sub(r"<\1", parts[i])
    return "".join(parts)


def parse_inner_xml(text: str, *, provider: str | None = None) -> etree._Element:
    """Parse an XML document carried as a result string.

    The XML declaration is dropped (the text is already decoded, and the providers'
    samples write it as ``version=" 1.0"``); tags with stray spaces (``< NAME>``,
    ``</ SMS >``) are tolerated.
    """
    doc = text.lstrip()
    if doc.startswith("<?xml"):
        end = doc.find("?>")
        if end < 0:
            raise ResponseFormatError("unterminated XML declaration", provider=provider)
        doc = doc[end + 2 :]
    try:
        return safe_fromstring(doc, provider=provider)
    except ResponseFormatError:
        tightened = _tighten_tags(doc)
        if tightened == doc:
            raise
        return safe_fromstring(tightened, provider=provider)
