"""Every8dHttpClient end to end, against the simulator over loopback HTTP."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import anyio
import pytest

import aiosms
from aiosms import DeliveryState
from aiosms.testing import Simulator

USER, PASSWORD = "acme", "pa&ss=wörd+%?"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
GIF = b"GIF89a" + b"\x00" * 100


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(delivery_time=0.05) as simulator:
        simulator.every8d.add_account(USER, PASSWORD, credit=Decimal("100"))
        yield simulator


@pytest.fixture
async def sms(sim: Simulator) -> AsyncIterator[aiosms.Every8dHttpClient]:
    async with aiosms.Every8dHttpClient(USER, PASSWORD, base_url=sim.url) as client:
        yield client


def calls(sim: Simulator, operation: str) -> list[aiosms.testing.Every8dHttpCall]:
    return [c for c in sim.every8d_http.calls if c.operation == operation]


# ---------------------------------------------------------------------- sending


async def test_send_posts_a_form_and_returns_a_typed_result(
    sim: Simulator, sms: aiosms.Every8dHttpClient
) -> None:
    result = await sms.send("Your code is 1234", to=["+886912345670", "0922333441"])
    assert (result.sent, result.unsent, result.cost, result.credit) == (2, 0, Decimal(2), 98)
    assert isinstance(result.cost, Decimal)
    assert result.batch_id in sim.every8d.batches
    (call,) = calls(sim, "sendSMS.ashx")
    assert call.method == "POST"
    assert "PWD" not in call.query_keys
    assert "UID" not in call.query_keys
    assert call.params["PWD"] == PASSWORD  # arrived intact through the form encoding
    assert call.params["DEST"] == "+886912345670,0922333441"
    assert (call.params["ST"], call.params["RETRYTIME"]) == ("", "")
    assert await sms.balance() == Decimal(98)


async def test_unicode_text_arrives_exactly(sim: Simulator, sms: aiosms.Every8dHttpClient) -> None:
    text = "驗證碼 1234 — 👋 &=+%?# a+b\r\nline two"
    result = await sms.send(text, to="0912345670", subject="主旨 & more")
    assert result.batch_id is not None
    (recipient,) = sim.every8d.recipients(result.batch_id)
    assert recipient.text == text
    assert sim.every8d.batches[result.batch_id].subject == "主旨 & more"


async def test_at_is_taipei_time_and_validity_whole_minutes(
    sim: Simulator, sms: aiosms.Every8dHttpClient
) -> None:
    at = datetime(2031, 1, 31, 7, 30, tzinfo=UTC)
    await sms.send("later", to="0912345670", at=at, validity=timedelta(minutes=90, seconds=1))
    (call,) = calls(sim, "sendSMS.ashx")
    assert (call.params["ST"], call.params["RETRYTIME"]) == ("20310131153000", "91")


async def test_a_path_prefix_is_kept(sim: Simulator) -> None:
    url = f"{sim.url}/acme-corp/"
    async with aiosms.Every8dHttpClient(USER, PASSWORD, base_url=url) as sms:
        await sms.send("hi", to="0912345670")
    (call,) = calls(sim, "sendSMS.ashx")
    assert call.path == "/acme-corp/API21/HTTP/sendSMS.ashx"


async def test_bad_input_is_refused_before_any_request(
    sim: Simulator, sms: aiosms.Every8dHttpClient
) -> None:
    for bad in (
        lambda: sms.send("", to="0912345670"),
        lambda: sms.send("hi", to="12345"),
        lambda: sms.send("hi", to=[]),
        lambda: sms.send("hi", to="0912345670", at=datetime(2031, 1, 1)),
        lambda: sms.send("hi", to="0912345670", validity=timedelta(0)),
    ):
        with pytest.raises(aiosms.InvalidRequestError):
            await bad()
    assert sim.every8d_http.calls == []


async def test_no_credit_raises_insufficient_credit(sim: Simulator) -> None:
    sim.every8d.add_account("poor", "pw1", credit=Decimal(0))
    async with aiosms.Every8dHttpClient("poor", "pw1", base_url=sim.url) as sms:
        with pytest.raises(aiosms.InsufficientCreditError) as info:
            await sms.send("hi", to="0912345670")
    assert info.value.result is not None
    assert info.value.result.unsent == 1


async def test_check_credit_refuses_before_sending(sim: Simulator) -> None:
    sim.every8d.add_account("tight", "pw1", credit=Decimal(2))
    async with aiosms.Every8dHttpClient("tight", "pw1", base_url=sim.url) as sms:
        with pytest.raises(aiosms.InsufficientCreditError, match="check_credit"):
            await sms.send("hi", to=["0912345670", "+14155550100"], check_credit=True)
    assert calls(sim, "sendSMS.ashx") == []
    assert len(calls(sim, "getCredit.ashx")) == 1


async def test_a_refused_number_is_a_provider_error_with_its_message(
    sim: Simulator, sms: aiosms.Every8dHttpClient
) -> None:
    sim.faults.malformed(
        "-306,手機格式不符:+1-202-895-1800".encode(),
        operation="sendSMS.ashx",
        content_type="text/plain; charset=utf-8",
    )
    with pytest.raises(aiosms.ProviderError) as info:
        await sms.send("hi", to="+12028951800")
    assert info.value.code == "-306"
    assert info.value.provider_message == "手機格式不符:+1-202-895-1800"
    assert type(info.value) is aiosms.ProviderError


# ---------------------------------------------------------------------- MMS


async def test_mms_is_sent_with_its_picture_and_costs_three_points(
    sim: Simulator, sms: aiosms.Every8dHttpClient
) -> None:
    result = await sms.send_mms("看圖 🖼", to=["0912345670", "+886912345671"], image=PNG)
    assert (result.sent, result.cost, result.credit) == (2, Decimal(6), Decimal(94))
    (call,) = calls(sim, "MMS/sendMMS.ashx")
    assert call.path == "/API21/HTTP/MMS/sendMMS.ashx"
    assert call.params["TYPE"] == "png"
    import base64

    assert base64.b64decode(call.params["ATTACHMENT"]) == PNG
    assert result.batch_id is not None
    assert sim.every8d.batches[result.batch_id].kind == "mms"


async def test_mms_picture_from_a_path(
    sim: Simulator, sms: aiosms.Every8dHttpClient, tmp_path: Path
) -> None:
    picture = tmp_path / "logo.gif"
    picture.write_bytes(GIF)
    await sms.send_mms("", to="0912345670", image=picture, subject="Logo")
    (call,) = calls(sim, "MMS/sendMMS.ashx")
    assert (call.params["TYPE"], call.params["SB"]) == ("gif", "Logo")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"to": "+14155550100"}, "Taiwan"),
        ({"subject": "中" * 16}, "subject"),
        ({"subject": "a" * 96}, "subject"),
        ({"text": "x" * 4001}, "4,?000"),
        ({"image": b"\x89PNG\r\n\x1a\n" + b"\x00" * (50 * 1024)}, "50"),
        ({"image": b"not a picture"}, "image"),
        ({"image": PNG, "image_type": "bmp"}, "image_type|type"),
        ({"image": PNG, "image_type": "gif"}, "gif|png"),
        ({"image": "/nonexistent/picture.png"}, "cannot read"),
    ],
)
async def test_mms_refusals_make_no_request(
    sim: Simulator, sms: aiosms.Every8dHttpClient, kwargs: dict[str, object], match: str
) -> None:
    args: dict[str, object] = {"text": "hi", "to": "0912345670", "image": PNG} | kwargs
    with pytest.raises(aiosms.InvalidRequestError, match=match):
        await sms.send_mms(**args)  # type: ignore[arg-type]
    assert sim.every8d_http.calls == []


async def test_a_picture_file_over_the_limit_is_not_read(
    sim: Simulator, sms: aiosms.Every8dHttpClient, tmp_path: Path
) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * (60 * 1024))
    with pytest.raises(aiosms.InvalidRequestError, match="bytes"):
        await sms.send_mms("hi", to="0912345670", image=big)
    assert sim.every8d_http.calls == []


async def test_mms_reports_watch_and_cancel(sim: Simulator, sms: aiosms.Every8dHttpClient) -> None:
    sent = await sms.send_mms("now", to=["0912345670", "0912345671"], image=PNG)
    assert sent.batch_id is not None
    with anyio.fail_after(10):
        changes = [c async for c in sms.watch(sent.batch_id, interval=0.01, mms=True)]
    finals = {c.report.mobile: (c.state, c.report.status) for c in changes if c.state.is_final}
    assert finals == {
        "0912345670": (DeliveryState.DELIVERED, "700"),
        "0912345671": (DeliveryState.DELIVERED, "700"),
    }
    assert calls(sim, "getDeliveryStatus.ashx") == []  # only the MMS query was asked
    # The SMS query does not know an MMS batch.
    assert [r async for r in sms.delivery_reports(sent.batch_id)] == []

    later = await sms.send_mms(
        "later", to="0912345670", image=PNG, at=datetime.now(UTC) + timedelta(hours=2)
    )
    assert later.batch_id is not None
    states = {r.state async for r in sms.mms_delivery_reports(later.batch_id)}
    assert states == {DeliveryState.SCHEDULED}
    assert not (await sms.cancel(later.batch_id)).found  # the SMS cancel does not reach it
    cancelled = await sms.cancel_mms(later.batch_id)
    assert (cancelled.cancelled, cancelled.credit_returned) == (1, Decimal(3))
    states = {r.state async for r in sms.mms_delivery_reports(later.batch_id)}
    assert states == {DeliveryState.CANCELLED}


# ---------------------------------------------------------------------- reports


@pytest.mark.parametrize(("columns", "padded"), [(5, False), (6, True)])
async def test_reports_page_through_2500_rows_in_three_pages(
    sim: Simulator, sms: aiosms.Every8dHttpClient, columns: int, padded: bool
) -> None:
    sim.every8d_http.report_columns = columns
    sim.every8d_http.pad_reports = padded
    numbers = [f"09{i:08d}" for i in range(2500)]
    batch = sim.every8d.create_batch(USER, numbers, status="100")
    reports = [r async for r in sms.delivery_reports(batch)]
    assert [r.mobile for r in reports] == numbers
    assert {r.state for r in reports} == {DeliveryState.DELIVERED}
    assert all(r.batch_id == batch and r.sent_at is not None for r in reports)
    assert all(r.sent_at.tzinfo is not None for r in reports if r.sent_at)
    pages = [c.params["PNO"] for c in calls(sim, "getDeliveryStatus.ashx")]
    assert pages == ["1", "2", "3"]
    assert all(bool(r.details) is (columns == 6) for r in reports)


async def test_watch_to_final(sim: Simulator, sms: aiosms.Every8dHttpClient) -> None:
    numbers = ["0912345670", "0912345677", "0912345678", "0912345679"]
    result = await sms.send("hi", to=numbers)
    assert result.batch_id is not None
    with anyio.fail_after(10):
        changes = [c async for c in sms.watch(result.batch_id, interval=0.01)]
    final = {c.report.mobile: c.state for c in changes if c.state.is_final}
    assert final == {
        "0912345670": DeliveryState.DELIVERED,
        "0912345677": DeliveryState.FAILED,
        "0912345678": DeliveryState.FAILED,
        "0912345679": DeliveryState.EXPIRED,
    }
    assert not [k for k, n in Counter((c.report.mobile, c.state) for c in changes).items() if n > 1]


async def test_watch_many_sms_and_mms(sim: Simulator, sms: aiosms.Every8dHttpClient) -> None:
    first = await sms.send_mms("a", to="0912345670", image=PNG)
    second = await sms.send_mms("b", to="0912345671", image=GIF)
    assert first.batch_id
    assert second.batch_id
    seen = []
    with anyio.fail_after(10):
        async with sms.watch_many([first.batch_id], interval=0.01, mms=True) as changes:
            changes.add(second.batch_id)
            async for change in changes:
                seen.append((change.report.batch_id, change.state))
    finals = {batch for batch, state in seen if state is DeliveryState.DELIVERED}
    assert finals == {first.batch_id, second.batch_id}


async def test_scheduled_send_and_cancel(sim: Simulator, sms: aiosms.Every8dHttpClient) -> None:
    at = datetime.now(UTC) + timedelta(hours=2)
    result = await sms.send("later", to=["0912345670", "0912345671"], at=at)
    assert result.batch_id is not None
    assert {r.state async for r in sms.delivery_reports(result.batch_id)} == {
        DeliveryState.SCHEDULED
    }
    cancelled = await sms.cancel(result.batch_id)
    assert (cancelled.found, cancelled.cancelled, cancelled.credit_returned) == (
        True,
        2,
        Decimal(2),
    )
    assert await sms.balance() == Decimal(100)
    again = await sms.cancel(result.batch_id)  # an empty reply: nothing found, no error
    assert (again.found, again.cancelled) == (False, 0)


# ---------------------------------------------------------------------- one world


async def test_soap_and_http_clients_of_one_account_share_batches_and_credit(
    sim: Simulator,
) -> None:
    async with (
        aiosms.Every8dSoapClient(USER, PASSWORD, base_url=sim.url) as soap,
        aiosms.Every8dHttpClient(USER, PASSWORD, base_url=sim.url) as http,
    ):
        by_soap = await soap.send("via SOAP", to=["0912345670", "0912345671"])
        by_http = await http.send("via HTTP", to="0912345672")
        assert by_soap.batch_id
        assert by_http.batch_id
        assert await http.balance() == await soap.balance() == Decimal(97)
        over_http = [r.mobile async for r in http.delivery_reports(by_soap.batch_id)]
        over_soap = [r.mobile async for r in soap.delivery_reports(by_http.batch_id)]
    assert over_http == ["0912345670", "0912345671"]
    assert over_soap == ["0912345672"]


# ---------------------------------------------------------------------- credentials


async def test_a_wrong_password_makes_one_request_for_twenty_callers(sim: Simulator) -> None:
    async with aiosms.Every8dHttpClient(USER, "wrong", base_url=sim.url) as sms:
        refused: list[aiosms.AuthenticationError] = []

        async def call() -> None:
            try:
                await sms.balance()
            except aiosms.AuthenticationError as exc:
                refused.append(exc)

        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(call)
        assert len(refused) == 20
        assert {exc.code for exc in refused} == {"-101"}
        for _ in range(12):  # later calls, and sends, are refused without a request
            with pytest.raises(aiosms.AuthenticationError, match="not tried again"):
                await sms.send("hi", to="0912345670")
    async with aiosms.Every8dHttpClient(USER, "wrong", base_url=sim.url) as again:
        with pytest.raises(aiosms.AuthenticationError):
            await again.balance()
    assert len(sim.every8d_http.calls) == 1
    account = sim.every8d.account(USER)
    assert (account.failed_logins, account.blocked) == (1, False)


async def test_unknown_account_and_blocked_account(sim: Simulator) -> None:
    async with aiosms.Every8dHttpClient("nobody", "pw1", base_url=sim.url) as sms:
        with pytest.raises(aiosms.AuthenticationError) as info:
            await sms.balance()
        assert info.value.code == "-100"
    sim.every8d.account(USER).blocked = True
    async with aiosms.Every8dHttpClient(USER, PASSWORD, base_url=sim.url) as sms:
        with pytest.raises(aiosms.AccountBlockedError):
            await sms.balance()
        with pytest.raises(aiosms.AccountBlockedError):
            await sms.balance()
    assert len(sim.every8d_http.calls) == 2


# ---------------------------------------------------------------------- faults


async def test_dropped_send_is_outcome_unknown_and_never_repeated(
    sim: Simulator, sms: aiosms.Every8dHttpClient
) -> None:
    sim.faults.drop(operation="sendSMS.ashx", after_processing=True)
    with pytest.raises(aiosms.SendOutcomeUnknownError):
        await sms.send("hi", to="0912345670")
    assert len(calls(sim, "sendSMS.ashx")) == 1
    assert len(sim.every8d.batches) == 1  # it was carried out, once


async def test_queries_survive_drops_and_server_errors(
    sim: Simulator, sms: aiosms.Every8dHttpClient
) -> None:
    sim.faults.drop(operation="getCredit.ashx")
    sim.faults.malformed(b"<html>oops</html>", operation="getCredit.ashx")
    assert await sms.balance() == Decimal(100)  # the third try (of three) answers
    sim.faults.http_error(503, operation="getCredit.ashx")
    assert await sms.balance() == Decimal(100)
    assert len(calls(sim, "getCredit.ashx")) == 5


async def test_an_unreadable_report_row_names_its_line(
    sim: Simulator, sms: aiosms.Every8dHttpClient
) -> None:
    page = "2\nRoger\t+886933123123\t2010/03/03 14:25:55\t1.0\t100\nPeggy\t+886933123122\n"
    sim.faults.malformed(
        page.encode(),
        times=3,  # asked again, as any unreadable reply to a query, then raised
        operation="getDeliveryStatus.ashx",
        content_type="text/plain; charset=utf-8",
    )
    batch = sim.every8d.create_batch(USER, ["0912345670"])
    with pytest.raises(aiosms.ResponseFormatError, match="line 3"):
        [r async for r in sms.delivery_reports(batch)]
    assert len(calls(sim, "getDeliveryStatus.ashx")) == 3


async def test_secrets_never_reach_logs_reprs_or_errors(
    sim: Simulator,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiosms")
    monkeypatch.setattr(aiosms._bodies, "LOG_BODIES", [True])  # bodies shown, secrets masked
    sms = aiosms.Every8dHttpClient(USER, PASSWORD, base_url=sim.url)
    async with sms:
        await sms.send("hello", to="0912345670")
        sim.faults.http_error(503, times=3, operation="getCredit.ashx")
        with pytest.raises(aiosms.TransportError) as info:
            await sms.balance()
    assert "PWD=***" in caplog.text  # the requests were logged, with the password masked
    from urllib.parse import quote_plus

    for secret in (PASSWORD, quote_plus(PASSWORD)):
        assert secret not in caplog.text
        assert secret not in repr(sms)
        assert secret not in str(info.value)


def test_bad_credentials_and_options_are_refused_at_construction() -> None:
    for args, kwargs in (
        (("", "pw"), {}),
        (("acme", ""), {}),
        (("acme", "pw"), {"base_url": "ftp://example.com"}),
        (("acme", "pw"), {"max_connections": 0}),
    ):
        with pytest.raises(aiosms.InvalidRequestError):
            aiosms.Every8dHttpClient(*args, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- pushes


async def test_watch_merges_pushes_with_rare_polls() -> None:
    from aiohttp import web

    from aiosms.webhooks import Every8dPushReceiver

    receiver = Every8dPushReceiver()
    app = web.Application()
    receiver.add_to(app, "/push")
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        async with Simulator(delivery_time=0.05, push_interval=0.01) as sim:
            sim.every8d.add_account(USER, PASSWORD)
            sim.every8d.push_url = f"http://{host}:{port}/push"
            numbers = ["+886912345670", "+886912345677", "+886912345675"]
            async with aiosms.Every8dHttpClient(USER, PASSWORD, base_url=sim.url) as sms:
                result = await sms.send("hello", to=numbers)
                assert result.batch_id is not None
                with anyio.fail_after(10):
                    # A poll every 30 s: only pushes can finish this in time.
                    changes = [
                        c async for c in sms.watch(result.batch_id, interval=30, push=receiver)
                    ]
            assert len(calls(sim, "getDeliveryStatus.ashx")) == 1
    finally:
        await runner.cleanup()
    finals = {c.report.mobile: c.state for c in changes if c.state.is_final}
    assert finals == {
        "+886912345670": DeliveryState.DELIVERED,
        "+886912345677": DeliveryState.FAILED,
        "+886912345675": DeliveryState.DELIVERED,
    }
    assert not [k for k, n in Counter((c.report.mobile, c.state) for c in changes).items() if n > 1]
    assert any(c.report.reported_at is not None for c in changes)  # some came pushed
