"""(Issue 10) Building a SMSCenter ``SendMessageReturnMessageID`` envelope: aiosms vs zeep.

aiosms: ``smscenter.codec.build_send(...)`` (argument checks, number normalization,
the message option chosen by the text's SMS length, the delay in whole minutes) then
``_soap.build_envelope(call.operation, call.params, namespace=call.namespace)`` → bytes.
zeep: ``client.create_message(client.service, "SendMessageReturnMessageID", ...)`` from a
small ASMX-like document/literal WSDL in ``http://www.smscenter.co.il/`` (written to a
temp file; all 11 parameters, ``SMSOperation`` and ``MessageOption`` as plain strings)
then ``etree.tostring`` → bytes.

Both build the same message (username, password, sender, 3 Israeli numbers, a Hebrew
text of ~100 characters, a 90-minute delivery delay); the benchmark asserts that the two
envelopes carry the same 11 values. EVERY8D's ``sendSMS`` build (``bench_envelope_build``)
is timed in the same loops, taking turns with these two, and printed beside them.
Timeit-style loops, taking turns, best of the repeats (the garbage collector on, as
``bench_envelope_build`` has it); the median of each repetition's ratio (the two sides
timed next to each other) is printed too, as a check on a noisy machine.

Target: aiosms ≤ 0.3 × zeep (as EVERY8D's).
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lxml import etree

from aiosms._soap import build_envelope
from aiosms.smscenter import codec

from . import bench_envelope_build as every8d
from ._common import interleaved_min, median, result, spread, verdict

TARGET = 0.3
NUMBER = 2000
REPEAT = 5

NS = codec.NAMESPACE  # http://www.smscenter.co.il/
OPERATION = "SendMessageReturnMessageID"
USERNAME = "dental-clinic"
PASSWORD = "s3cr3t-Pa55"
SENDER = "DentaCare"
# 101 characters, Hebrew (UCS-2: over 70, so sent Concatenated), with digits and a dash.
TEXT = (
    "שלום דנה, התור שלך למרפאת השיניים נקבע ליום שלישי 14/10 בשעה 09:30. "
    "לביטול השיבי בטל או התקשרי 03-5551234."
)
NUMBERS = ("054-1234567", "+972521234567", "0507654321")
SEND_TO = "+972541234567,+972521234567,+972507654321"  # the same, as the service takes them
NOW = datetime(2030, 10, 13, 6, 0, 12, tzinfo=UTC)
AT = NOW + timedelta(minutes=90)

WSDL = f"""<?xml version="1.0" encoding="utf-8"?>
<wsdl:definitions xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:tns="{NS}" xmlns:s="http://www.w3.org/2001/XMLSchema"
    xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" targetNamespace="{NS}">
  <wsdl:types>
    <s:schema elementFormDefault="qualified" targetNamespace="{NS}">
      <s:element name="{OPERATION}">
        <s:complexType>
          <s:sequence>
            <s:element minOccurs="0" maxOccurs="1" name="Username" type="s:string"/>
            <s:element minOccurs="0" maxOccurs="1" name="Password" type="s:string"/>
            <s:element minOccurs="0" maxOccurs="1" name="SenderName" type="s:string"/>
            <s:element minOccurs="0" maxOccurs="1" name="SendToPhoneNumbers" type="s:string"/>
            <s:element minOccurs="0" maxOccurs="1" name="CCToEmail" type="s:string"/>
            <s:element minOccurs="0" maxOccurs="1" name="Message" type="s:string"/>
            <s:element minOccurs="0" maxOccurs="1" name="SMSOperation" type="s:string"/>
            <s:element minOccurs="1" maxOccurs="1" name="DeliveryDelayInMinutes" type="s:long"/>
            <s:element minOccurs="1" maxOccurs="1" name="ExpirationDelayInMinutes"
                type="s:long"/>
            <s:element minOccurs="0" maxOccurs="1" name="MessageOption" type="s:string"/>
            <s:element minOccurs="1" maxOccurs="1" name="Price" type="s:double"/>
          </s:sequence>
        </s:complexType>
      </s:element>
      <s:element name="{OPERATION}Response">
        <s:complexType>
          <s:sequence>
            <s:element minOccurs="0" maxOccurs="1" name="{OPERATION}Result"
                type="tns:SendMessageReturnMessageIDResult"/>
          </s:sequence>
        </s:complexType>
      </s:element>
      <s:complexType name="SendMessageReturnMessageIDResult">
        <s:sequence>
          <s:element minOccurs="0" maxOccurs="1" name="Response" type="s:string"/>
          <s:element minOccurs="0" maxOccurs="1" name="MessageID" type="s:string"/>
        </s:sequence>
      </s:complexType>
    </s:schema>
  </wsdl:types>
  <wsdl:message name="{OPERATION}SoapIn">
    <wsdl:part name="parameters" element="tns:{OPERATION}"/>
  </wsdl:message>
  <wsdl:message name="{OPERATION}SoapOut">
    <wsdl:part name="parameters" element="tns:{OPERATION}Response"/>
  </wsdl:message>
  <wsdl:portType name="SendMessageSoap">
    <wsdl:operation name="{OPERATION}">
      <wsdl:input message="tns:{OPERATION}SoapIn"/>
      <wsdl:output message="tns:{OPERATION}SoapOut"/>
    </wsdl:operation>
  </wsdl:portType>
  <wsdl:binding name="SendMessageSoap" type="tns:SendMessageSoap">
    <soap:binding transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="{OPERATION}">
      <soap:operation soapAction="{NS}{OPERATION}" style="document"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
      <wsdl:output><soap:body use="literal"/></wsdl:output>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="SendMessage">
    <wsdl:port name="SendMessageSoap" binding="tns:SendMessageSoap">
      <soap:address location="http://127.0.0.1{codec.SEND_PATH}"/>
    </wsdl:port>
  </wsdl:service>
