"""OpenTelemetry spans and counters for every provider call, and DEBUG logs, carry no
password, key, session key, message text or phone number."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import aiosms
from aiosms.testing import Simulator

PASSWORD, TEXT, NUMBER = "s3cret-pa&ss", "Your code is 482913, 驗證碼", "0912345670"
SPANS = InMemorySpanExporter()
METRICS = InMemoryMetricReader()


def _unset_providers() -> None:
    """Put the API's "no provider set" state back (through its private globals: it lets
    a process set its providers once), so that no other test records or pays for spans."""
    for module, name in ((trace, "_TRACER_PROVIDER"), (metrics._internal, "_METER_PROVIDER")):
        setattr(module, name, None)
        getattr(module, f"{name}_SET_ONCE")._done = False


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Spans and metrics recorded for this test only."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(SPANS))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[METRICS]))
    SPANS.clear()
    try:
        yield SPANS
    finally:
        _unset_providers()
        assert not aiosms._telemetry.enabled()


def counters() -> dict[str, int]:
    data = METRICS.get_metrics_data()
    found: dict[str, int] = {}
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found[metric.name] = sum(
                    int(getattr(p, "value", 0)) for p in metric.data.data_points
                )
    return found


async def test_every_call_is_a_span_with_names_and_codes_only(
    spans: InMemorySpanExporter,
) -> None:
    async with Simulator(delivery_time=0.05) as sim:
        sim.every8d.add_account("acme", PASSWORD)
        async with aiosms.Every8dSoapClient("acme", PASSWORD, base_url=sim.url) as sms:
            result = await sms.send(TEXT, to=NUMBER)
            assert result.batch_id is not None
            async for _change in sms.watch(result.batch_id, interval=0.02, timeout=10):
                pass
            sim.faults.drop(operation="sendSMS", after_processing=True)
            with pytest.raises(aiosms.SendOutcomeUnknownError):
                await sms.send(TEXT, to=NUMBER)
            key = sim.every8d.account("acme").session_key
        async with aiosms.EimsClient("demo", "wrong", base_url=sim.url) as eims:
            with pytest.raises(aiosms.AuthenticationError):
                await eims.balance()
    finished = spans.get_finished_spans()
    names = {s.name for s in finished}
    assert {"aiosms every8d getConnection", "aiosms every8d sendSMS"} <= names
    assert "aiosms every8d getDeliveryStatus" in names
    assert "aiosms eims getbalance" in names
    send = next(s for s in finished if s.name == "aiosms every8d sendSMS")
    assert send.attributes is not None
    assert send.attributes["aiosms.send"] is True
    assert send.attributes["http.response.status_code"] == 200
    assert send.attributes["aiosms.attempts"] == 1
    lost = [s for s in finished if s.attributes and s.attributes.get("error.type")]
    assert {s.attributes["error.type"] for s in lost if s.attributes} >= {
        "SendOutcomeUnknownError", "AuthenticationError",
    }  # fmt: skip
    refused = next(s for s in lost if s.name == "aiosms eims getbalance")
    assert refused.attributes is not None
    assert refused.attributes["aiosms.provider_code"] == "-1"
    allowed = {
        "aiosms.provider", "aiosms.operation", "aiosms.send", "aiosms.attempts",
        "http.response.status_code", "error.type", "aiosms.provider_code",
    }  # fmt: skip
    for span in finished:
        attributes = dict(span.attributes or {})
        assert set(attributes) <= allowed, span.name
        shown = " ".join(f"{span.name} {v}" for v in attributes.values())
        for secret in (PASSWORD, "wrong", key or "?", TEXT, "482913", NUMBER, "912345670"):
            assert secret not in shown, (span.name, secret)
    seen = counters()
    assert seen["aiosms.requests"] >= len(finished)
    assert seen["aiosms.sends.outcome_unknown"] >= 1
    assert seen["aiosms.session.renewals"] >= 1
    assert seen["aiosms.watch.polls"] >= 1


async def test_debug_logs_hold_no_text_or_number_unless_asked(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiosms")
    async with (
        Simulator() as sim,
        aiosms.Every8dHttpClient("demo", "demo-password", base_url=sim.url) as sms,
    ):
        await sms.send(TEXT, to=NUMBER)
        assert " bytes>" in caplog.text  # the exchange is logged, its body is not
        for private in (TEXT, "482913", NUMBER, "demo-password"):
            assert private not in caplog.text
        caplog.clear()
        monkeypatch.setattr(aiosms._bodies, "LOG_BODIES", [True])  # aiosms.log_bodies(True)
        await sms.send("opted in", to=NUMBER)
        assert "opted+in" in caplog.text or "opted in" in caplog.text
        assert "demo-password" not in caplog.text  # still masked
    aiosms.log_bodies(False)
    assert aiosms._bodies.LOG_BODIES[0] is False


def test_nothing_is_recorded_until_the_application_sets_a_provider() -> None:
    import subprocess
    import sys

    code = (
        "import aiosms._telemetry as t; print(t.enabled());"
        "from opentelemetry import trace; from opentelemetry.sdk.trace import TracerProvider;"
        "trace.set_tracer_provider(TracerProvider()); print(t.enabled())"
    )
    command = [sys.executable, "-c", code]
    out = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
    assert out.stdout.split() == ["False", "True"]  # the API's no-op costs sends nothing
