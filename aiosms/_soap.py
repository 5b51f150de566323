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


def _fault(body: etree._Element, env_ns: str, provider: str | None) -> ProviderError:
    if env_ns == SOAP11_NS:
        code = (body.findtext("faultcode") or "").strip()
        text = (body.findtext("faultstring") or "").strip()
    else:
        code = (body.findtext(f"{{{env_ns}}}Code/{{{env_ns}}}Value") or "").strip()
        text = (body.findtext(f"{{{env_ns}}}Reason/{{{env_ns}}}Text") or "").strip()
    return ProviderError(f"SOAP fault: {text or 'no reason given'}", provider=provider, code=code)


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
    if tag == f"{{{SOAP11_NS}}}Envelope":
        env_ns = SOAP11_NS
    elif tag == f"{{{SOAP12_NS}}}Envelope":
        env_ns = SOAP12_NS
    else:
        raise ResponseFormatError(
            f"expected a SOAP envelope, got <{tag}>; starts {_snippet(data)!r}", provider=provider
        )
    body = root.find(f"{{{env_ns}}}Body")
    if body is None:
        raise ResponseFormatError("SOAP envelope has no Body", provider=provider)
    fault = body.find(f"{{{env_ns}}}Fault")
    if fault is not None:
        raise _fault(fault, env_ns, provider)
    response = body.find(f"{{{namespace}}}{operation}Response")
    if response is None:
        raise ResponseFormatError(
            f"SOAP Body has no {operation}Response in namespace {namespace!r}", provider=provider
        )
    result = response.find(f"{{{namespace}}}{operation}Result")
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