</wsdl:definitions>
"""


def aiosms_build() -> bytes:
    call = codec.build_send(
        TEXT, NUMBERS, username=USERNAME, password=PASSWORD, sender=SENDER, now=NOW, at=AT
    )
    return build_envelope(call.operation, call.params, namespace=call.namespace)


def _zeep_builder(wsdl_path: Path):
    import zeep

    client = zeep.Client(str(wsdl_path))
    service = client.service
    # What a zeep user passes: the values as the service takes them, made once.
    delay = round((AT - NOW).total_seconds() / 60)

    def zeep_build() -> bytes:
        message = client.create_message(
            service,
            OPERATION,
            Username=USERNAME,
            Password=PASSWORD,
            SenderName=SENDER,
            SendToPhoneNumbers=SEND_TO,
            CCToEmail="",
            Message=TEXT,
            SMSOperation="Push",
            DeliveryDelayInMinutes=delay,
            ExpirationDelayInMinutes=0,
            MessageOption="Concatenated",
            Price=0.0,
        )
        return etree.tostring(message, xml_declaration=True, encoding="utf-8")

    return zeep_build


def _same_message(ours: bytes, theirs: bytes) -> dict[str, str]:
    """Both envelopes must carry the same 11 values under http://www.smscenter.co.il/."""

    def values(data: bytes) -> dict[str, str]:
        call = etree.fromstring(data).find(f".//{{{NS}}}{OPERATION}")
        assert call is not None, data[:200]
        assert all(etree.QName(el).namespace == NS for el in call), data[:400]
        return {etree.QName(el).localname: el.text or "" for el in call}

    a, b = values(ours), values(theirs)
    if a != b or len(a) != 11:
        raise AssertionError(f"the envelopes differ: aiosms {a} vs zeep {b}")
    return a


def main(number: int = NUMBER, repeat: int = REPEAT) -> dict:
    with tempfile.TemporaryDirectory(prefix="aiosms-bench-") as tmp:
        wsdl_path = Path(tmp) / "SendMessage.asmx.wsdl"
        wsdl_path.write_text(WSDL, encoding="utf-8")
        every8d_wsdl = Path(tmp) / "SMS.asmx.wsdl"
        every8d_wsdl.write_text(every8d.WSDL, encoding="utf-8")
        zeep_build = _zeep_builder(wsdl_path)
        every8d_zeep = every8d._zeep_builder(every8d_wsdl)
        sent = _same_message(aiosms_build(), zeep_build())
        assert sent["DeliveryDelayInMinutes"] == "90", sent
        assert sent["MessageOption"] == "Concatenated", sent
        every8d._same_message(every8d.aiosms_build(), every8d_zeep())
        times = interleaved_min(
            {
                "aiosms": aiosms_build,
                "zeep": zeep_build,
                "every8d_aiosms": every8d.aiosms_build,
                "every8d_zeep": every8d_zeep,
            },
            number=number,
            repeat=repeat,
        )
    us = {name: min(t) * 1e6 for name, t in times.items()}
    ratio = us["aiosms"] / us["zeep"]
    every8d_ratio = us["every8d_aiosms"] / us["every8d_zeep"]
    paired = median([a / b for a, b in zip(times["aiosms"], times["zeep"], strict=True)])
    every8d_paired = median(
        [a / b for a, b in zip(times["every8d_aiosms"], times["every8d_zeep"], strict=True)]
    )
    passed = ratio <= TARGET
    line = (
        f"SMSCenter envelope build: aiosms {us['aiosms']:.1f} µs, zeep {us['zeep']:.1f} µs, "
        f"ratio {ratio:.2f} (target ≤ {TARGET}) {verdict(passed)}; EVERY8D sendSMS in the "
        f"same loops: aiosms {us['every8d_aiosms']:.1f} µs, zeep {us['every8d_zeep']:.1f} µs, "
        f"ratio {every8d_ratio:.2f}  [best of {len(times['zeep'])} × {number}; median of the "
        f"paired ratios: SMSCenter {paired:.2f}, EVERY8D {every8d_paired:.2f}; "
        + ", ".join(f"{name} {spread([t * 1e6 for t in ts])} µs" for name, ts in times.items())
        + "]"
    )
    return result(
        "smscenter_build",
        line,
        value=ratio,
        target=f"≤ {TARGET}",
        passed=passed,
        aiosms_us=us["aiosms"],
        zeep_us=us["zeep"],
        paired_median=paired,
        every8d_ratio=every8d_ratio,
        every8d_paired_median=every8d_paired,
        every8d_aiosms_us=us["every8d_aiosms"],
        every8d_zeep_us=us["every8d_zeep"],
    )


if __name__ == "__main__":
    main()
