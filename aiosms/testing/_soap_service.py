"""Serving ASMX-style SOAP 1.1/1.2, for any simulated provider that speaks it.

EVERY8D's Web Services and SMSCenter's web services are both .NET ASMX services: a
``POST`` of a SOAP envelope whose Body holds one ``<operation>`` element in the
service's namespace, answered by ``<operationResponse><operationResult>…``. This module
does that part once, with the namespace and the operation table as parameters:

* :func:`parse_soap_request` turns the HTTP request into a :class:`SoapRequest`
  (Content-Type → SOAP version, the hardened parse, Envelope/Body, the operation
  element, the SOAPAction or ``action=`` check, the arguments), or raises
  :class:`SoapFault`;
* :func:`result_response` and :func:`fault_response` build the answers;
* :func:`serve_soap` wires those to :class:`~aiosms.testing.Faults`: one call does
  everything an endpoint's ``handle`` needs.

A provider's endpoint keeps only what is its own: the operation table, the path, its
call log.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Final, TypeAlias, cast

import attrs
from aiohttp import web
from lxml import etree

from .._soap import SOAP11_NS, SOAP12_NS, SoapVersion, safe_fromstring, soap_action
from ..errors import ResponseFormatError
from ._faults import FaultPlan, Faults

__all__ = [
    "SOAP_CONTENT_TYPES",
    "SoapChildren",
    "SoapFault",
    "SoapOperation",
    "SoapRequest",
    "SoapResult",
    "fault_envelope",
    "fault_response",
    "parse_soap_request",
    "result_envelope",
    "result_response",
    "serve_soap",
]

_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_XSD = "http://www.w3.org/2001/XMLSchema"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

SOAP_CONTENT_TYPES: Final[Mapping[SoapVersion, str]] = {
    "1.1": "text/xml; charset=utf-8",
    "1.2": "application/soap+xml; charset=utf-8",
}
"""The Content-Type an answer in each SOAP version carries."""

SoapChildren: TypeAlias = Sequence[tuple[str, "str | SoapChildren"]]
"""Child elements, in order: ``(name, text)`` for a simple one, ``(name, children)`` for
one with elements of its own (all in the service namespace); a name may repeat (an
array's items)."""

SoapResult: TypeAlias = str | Mapping[str, str] | SoapChildren | None
"""What an operation answers: the ``<opResult>`` text; child elements of ``<opResult>``
(a mapping name → text, or :data:`SoapChildren` for nested or repeated ones, in the
service namespace, in order); or ``None`` for no ``<opResult>`` at all (how ASMX answers
a null string)."""


def _envelope_ns(version: SoapVersion) -> str:
    return SOAP11_NS if version == "1.1" else SOAP12_NS


class SoapFault(Exception):
    """A request that is not a valid call: answered with a SOAP fault (HTTP 500).

    Attributes:
        message: the fault's text.
        version: the SOAP version to answer in (1.1 when the request's is unknown).
    """

    def __init__(self, message: str, version: SoapVersion = "1.1") -> None:
        super().__init__(message)
        self.message = message
        self.version: SoapVersion = version


@attrs.frozen
class SoapOperation:
    """One operation of a service's table.

    Attributes:
        run: carries the operation out: arguments (child element name → text) in,
            the result out; it raises :class:`SoapFault` for arguments ASMX would not
            deserialize.
        busy: the "busy" answer, for operations that have one (a
            :meth:`~aiosms.testing.Faults.busy` rule then applies to them), else
            ``None``.
    """

    run: Callable[[Mapping[str, str]], SoapResult]
    busy: Callable[[], SoapResult] | None = None


@attrs.frozen
class SoapRequest:
    """A parsed SOAP call.

    Attributes:
        version: ``"1.1"`` or ``"1.2"``, as the Content-Type said.
        operation: the local name of the Body's operation element.
        args: its child elements in the service namespace, local name → text ("" when
            empty), in document order.
        call: the operation element itself, for operations with structured arguments.
        path: the HTTP request path.
    """

    version: SoapVersion
    operation: str
    args: dict[str, str]
    call: etree._Element = attrs.field(repr=False, eq=False)
    path: str = ""


def _parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    mime, _, rest = value.partition(";")
    params: dict[str, str] = {}
    for part in rest.split(";"):
        key, sep, val = part.partition("=")
        if sep:
            params[key.strip().lower()] = val.strip().strip('"')
    return mime.strip().lower(), params


def parse_soap_request(
    headers: Mapping[str, str],
    body: bytes,
    *,
    namespace: str,
    operations: Mapping[str, object],
    path: str = "",
) -> SoapRequest:
    """Parse an ASMX SOAP call to one of ``operations`` in ``namespace``.

    ``headers`` is looked up by ``"Content-Type"`` and ``"SOAPAction"`` (pass aiohttp's
    case-insensitive ``request.headers``). The action, when the request gives one
    (SOAP 1.1 must), has to name the Body's operation.

    Raises:
        SoapFault: no or another Content-Type, malformed XML (or a DTD), no
            Envelope/Body, an empty Body, an unknown operation or namespace, a missing
            (SOAP 1.1) or mismatched action.
    """
    raw_type = headers.get("Content-Type")
    if not raw_type:
        raise SoapFault("the request has no Content-Type; expected a SOAP envelope")
    mime, type_params = _parse_content_type(raw_type)
    version: SoapVersion
    if mime == "text/xml":
        version = "1.1"
    elif mime == "application/soap+xml":
        version = "1.2"
    else:
        raise SoapFault(
            f"unsupported Content-Type {mime!r}; expected text/xml (SOAP 1.1) "
            "or application/soap+xml (SOAP 1.2)"
        )
    env_ns = _envelope_ns(version)
    try:
        root = safe_fromstring(body)
    except ResponseFormatError as exc:
        raise SoapFault(f"malformed SOAP envelope: {exc.message}", version) from None
    if root.tag != f"{{{env_ns}}}Envelope":
        raise SoapFault(f"expected a SOAP {version} Envelope ({env_ns}), got <{root.tag}>", version)
    soap_body = root.find(f"{{{env_ns}}}Body")
    if soap_body is None:
        raise SoapFault("the SOAP envelope has no Body", version)
    call = next((child for child in soap_body if isinstance(child.tag, str)), None)
    if call is None:
        raise SoapFault("the SOAP Body is empty", version)
    qname = etree.QName(call)
    operation = qname.localname
    if qname.namespace != namespace or operation not in operations:
        raise SoapFault(
            f"Server did not recognize the request element <{call.tag}>; operations "
            f"are {', '.join(operations)} in namespace {namespace!r}",
            version,
        )
    expected = soap_action(operation, namespace)
    if version == "1.1":
        action = headers.get("SOAPAction")
        if action is None:
            raise SoapFault(
                "Unable to handle request without a valid action parameter. "
                "Please supply a valid soap action.",
                version,
            )
    else:
        action = type_params.get("action")
    if action is not None and action.strip().strip('"') != expected:
        raise SoapFault(
            f"Server did not recognize the value of the SOAP action: {action!r} does "
            f"not match the body element {operation} (expected {expected!r})",
            version,
        )
    args: dict[str, str] = {}
    for child in call:
        if not isinstance(child.tag, str):
            continue
        child_name = etree.QName(child)
        if child_name.namespace == namespace:
            args[child_name.localname] = child.text or ""
    return SoapRequest(version, operation, args, call, path)


def _envelope(version: SoapVersion) -> tuple[etree._Element, etree._Element]:
    env_ns = _envelope_ns(version)
    envelope = etree.Element(
        f"{{{env_ns}}}Envelope", nsmap={"soap": env_ns, "xsi": _XSI, "xsd": _XSD}
    )
    return envelope, etree.SubElement(envelope, f"{{{env_ns}}}Body")


def result_envelope(
    version: SoapVersion, namespace: str, operation: str, result: SoapResult
) -> bytes:
    """``<opResponse xmlns=namespace><opResult>result</opResult></opResponse>`` in an
    ASMX-shaped envelope (``soap``, ``xsi`` and ``xsd`` prefixes declared on it)."""
    envelope, soap_body = _envelope(version)
    # lxml-stubs type nsmap keys as str, but None (the default namespace) is valid.
    default_ns = cast("dict[str, str]", {None: namespace})
    response = etree.SubElement(soap_body, f"{{{namespace}}}{operation}Response", nsmap=default_ns)
    if result is not None:
        element = etree.SubElement(response, f"{{{namespace}}}{operation}Result")
        if isinstance(result, str):
            element.text = result
        elif isinstance(result, Mapping):
            for name, text in result.items():
                etree.SubElement(element, f"{{{namespace}}}{name}").text = text
        else:
            _add_children(element, namespace, result)
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


def _add_children(parent: etree._Element, namespace: str, children: SoapChildren) -> None:
    for name, value in children:
        child = etree.SubElement(parent, f"{{{namespace}}}{name}")
        if isinstance(value, str):
            child.text = value
        else:
            _add_children(child, namespace, value)


def result_response(
    version: SoapVersion, namespace: str, operation: str, result: SoapResult
) -> web.Response:
    """HTTP 200 with :func:`result_envelope`."""
    return web.Response(
        body=result_envelope(version, namespace, operation, result),
        headers={"Content-Type": SOAP_CONTENT_TYPES[version]},
    )


def fault_envelope(version: SoapVersion, message: str) -> bytes:
    """A client-side SOAP fault: ``soap:Client`` (1.1) or ``soap:Sender`` (1.2)."""
    env_ns = _envelope_ns(version)
    envelope, soap_body = _envelope(version)
    fault = etree.SubElement(soap_body, f"{{{env_ns}}}Fault")
    if version == "1.1":
        etree.SubElement(fault, "faultcode").text = "soap:Client"
        etree.SubElement(fault, "faultstring").text = message
        etree.SubElement(fault, "detail")
    else:
        code = etree.SubElement(fault, f"{{{env_ns}}}Code")
        etree.SubElement(code, f"{{{env_ns}}}Value").text = "soap:Sender"
        reason = etree.SubElement(fault, f"{{{env_ns}}}Reason")
        text = etree.SubElement(reason, f"{{{env_ns}}}Text")
        text.set(_XML_LANG, "en")
        text.text = message
        etree.SubElement(fault, f"{{{env_ns}}}Detail")
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


def fault_response(version: SoapVersion, message: str) -> web.Response:
    """HTTP 500 with :func:`fault_envelope`, as ASMX answers a bad call."""
    return web.Response(
        body=fault_envelope(version, message),
        status=500,
        headers={"Content-Type": SOAP_CONTENT_TYPES[version]},
    )


async def serve_soap(
    request: web.Request,
    *,
    namespace: str,
    operations: Mapping[str, SoapOperation],
    faults: Faults,
    on_call: Callable[[SoapRequest, FaultPlan], None] | None = None,
) -> web.StreamResponse:
    """Answer one HTTP request to an ASMX endpoint.

    Anything but ``POST`` gets 405; a request that is not a valid call gets a SOAP fault
    and is not an operation (no faults drawn, ``on_call`` not called). Otherwise the
    faults for the operation are drawn, ``on_call`` is told (for a call log), and the
    operation runs under them (:meth:`~aiosms.testing.Faults.serve`): a ``busy`` fault
    answers the operation's :attr:`SoapOperation.busy` instead of running it. An
    operation that raises :class:`SoapFault` (an argument ASMX could not deserialize,
    such as ``<Int64>abc</Int64>``) is answered with that fault.
    """
    if request.method != "POST":
        return web.Response(
            status=405,
            text="405 Method Not Allowed: POST a SOAP envelope\n",
            headers={"Allow": "POST"},
        )
    body = await request.read()
    try:
        call = parse_soap_request(
            request.headers, body, namespace=namespace, operations=operations, path=request.path
        )
    except SoapFault as fault:
        return fault_response(fault.version, fault.message)
    operation = operations[call.operation]
    plan = faults.take(call.operation, busy_capable=operation.busy is not None)
    if on_call is not None:
        on_call(call, plan)

    def process() -> web.StreamResponse:
        try:
            if plan.busy and operation.busy is not None:
                result = operation.busy()
            else:
                result = operation.run(call.args)
        except SoapFault as fault:  # e.g. an argument that is not of its type
            return fault_response(call.version, fault.message)
        return result_response(call.version, namespace, call.operation, result)

    return await faults.serve(request, plan, process)
