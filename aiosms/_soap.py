"""SOAP 1.1/1.2 envelopes built and parsed with lxml; no I/O here.

ASMX services (EVERY8D, SMSCenter) wrap each operation's result in
``<opResponse><opResult>…</opResult></opResponse>``: a string (EVERY8D's, often itself
an XML document, which :func:`parse_inner_xml` reads) or a complex type (SMSCenter's,
read by :func:`parse_envelope_result` and :func:`child_text`).

Every reply is read by the one hardened, linear parser of :mod:`aiosms._xml`
(:func:`safe_fromstring`, :func:`parse_inner_xml` and :data:`MAX_XML_TEXT` are
re-exported here), so no reply, however hostile, can hold the event loop for longer
than a few plain parses of its size would.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Literal

from lxml import etree

from ._xml import MAX_XML_TEXT, _snippet, parse_inner_xml, safe_fromstring
from .errors import InvalidRequestError, ProviderError, ResponseFormatError

__all__ = [
    "DEFAULT_NAMESPACE",
    "MAX_XML_TEXT",
    "SOAP11_NS",
    "SOAP12_NS",
    "SoapVersion",
    "build_envelope",
    "child_text",
    "local_children",
    "parse_envelope",
    "parse_envelope_result",
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
    result = parse_envelope_result(data, operation, namespace=namespace, provider=provider)
    return "" if result is None else result.text or ""


def parse_envelope_result(
    data: bytes,
    operation: str,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    provider: str | None = None,
) -> etree._Element | None:
    """The ``<operationResult>`` element of a SOAP 1.1 or 1.2 response, for services
    whose results are complex types (SMSCenter's): read its children with
    :func:`child_text`. ``None`` when the response has no result (ASMX's ``null``).

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
    return _first_child(response, result_tag)


def local_children(parent: etree._Element) -> dict[str, etree._Element]:
    """``parent``'s child elements by local name (whatever namespace qualifies them;
    the first of each name), for results whose children a service qualifies in its
    own namespace."""
    found: dict[str, etree._Element] = {}
    for child in parent:
        tag = child.tag
        if isinstance(tag, str):  # not a comment or processing instruction
            found.setdefault(tag[tag.find("}") + 1 :] if tag[:1] == "{" else tag, child)
    return found


def child_text(parent: etree._Element, name: str) -> str | None:
    """The stripped text of ``parent``'s first child of local name ``name`` (any
    namespace); ``None`` when there is no such child."""
    child = local_children(parent).get(name)
    return None if child is None else (child.text or "").strip()
