"""Every8dSoapClient end to end, against the simulator over loopback HTTP."""

from __future__ import annotations

import gc
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import aiohttp
import anyio
import pytest

import aiosms
from aiosms import DeliveryState
from aiosms.testing import Simulator

pytest_plugins = ["aiosms.testing.pytest_plugin"]

USER, PASSWORD = "acme", "pa&ss<wörd>"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(delivery_time=0.05) as simulator:
        simulator.every8d.add_account(USER, PASSWORD, credit=Decimal("100"))
        yield simulator


@pytest.fixture
async def sms(sim: Simulator) -> AsyncIterator[aiosms.Every8dSoapClient]:
    async with aiosms.Every8dSoapClient(USER, PASSWORD, base_url=sim.url) as client:
        yield client


def soap_result(operation: str, result: str) -> bytes:
    """A well-formed SOAP 1.1 reply carrying ``result`` (for scripted replies)."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        f'<{operation}Response xmlns="http://tempuri.org/">'
        f"<{operation}Result>{result}</{operation}Result>"
        f"</{operation}Response></soap:Body></soap:Envelope>"
    ).encode()


# ---------------------------------------------------------------------- sending


async def test_send_returns_typed_result_and_charges_credit(
    sim: Simulator, sms: aiosms.Every8dSoapClient
) -> None:
    result = await sms.send("Your code is 1234", to=["+886912345670", "0922333441"])
    assert isinstance(result.cost, Decimal)
    assert (result.sent, result.unsent, result.cost) == (2, 0, Decimal(2))
    assert result.credit == Decimal(98)
    assert result.batch_id in sim.every8d.batches
    assert await sms.balance() == Decimal(98)
    (call,) = [c for c in sim.every8d.calls if c.operation == "sendSMS"]
    assert call.params["mobile"] == "+886912345670,0922333441"
    assert call.params["sendTime"] == ""


async def test_unicode_text_arrives_exactly(sim: Simulator, sms: aiosms.Every8dSoapClient) -> None:
    text = "驗證碼 1234 — שלום 👋 <&> ]]> \"'\nline two"
    result = await sms.send(text, to="0912345670")
    assert result.batch_id is not None
    (recipient,) = sim.every8d.recipients(result.batch_id)
    assert recipient.text == text


async def test_validity_uses_send_message_and_at_is_taipei_time(
    sim: Simulator, sms: aiosms.Every8dSoapClient
) -> None:
    at = datetime(2031, 1, 31, 7, 30, tzinfo=UTC)
    await sms.send("later", to="0912345670", at=at, validity=timedelta(minutes=90, seconds=1))
    (call,) = [c for c in sim.every8d.calls if c.operation.startswith("send")]
    assert call.operation == "sendMessage"
    assert call.params["retryTime"] == "91"
    assert call.params["sendTime"] == "20310131153000"  # 07:30 UTC is 15:30 in Taipei


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"text": "hi", "to": "not a number"}, "not a mobile number"),
        ({"text": "hi", "to": []}, "at least one"),
        ({"text": "", "to": "0912345670"}, "must not be empty"),
        ({"text": "nul\x00", "to": "0912345670"}, "cannot be sent"),
        ({"text": "hi", "to": "0912345670", "at": datetime(2030, 1, 1)}, "timezone-aware"),
        ({"text": "hi", "to": "0912345670", "validity": timedelta(0)}, "positive"),
    ],
)
async def test_bad_input_is_refused_before_any_request(
    sim: Simulator, sms: aiosms.Every8dSoapClient, kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(aiosms.InvalidRequestError, match=match):
        await sms.send(**kwargs)  # type: ignore[arg-type]
    assert sim.every8d.calls == []  # not even a getConnection


async def test_personalized_send_round_trips_each_text(
    sim: Simulator, sms: aiosms.Every8dSoapClient
) -> None:
    items = [
        aiosms.Personalized("0912345670", "Hi Roger ]]> <b>&amp;", name='Roger "R" & co'),
        aiosms.Personalized("+886922333441", "你好 👋", email="a@example.com"),
    ]
    result = await sms.send_personalized(items, subject="promo")
    assert result.sent == 2
    assert result.batch_id is not None
    got = {r.mobile: (r.text, r.name, r.email) for r in sim.every8d.recipients(result.batch_id)}
    assert got == {
        "+886912345670": ("Hi Roger ]]> <b>&amp;", 'Roger "R" & co', ""),
        "+886922333441": ("你好 👋", "", "a@example.com"),
    }


async def test_no_credit_raises_insufficient_credit(sim: Simulator) -> None:
    sim.every8d.add_account("poor", "pw", credit=Decimal(0))
    async with aiosms.Every8dSoapClient("poor", "pw", base_url=sim.url) as sms:
        with pytest.raises(aiosms.InsufficientCreditError) as info:
            await sms.send("hi", to=["0912345670", "0912345671"])
    assert isinstance(info.value.result, aiosms.SendResult)
    assert info.value.result.unsent == 2


async def test_provider_error_code_and_message(
    sim: Simulator, sms: aiosms.Every8dSoapClient
) -> None:
    sim.faults.malformed(
        soap_result("sendSMS", "-306,手機格式不符:+1-202-895-1800"), operation="sendSMS"
    )
    with pytest.raises(aiosms.ProviderError) as info:
        await sms.send("hi", to="0912345670")
    assert info.value.code == "-306"
    assert "手機格式不符" in info.value.provider_message  # type: ignore[operator]
    assert "手機格式不符" in str(info.value)


# ---------------------------------------------------------------------- soap versions, urls


@pytest.mark.parametrize("version", ["1.1", "1.2"])
async def test_both_soap_versions_and_a_path_prefix(sim: Simulator, version: str) -> None:
    async with aiosms.Every8dSoapClient(
        USER,
        PASSWORD,
        base_url=sim.url + "/acme-corp/",
        soap_version=version,  # type: ignore[arg-type]
    ) as sms:
        assert await sms.balance() == Decimal(100)
    assert {c.soap_version for c in sim.every8d.calls} == {version}
    assert {c.path for c in sim.every8d.calls} == {"/acme-corp/API21/SOAP/SMS.asmx"}


# ---------------------------------------------------------------------- session key


async def test_first_calls_share_one_login(sim: Simulator, sms: aiosms.Every8dSoapClient) -> None:
    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(sms.balance)
    assert sim.every8d.count("getConnection") == 1
    assert sim.every8d.count("getCredit") == 20


async def test_renewal_is_single_flight_under_concurrency(
    sim: Simulator, sms: aiosms.Every8dSoapClient
) -> None:
    await sms.balance()
    sim.every8d.expire_sessions()
    results: list[aiosms.SendResult] = []

    async def one(i: int) -> None:
        results.append(await sms.send(f"msg {i}", to=f"09123456{i % 10}{i // 10}"))

    async with anyio.create_task_group() as tg:
        for i in range(50):
            tg.start_soon(one, i)
    assert len(results) == 50
    assert len({r.batch_id for r in results}) == 50
    assert sim.every8d.count("getConnection") == 2  # the first login and ONE renewal
    # Each refused send was repeated once, and only the repeats were carried out.
    assert sim.every8d.count("sendSMS") == 100
    assert len(sim.every8d.batches) == 50


async def test_session_refused_twice_gives_up(
    sim: Simulator, sms: aiosms.Every8dSoapClient
) -> None:
    sim.faults.malformed(soap_result("getCredit", "-301"), times=2, operation="getCredit")
    with pytest.raises(aiosms.SessionExpiredError):
        await sms.balance()
    assert sim.every8d.count("getCredit") == 2
    assert sim.every8d.count("getConnection") == 2


async def test_old_key_is_renewed_before_use(sim: Simulator) -> None:
    async with aiosms.Every8dSoapClient(
        USER, PASSWORD, base_url=sim.url, session_max_age=timedelta(milliseconds=50)
    ) as sms:
        await sms.balance()
        await anyio.sleep(0.1)
        await sms.balance()
    assert sim.every8d.count("getConnection") == 2
    assert sim.every8d.count("getCredit") == 2  # renewed ahead: no call was refused


async def test_key_is_renewed_when_the_day_changes_in_taipei(sim: Simulator) -> None:
    from aiosms.every8d._common import TAIPEI

    now = [datetime(2030, 1, 1, 23, 59, 50, tzinfo=TAIPEI).timestamp()]
    async with aiosms.Every8dSoapClient(USER, PASSWORD, base_url=sim.url) as sms:
        sms._clock = lambda: now[0]  # the client's only seam for time
        await sms.balance()
        now[0] += 5  # 23:59:55, the same day
        await sms.balance()
        assert sim.every8d.count("getConnection") == 1
        now[0] += 10  # 00:00:05 the next day: EVERY8D keys die at midnight
        await sms.balance()
    assert sim.every8d.count("getConnection") == 2
    assert sim.every8d.count("getCredit") == 3


async def test_busy_login_is_retried_after_a_pause(
    sim: Simulator, sms: aiosms.Every8dSoapClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiosms")
    sim.faults.busy(times=2)
    started = time.monotonic()
    assert await sms.balance() == Decimal(100)
    elapsed = time.monotonic() - started
    assert sim.every8d.count("getConnection") == 3
    pauses = [
        float(record.args[0])  # type: ignore[index]
        for record in caplog.records
        if record.getMessage().startswith("EVERY8D is busy; logging in again")
    ]
    assert len(pauses) == 2
    # Jittered exponential backoff: each pause is random but bounded by 0.5 s × 2^n.
    assert 0 < pauses[0] <= 0.5
    assert 0 < pauses[1] <= 1.0
    assert elapsed >= sum(pauses) * 0.9  # ...and the client really waited that long


async def test_busy_attempts_are_bounded(sim: Simulator) -> None:
    sim.faults.busy(times=5)
    async with aiosms.Every8dSoapClient(USER, PASSWORD, base_url=sim.url, busy_attempts=2) as sms:
        with pytest.raises(aiosms.ProviderBusyError):
            await sms.balance()
    assert sim.every8d.count("getConnection") == 2


async def test_wrong_password_is_not_retried(sim: Simulator) -> None:
    async with aiosms.Every8dSoapClient(USER, "wrong", base_url=sim.url) as sms:
        with pytest.raises(aiosms.AuthenticationError) as info:
            await sms.balance()
    assert info.value.code == "-101"
    assert sim.every8d.count("getConnection") == 1
    assert sim.every8d.account(USER).failed_logins == 1


async def test_a_refused_login_is_tried_once_for_all_concurrent_callers(sim: Simulator) -> None:
    # 20 tasks wait for the same key; a refused login must not be repeated for each of
    # them, or a service with a wrong password would lock its account (10 failures).
    async with aiosms.Every8dSoapClient(USER, "wrong", base_url=sim.url) as sms:
        async with anyio.create_task_group() as tg:
            refused: list[aiosms.AuthenticationError] = []

            async def call() -> None:
                try:
                    await sms.balance()
                except aiosms.AuthenticationError as exc:
                    refused.append(exc)

            for _ in range(20):
                tg.start_soon(call)
        assert len(refused) == 20
        assert {type(exc) for exc in refused} == {aiosms.AuthenticationError}
        assert {exc.code for exc in refused} == {"-101"}
        assert sim.every8d.count("getConnection") == 1
        # Later calls are refused at once, without another login.
        for _ in range(12):
            with pytest.raises(aiosms.AuthenticationError, match="not tried again"):
                await sms.send("hi", to="0912345670")
    assert sim.every8d.count("getConnection") == 1
    assert sim.every8d.count("sendSMS") == 0
    account = sim.every8d.account(USER)
    assert (account.failed_logins, account.blocked) == (1, False)


async def test_unknown_account_is_not_retried(sim: Simulator) -> None:
    async with aiosms.Every8dSoapClient("nobody", PASSWORD, base_url=sim.url) as sms:
        for _ in range(3):
            with pytest.raises(aiosms.AuthenticationError) as info:
                await sms.balance()
            assert info.value.code == "-100"
    assert sim.every8d.count("getConnection") == 1


async def test_blocked_account(sim: Simulator) -> None:
    sim.every8d.account(USER).blocked = True
    async with aiosms.Every8dSoapClient(USER, PASSWORD, base_url=sim.url) as sms:
        with pytest.raises(aiosms.AccountBlockedError):
            await sms.send("hi", to="0912345670")
    assert sim.every8d.count("getConnection") == 1
    assert sim.every8d.count("sendSMS") == 0


async def test_aclose_closes_the_session_key(sim: Simulator) -> None:
    sms = aiosms.Every8dSoapClient(USER, PASSWORD, base_url=sim.url)
    await sms.balance()
    await sms.aclose()
    await sms.aclose()  # twice is fine
    assert sim.every8d.count("closeConnection") == 1
    assert sim.every8d.account(USER).session_key is None
    with pytest.raises(aiosms.ClientClosedError):
        await sms.balance()


# ---------------------------------------------------------------------- reports and watch


async def test_reports_page_through_2500_recipients(
    sim: Simulator, sms: aiosms.Every8dSoapClient
) -> None:
    numbers = [f"09{i:08d}" for i in range(2500)]
    batch = sim.every8d.create_batch(USER, numbers, status="100")
    reports = [r async for r in sms.delivery_reports(batch)]
    assert [r.mobile for r in reports] == numbers
    assert {r.state for r in reports} == {DeliveryState.DELIVERED}
    assert all(r.batch_id == batch for r in reports)
    pages = [c.params["pageNo"] for c in sim.every8d.calls if c.operation == "getDeliveryStatus"]
    assert pages == ["1", "2", "3"]


async def test_reports_carry_replies(sim: Simulator, sms: aiosms.Every8dSoapClient) -> None:
    batch = sim.every8d.create_batch(USER, ["0912345670", "0912345671"], status="100")
    sim.every8d.add_reply(batch, "0912345671", "yes 好")
    sim.every8d.add_reply(batch, "0912345671", "again")
    reports = {r.mobile: r async for r in sms.delivery_reports(batch)}
    assert reports["0912345670"].replies == ()
    assert [r.text for r in reports["0912345671"].replies] == ["yes 好", "again"]
    assert all(r.received_at and r.received_at.tzinfo for r in reports["0912345671"].replies)


async def test_watch_yields_each_change_once_and_ends_when_final(
    sim: Simulator, sms: aiosms.Every8dSoapClient
) -> None:
    numbers = ["0912345670", "0912345677", "0912345678", "0912345679", "0912345670"]
    result = await sms.send("hi", to=numbers)
    assert result.batch_id is not None
    changes = []
    with anyio.fail_after(10):
        async for change in sms.watch(result.batch_id, interval=0.01):
            changes.append(change)
    final = {}
    for change in changes:
        key = (change.report.mobile, change.report.state)
        assert change.previous is not change.state
        final[change.report.mobile] = change.state
        assert key  # every change names its recipient
    assert final == {
        "0912345670": DeliveryState.DELIVERED,
        "0912345677": DeliveryState.FAILED,
        "0912345678": DeliveryState.FAILED,
        "0912345679": DeliveryState.EXPIRED,
    }
    # Five recipients (one number twice): each seen first with previous=None, once.
    assert sum(c.previous is None for c in changes) == 5
    finals = Counter(c.report.mobile for c in changes if c.state.is_final)
    assert finals == {"0912345670": 2, "0912345677": 1, "0912345678": 1, "0912345679": 1}


async def test_watch_timeout_ends_quietly(sim: Simulator, sms: aiosms.Every8dSoapClient) -> None:
    result = await sms.send("later", to="0912345670", at=datetime.now(UTC) + timedelta(hours=1))
    assert result.batch_id is not None
    with anyio.fail_after(5):
        changes = [c async for c in sms.watch(result.batch_id, interval=0.01, timeout=0.2)]
    assert [(c.previous, c.state) for c in changes] == [(None, DeliveryState.SCHEDULED)]


async def test_scheduled_send_and_cancel(sim: Simulator, sms: aiosms.Every8dSoapClient) -> None:
    at = datetime.now(UTC) + timedelta(hours=2)
    result = await sms.send("later", to=["0912345670", "0912345671", "0912345672"], at=at)
    assert result.batch_id is not None
    states = {r.state async for r in sms.delivery_reports(result.batch_id)}
    assert states == {DeliveryState.SCHEDULED}
    cancelled = await sms.cancel(result.batch_id)
    assert cancelled.found
    assert (cancelled.cancelled, cancelled.credit_returned) == (3, Decimal(3))
    assert await sms.balance() == Decimal(100)
    states = {r.state async for r in sms.delivery_reports(result.batch_id)}
    assert states == {DeliveryState.CANCELLED}
    again = await sms.cancel(result.batch_id)
    assert not again.found
    assert again.credit_returned == 0


async def test_polling_never_starves_sends(sim: Simulator) -> None:
    numbers = ["0912345670"]
    batches = [sim.every8d.create_batch(USER, numbers) for _ in range(6)]
    sim.faults.delay(1.0, times=6, operation="getDeliveryStatus")
    seen: list[str] = []
    async with aiosms.Every8dSoapClient(USER, PASSWORD, base_url=sim.url, max_connections=4) as sms:
        await sms.balance()

        async def watch(batch: str) -> None:
            async for _ in sms.watch(batch, interval=0.01, timeout=3):
                seen.append(batch)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for batch in batches:
                    tg.start_soon(watch, batch)
                await anyio.sleep(0.05)  # let every watcher start its (slow) poll
                result = await sms.send("urgent", to="0912345670")
                # The send went through while every poll was still waiting.
                assert result.sent == 1
                assert seen == []
                tg.cancel_scope.cancel()


async def test_max_connections_bounds_the_requests_in_flight(sim: Simulator) -> None:
    async with aiosms.Every8dSoapClient(USER, PASSWORD, base_url=sim.url, max_connections=2) as sms:
        await sms.balance()  # the session key first
        sim.faults.delay(0.2, times=6, operation="getCredit")
        started = time.monotonic()
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for _ in range(6):
                    tg.start_soon(sms.balance)
        elapsed = time.monotonic() - started
    # Two connections: three rounds of two slow replies (0.6 s); a larger pool would
    # have answered all six in one round (0.2 s).
    assert elapsed >= 0.55
    assert sim.every8d.count("getCredit") == 7


# ---------------------------------------------------------------------- failures


async def test_dropped_send_is_outcome_unknown_and_never_repeated(
    sim: Simulator, sms: aiosms.Every8dSoapClient
) -> None:
    await sms.balance()
    sim.faults.drop(operation="sendSMS", after_processing=True)
    with pytest.raises(aiosms.SendOutcomeUnknownError):
        await sms.send("hi", to="0912345670")
    assert sim.every8d.count("sendSMS") == 1
    assert len(sim.every8d.batches) == 1  # it was in fact sent, once


async def test_dropped_query_is_retried(sim: Simulator, sms: aiosms.Every8dSoapClient) -> None:
    await sms.balance()
    sim.faults.drop(operation="getCredit")
    assert await sms.balance() == Decimal(100)
    assert sim.every8d.count("getCredit") == 3


async def test_send_timeout_is_outcome_unknown(sim: Simulator) -> None:
    async with aiosms.Every8dSoapClient(USER, PASSWORD, base_url=sim.url, timeout=0.3) as sms:
        await sms.balance()
        sim.faults.delay(2.0, operation="sendSMS")
        with anyio.fail_after(5), pytest.raises(aiosms.SendOutcomeUnknownError):
            await sms.send("hi", to="0912345670")
    assert sim.every8d.count("sendSMS") == 1


async def test_http_500_page_on_send_is_outcome_unknown(
    sim: Simulator, sms: aiosms.Every8dSoapClient
) -> None:
    await sms.balance()
    sim.faults.http_error(500, operation="sendSMS")
    with pytest.raises(aiosms.SendOutcomeUnknownError):
        await sms.send("hi", to="0912345670")
    assert sim.every8d.count("sendSMS") == 1


XXE = (
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    b'<getCreditResponse xmlns="http://tempuri.org/"><getCreditResult>&e;</getCreditResult>'
    b"</getCreditResponse></soap:Body></soap:Envelope>"
)
BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{(f"&lol{i - 1};" if i > 1 else "&lol;") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b"]><lolz>&lol9;</lolz>"
)


@pytest.mark.parametrize("body", [XXE, BOMB], ids=["external-entity", "entity-bomb"])
async def test_hostile_xml_is_refused_fast(
    sim: Simulator, sms: aiosms.Every8dSoapClient, body: bytes
) -> None:
    await sms.balance()
    sim.faults.malformed(body, times=3, operation="getCredit")  # every attempt (a query is retried)
    started = time.perf_counter()
    with pytest.raises(aiosms.ResponseFormatError, match="DTD"):
        await sms.balance()
    assert time.perf_counter() - started < 2  # a hang guard, not a speed test


async def test_hostile_reply_to_a_send_is_outcome_unknown(
    sim: Simulator, sms: aiosms.Every8dSoapClient
) -> None:
    await sms.balance()
    sim.faults.malformed(XXE, operation="sendSMS")
    with pytest.raises(aiosms.SendOutcomeUnknownError) as info:
        await sms.send("hi", to="0912345670")
    assert isinstance(info.value.__cause__, aiosms.ResponseFormatError)


async def test_oversized_reply_is_refused(sim: Simulator) -> None:
    async with aiosms.Every8dSoapClient(
        USER, PASSWORD, base_url=sim.url, max_response_bytes=10_000
    ) as sms:
        batch = sim.every8d.create_batch(USER, [f"09{i:08d}" for i in range(500)])
        with pytest.raises(aiosms.ResponseFormatError, match="max_response_bytes"):
            [r async for r in sms.delivery_reports(batch)]


async def test_secrets_never_reach_logs_reprs_or_errors(
    sim: Simulator,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiosms")
    monkeypatch.setattr(aiosms._bodies, "LOG_BODIES", [True])  # bodies shown, secrets masked
    sms = aiosms.Every8dSoapClient(USER, PASSWORD, base_url=sim.url)
    async with sms:
        await sms.send("hello", to="0912345670")
        key = sim.every8d.account(USER).session_key
        assert isinstance(key, str)
        assert len(key) == 32
        sim.faults.http_error(503, times=3, operation="getCredit")
        with pytest.raises(aiosms.TransportError) as info:
            await sms.balance()
    assert "***" in caplog.text
    assert "<sessionKey>" in caplog.text  # the requests were logged...
    for secret in (PASSWORD, "pa&amp;ss&lt;wörd&gt;", key):
        assert secret not in caplog.text  # ...with every secret masked
        assert secret not in repr(sms)
        assert secret not in str(info.value)


# ---------------------------------------------------------------------- lifecycle


async def test_caller_owned_session_is_left_open(sim: Simulator) -> None:
    async with aiohttp.ClientSession() as session:
        async with aiosms.Every8dSoapClient(
            USER, PASSWORD, base_url=sim.url, session=session
        ) as sms:
            await sms.balance()
        assert not session.closed
        async with session.get(sim.url + "/nowhere") as resp:  # still usable
            assert resp.status == 404


async def test_unclosed_client_warns(sim: Simulator) -> None:
    sms = aiosms.Every8dSoapClient(USER, PASSWORD, base_url=sim.url)
    await sms.balance()
    session = sms._transport._session
    assert session is not None
    with pytest.warns(ResourceWarning, match="never closed"):
        del sms  # no reference cycle: __del__ runs here
    await session.close()


async def test_unused_client_needs_no_closing() -> None:
    sms = aiosms.Every8dSoapClient(USER, PASSWORD)
    del sms
    gc.collect()  # no warning: no session was ever opened


async def test_watch_many_merges_batches_until_all_final(
    sim: Simulator, sms: aiosms.Every8dSoapClient
) -> None:
    batches = [
        (await sms.send("hi", to=[f"091234567{i}", "0912345679"])).batch_id for i in range(3)
    ]
    assert all(batches)
    changes: list[aiosms.StatusChange] = []
    with anyio.fail_after(10):
        async with sms.watch_many([b for b in batches if b], interval=0.01) as stream:
            async for change in stream:
                changes.append(change)
    finals = Counter(c.report.batch_id for c in changes if c.state.is_final)
    assert finals == dict.fromkeys(batches, 2)


async def test_leaving_watch_many_early_stops_polling(
    sim: Simulator, sms: aiosms.Every8dSoapClient
) -> None:
    at = datetime.now(UTC) + timedelta(hours=1)  # scheduled: never final during the test
    batches = [(await sms.send("later", to="0912345670", at=at)).batch_id for _ in range(2)]
    with anyio.fail_after(5):
        async with sms.watch_many([b for b in batches if b], interval=0.01) as stream:
            first = await stream.receive()
    assert first.state is DeliveryState.SCHEDULED
    polls = sim.every8d.count("getDeliveryStatus")
    await anyio.sleep(0.1)
    assert sim.every8d.count("getDeliveryStatus") == polls


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"base_url": "oms.every8d.com"}, "http"),
        ({"soap_version": "1.3"}, "soap_version"),
        ({"max_connections": 0}, "max_connections"),
        ({"busy_attempts": 0}, "busy_attempts"),
        ({"session_max_age": timedelta(0)}, "session_max_age"),
    ],
)
def test_bad_options_are_refused_at_construction(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(aiosms.InvalidRequestError, match=match):
        aiosms.Every8dSoapClient(USER, PASSWORD, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("user", "password"), [("", "pw"), ("user", ""), ("u", "p\x00")])
def test_bad_credentials_are_refused_at_construction(user: str, password: str) -> None:
    with pytest.raises(aiosms.InvalidRequestError) as info:
        aiosms.Every8dSoapClient(user, password)
    assert "x00" not in str(info.value)  # not even the offending character of a password
    assert (password not in str(info.value)) or not password
