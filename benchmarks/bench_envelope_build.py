"""(b) Building a ``sendSMS`` envelope: aiosms vs zeep, no network.

aiosms: ``codec.build_send(...)`` (argument checks, recipient normalization, Taipei
send time) then ``_soap.build_envelope(op.name, op.with_key(key))`` → bytes.
zeep: ``client.create_message(client.service, "sendSMS", ...)`` from a small ASMX-like
document/literal WSDL (written to a temp file) then ``etree.tostring`` → bytes.

Both build the same message (session key, subject, Chinese content, mobile, send
time); timeit-style loops, taking turns, best of the repeats.

Target: aiosms ≤ 0.3 × zeep.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from lxml import etree

from aiosms._soap import build_envelope
from aiosms.every8d import _common
from aiosms.every8d import soap_codec as codec

from ._common import SESSION_KEY, interleaved_min, result, spread, verdict

TARGET = 0.3
NUMBER = 2000
REPEAT = 5

SUBJECT = "九月帳單通知"
TEXT = "親愛的王小明您好：您九月份的帳單金額為 NT$1,280，請於 10/15 前繳納。如已繳納請忽略本訊息。"
MOBILE = "+886912345678"
SEND_AT = datetime(2030, 9, 30, 1, 30, tzinfo=UTC)  # 2030/09/30 09:30 in Taipei

WSDL = """<?xml version="1.0" encoding="utf-8"?>
<wsdl:definitions xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:tns="http://tempuri.org/" xmlns:s="http://www.w3.org/2001/XMLSchema"
    xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" targetNamespace="http://tempuri.org/">
  <wsdl:types>
    <s:schema elementFormDefault="qualified" targetNamespace="http://tempuri.org/">
      <s:element name="sendSMS">
        <s:complexType>
          <s:sequence>
            <s:element minOccurs="0" maxOccurs="1" name="sessionKey" type="s:string"/>
            <s:element minOccurs="0" maxOccurs="1" name="subject" type="s:string"/>
            <s:element minOccurs="0" maxOccurs="1" name="content" type="s:string"/>
            <s:element minOccurs="0" maxOccurs="1" name="mobile" type="s:string"/>
            <s:element minOccurs="0" maxOccurs="1" name="sendTime" type="s:string"/>
          </s:sequence>
        </s:complexType>
      </s:element>
      <s:element name="sendSMSResponse">
        <s:complexType>
          <s:sequence>
            <s:element minOccurs="0" maxOccurs="1" name="sendSMSResult" type="s:string"/>
          </s:sequence>
        </s:complexType>
      </s:element>
    </s:schema>
  </wsdl:types>
  <wsdl:message name="sendSMSSoapIn">
    <wsdl:part name="parameters" element="tns:sendSMS"/>
  </wsdl:message>
  <wsdl:message name="sendSMSSoapOut">
    <wsdl:part name="parameters" element="tns:sendSMSResponse"/>
  </wsdl:message>
  <wsdl:portType name="SMSSoap">
    <wsdl:operation name="sendSMS">
      <wsdl:input message="tns:sendSMSSoapIn"/>
      <wsdl:output message="tns:sendSMSSoapOut"/>
    </wsdl:operation>
  </wsdl:portType>
  <wsdl:binding name="SMSSoap" type="tns:SMSSoap">
    <soap:binding transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="sendSMS">
      <soap:operation soapAction="http://tempuri.org/sendSMS" style="document"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
      <wsdl:output><soap:body use="literal"/></wsdl:output>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="SMS">
    <wsdl:port name="SMSSoap" binding="tns:SMSSoap">
      <soap:address location="http://127.0.0.1/API21/SOAP/SMS.asmx"/>
    </wsdl:port>
  </wsdl:service>
</wsdl:definitions>
"""


def aiosms_build() -> bytes:
    op = codec.build_send(TEXT, MOBILE, subject=SUBJECT, at=SEND_AT)
    return build_envelope(op.name, op.with_key(SESSION_KEY))


def _zeep_builder(wsdl_path: Path):
    import zeep

    client = zeep.Client(str(wsdl_path))
    service = client.service
    send_time = _common.format_send_time(SEND_AT)

    def zeep_build() -> bytes:
        message = client.create_message(
            service,
            "sendSMS",
            sessionKey=SESSION_KEY,
            subject=SUBJECT,
            content=TEXT,
            mobile=MOBILE,
            sendTime=send_time,
        )
        return etree.tostring(message, xml_declaration=True, encoding="utf-8")

    return zeep_build


def _same_message(ours: bytes, theirs: bytes) -> None:
    """Both envelopes must carry the same five values under http://tempuri.org/."""

    def values(data: bytes) -> dict[str, str]:
        call = etree.fromstring(data).find(".//{http://tempuri.org/}sendSMS")
        assert call is not None, data[:200]
        return {etree.QName(el).localname: el.text or "" for el in call}

    a, b = values(ours), values(theirs)
    if a != b:
        raise AssertionError(f"the envelopes differ: aiosms {a} vs zeep {b}")


def main(number: int = NUMBER, repeat: int = REPEAT) -> dict:
    with tempfile.TemporaryDirectory(prefix="aiosms-bench-") as tmp:
        wsdl_path = Path(tmp) / "SMS.asmx.wsdl"
        wsdl_path.write_text(WSDL, encoding="utf-8")
        zeep_build = _zeep_builder(wsdl_path)
        _same_message(aiosms_build(), zeep_build())
        times = interleaved_min(
            {"aiosms": aiosms_build, "zeep": zeep_build}, number=number, repeat=repeat
        )
    ours = min(times["aiosms"]) * 1e6
    theirs = min(times["zeep"]) * 1e6
    ratio = ours / theirs
    passed = ratio <= TARGET
    line = (
        f"envelope build: aiosms {ours:.1f} µs, zeep {theirs:.1f} µs, ratio {ratio:.2f} "
        f"(target ≤ {TARGET}) {verdict(passed)}  [best of {len(times['zeep'])} × {number}; "
        f"aiosms {spread([t * 1e6 for t in times['aiosms']])} µs, "
        f"zeep {spread([t * 1e6 for t in times['zeep']])} µs]"
    )
    return result(
        "envelope_build",
        line,
        value=ratio,
        target=f"≤ {TARGET}",
        passed=passed,
        aiosms_us=ours,
        zeep_us=theirs,
    )


if __name__ == "__main__":
    main()
