"""aiosms._streaming: the sans-I/O ChangeTracker and the poll_changes loop (no network)."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Sequence

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiosms import (
    DeliveryReport,
    DeliveryState,
    InvalidRequestError,
    ResponseFormatError,
    SendOutcomeUnknownError,
    SessionExpiredError,
    StatusChange,
    TransportError,
)
from aiosms._streaming import ChangeTracker, poll_changes

S = DeliveryState
FAST = 0.002  # the poll interval used throughout: tiny, so the tests are quick


def rep(
    mobile: str, state: DeliveryState, *, message_id: str | None = None, batch: str = "b1"
) -> DeliveryReport:
    return DeliveryReport(
        batch_id=batch,
        message_id=message_id,
        mobile=mobile,
        name="",
        state=state,
        status=state.value,
        description="",
        sent_at=None,
        cost=None,
    )


def seen(changes: Sequence[StatusChange]) -> list[tuple[str, DeliveryState | None, DeliveryState]]:
    return [(c.report.mobile, c.previous, c.state) for c in changes]


# ======================================================================= ChangeTracker


def test_first_sighting_is_a_change_from_none() -> None:
    tracker = ChangeTracker()
    a, b = rep("A", S.ACCEPTED), rep("B", S.SCHEDULED)
    changes = tracker.update([a, b])
    assert seen(changes) == [("A", None, S.ACCEPTED), ("B", None, S.SCHEDULED)]
    assert changes[0].report is a
    assert changes[1].report is b
    assert tracker.recipients == 2


def test_the_same_snapshot_twice_gives_nothing() -> None:
    tracker = ChangeTracker()
    tracker.update([rep("A", S.ACCEPTED), rep("B", S.SCHEDULED)])
    assert tracker.update([rep("A", S.ACCEPTED), rep("B", S.SCHEDULED)]) == []
    assert tracker.update([]) == []  # an empty page forgets no one
    assert tracker.recipients == 2


def test_each_change_is_reported_once() -> None:
    tracker = ChangeTracker()
    tracker.update([rep("A", S.ACCEPTED), rep("B", S.SCHEDULED)])
    changes = tracker.update([rep("A", S.DELIVERED), rep("B", S.SCHEDULED)])
    assert seen(changes) == [("A", S.ACCEPTED, S.DELIVERED)]
    assert changes[0].report.state is S.DELIVERED
    assert tracker.update([rep("A", S.DELIVERED), rep("B", S.SCHEDULED)]) == []


@pytest.mark.parametrize("final", [S.DELIVERED, S.FAILED, S.EXPIRED, S.CANCELLED])
@pytest.mark.parametrize("later", [S.ACCEPTED, S.SCHEDULED, S.UNKNOWN, S.DELIVERED, S.FAILED])
def test_a_final_recipient_flapping_back_is_ignored(
    final: DeliveryState, later: DeliveryState
) -> None:
    tracker = ChangeTracker()
    tracker.update([rep("A", S.ACCEPTED)])
    assert seen(tracker.update([rep("A", final)])) == [("A", S.ACCEPTED, final)]
    assert tracker.update([rep("A", later)]) == []
    assert tracker.update([rep("A", final)]) == []  # and no second "change" back to final
    assert tracker.push(rep("A", later)) is None


def test_unknown_is_not_final_and_may_still_change() -> None:
    tracker = ChangeTracker()
    tracker.update([rep("A", S.UNKNOWN)])
    assert not tracker.all_final
    assert seen(tracker.update([rep("A", S.DELIVERED)])) == [("A", S.UNKNOWN, S.DELIVERED)]


def test_the_same_number_twice_in_one_batch_is_two_recipients() -> None:
    tracker = ChangeTracker()
    changes = tracker.update([rep("A", S.ACCEPTED), rep("A", S.ACCEPTED)])
    assert seen(changes) == [("A", None, S.ACCEPTED), ("A", None, S.ACCEPTED)]
    assert tracker.recipients == 2
    # Only the first copy was delivered: one change, not two, and not zero.
    changes = tracker.update([rep("A", S.DELIVERED), rep("A", S.ACCEPTED)])
    assert seen(changes) == [("A", S.ACCEPTED, S.DELIVERED)]
    assert not tracker.all_final
    changes = tracker.update([rep("A", S.DELIVERED), rep("A", S.FAILED)])
    assert seen(changes) == [("A", S.ACCEPTED, S.FAILED)]
    assert tracker.all_final


def test_the_same_number_in_two_batches_is_two_recipients() -> None:
    tracker = ChangeTracker()
    tracker.update([rep("A", S.ACCEPTED, batch="b1"), rep("A", S.ACCEPTED, batch="b2")])
    changes = tracker.update([rep("A", S.ACCEPTED, batch="b1"), rep("A", S.FAILED, batch="b2")])
    assert [(c.report.batch_id, c.state) for c in changes] == [("b2", S.FAILED)]


def test_message_ids_identify_recipients_whatever_the_order() -> None:
    tracker = ChangeTracker()
    tracker.update([rep("A", S.ACCEPTED, message_id="m1"), rep("A", S.SCHEDULED, message_id="m2")])
    changes = tracker.update(
        [rep("A", S.SCHEDULED, message_id="m2"), rep("A", S.ACCEPTED, message_id="m1")]
    )
    assert changes == []
    changes = tracker.update(
        [rep("A", S.ACCEPTED, message_id="m2"), rep("A", S.ACCEPTED, message_id="m1")]
    )
    assert [(c.report.message_id, c.previous, c.state) for c in changes] == [
        ("m2", S.SCHEDULED, S.ACCEPTED)
    ]


def test_push_reports_first_sighting_and_changes_once() -> None:
    tracker = ChangeTracker()
    first = tracker.push(rep("A", S.ACCEPTED, message_id="m1"))
    assert first is not None
    assert (first.previous, first.state) == (None, S.ACCEPTED)
    assert tracker.push(rep("A", S.ACCEPTED, message_id="m1")) is None
    change = tracker.push(rep("A", S.DELIVERED, message_id="m1"))
    assert change is not None
    assert (change.previous, change.state) == (S.ACCEPTED, S.DELIVERED)
    assert tracker.push(rep("A", S.ACCEPTED, message_id="m1")) is None
    assert tracker.push(rep("A", S.DELIVERED, message_id="m1")) is None


def test_push_without_message_id_matches_the_first_copy_of_a_polled_number() -> None:
    tracker = ChangeTracker()
    tracker.update([rep("A", S.ACCEPTED)])
    change = tracker.push(rep("A", S.DELIVERED))
    assert change is not None
    assert change.previous is S.ACCEPTED
    assert tracker.update([rep("A", S.DELIVERED)]) == []


def test_all_final() -> None:
    tracker = ChangeTracker()
    assert not tracker.all_final  # nobody seen yet: not "done"
    tracker.update([])
    assert not tracker.all_final
    tracker.update([rep("A", S.DELIVERED), rep("B", S.ACCEPTED)])
    assert not tracker.all_final
    tracker.update([rep("A", S.DELIVERED), rep("B", S.EXPIRED)])
    assert tracker.all_final


def reference(states: list[DeliveryState]) -> list[tuple[DeliveryState | None, DeliveryState]]:
    """What one recipient should yield, computed the obvious way."""
    out: list[tuple[DeliveryState | None, DeliveryState]] = []
    last: DeliveryState | None = None
    for state in states:
        if last is not None and last.is_final:
            break
        if state is not last:
            out.append((last, state))
            last = state
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    snapshots=st.lists(
        st.lists(st.sampled_from(list(DeliveryState)), min_size=3, max_size=3), max_size=12
    ),
    use_ids=st.booleans(),
)
def test_tracker_matches_a_reference_model(
    snapshots: list[list[DeliveryState]], use_ids: bool
) -> None:
    # Three recipients, two of them the same number (told apart by position or by id).
    mobiles = ["A", "A", "B"]
    tracker = ChangeTracker()
    got: dict[int, list[tuple[DeliveryState | None, DeliveryState]]] = {0: [], 1: [], 2: []}
    for states in snapshots:
        snapshot = [
            rep(mobiles[i], state, message_id=f"m{i}" if use_ids else None)
            for i, state in enumerate(states)
        ]
        for change in tracker.update(snapshot):
            index = next(i for i, r in enumerate(snapshot) if r is change.report)
            got[index].append((change.previous, change.state))
    for i in range(3):
        assert got[i] == reference([states[i] for states in snapshots])
    assert tracker.recipients == (3 if snapshots else 0)
    finished = all(any(states[i].is_final for states in snapshots) for i in range(3))
    assert tracker.all_final is (bool(snapshots) and finished)


# ======================================================================= poll_changes


class Script:
    """A fake ``fetch``: returns (or raises) the scripted items in turn, then repeats
    the last one. Counts the calls."""

    def __init__(self, *items: Sequence[DeliveryReport] | BaseException) -> None:
        self.items = list(items)
        self.calls = 0
        self.times: list[float] = []

    async def __call__(self) -> Sequence[DeliveryReport]:
        self.times.append(time.perf_counter())
        item = self.items[min(self.calls, len(self.items) - 1)]
        self.calls += 1
        if isinstance(item, BaseException):
            raise item
        return item


async def collect(changes: AsyncIterator[StatusChange], limit: int = 100) -> list[StatusChange]:
    out = []
    with anyio.fail_after(10):  # a hang guard, never reached when the code is right
        async for change in changes:
            out.append(change)
            assert len(out) <= limit, "poll_changes yielded far more than it should"
    return out


def retryable() -> TransportError:
    return TransportError("HTTP 503", provider="every8d", status=503, retryable=True)


async def test_yields_first_sighting_and_each_change_once_then_ends() -> None:
    fetch = Script(
        [rep("A", S.ACCEPTED), rep("B", S.SCHEDULED)],
        [rep("A", S.ACCEPTED), rep("B", S.SCHEDULED)],
        [rep("A", S.DELIVERED), rep("B", S.SCHEDULED)],
        [rep("A", S.DELIVERED), rep("B", S.ACCEPTED)],
        [rep("A", S.DELIVERED), rep("B", S.ACCEPTED)],
        [rep("A", S.DELIVERED), rep("B", S.DELIVERED)],
    )
    changes = await collect(poll_changes(fetch, interval=FAST))
    assert seen(changes) == [
        ("A", None, S.ACCEPTED),
        ("B", None, S.SCHEDULED),
        ("A", S.ACCEPTED, S.DELIVERED),
        ("B", S.SCHEDULED, S.ACCEPTED),
        ("B", S.ACCEPTED, S.DELIVERED),
    ]
    assert fetch.calls == 6  # ended as soon as all were final, not one poll later


async def test_ignores_a_final_recipient_flapping_back() -> None:
    fetch = Script(
        [rep("A", S.DELIVERED), rep("B", S.ACCEPTED)],
        [rep("A", S.ACCEPTED), rep("B", S.ACCEPTED)],
        [rep("A", S.FAILED), rep("B", S.ACCEPTED)],
        [rep("A", S.DELIVERED), rep("B", S.EXPIRED)],
    )
    changes = await collect(poll_changes(fetch, interval=FAST))
    assert seen(changes) == [
        ("A", None, S.DELIVERED),
        ("B", None, S.ACCEPTED),
        ("B", S.ACCEPTED, S.EXPIRED),
    ]
    assert fetch.calls == 4


async def test_the_same_number_twice_in_one_batch_is_kept_apart() -> None:
    fetch = Script(
        [rep("A", S.ACCEPTED), rep("A", S.ACCEPTED)],
        [rep("A", S.DELIVERED), rep("A", S.ACCEPTED)],
        [rep("A", S.DELIVERED), rep("A", S.FAILED)],
    )
    changes = await collect(poll_changes(fetch, interval=FAST))
    assert seen(changes) == [
        ("A", None, S.ACCEPTED),
        ("A", None, S.ACCEPTED),
        ("A", S.ACCEPTED, S.DELIVERED),
        ("A", S.ACCEPTED, S.FAILED),
    ]


async def test_ends_at_once_when_everything_is_already_final() -> None:
    fetch = Script([rep("A", S.DELIVERED), rep("B", S.CANCELLED)])
    changes = await collect(poll_changes(fetch, interval=30.0))  # never waits 30 s
    assert [c.state for c in changes] == [S.DELIVERED, S.CANCELLED]
    assert fetch.calls == 1


async def test_ends_quietly_at_stop_after() -> None:
    fetch = Script([rep("A", S.ACCEPTED)])
    started = time.perf_counter()
    changes = await collect(poll_changes(fetch, interval=0.005, stop_after=0.1))
    elapsed = time.perf_counter() - started
    assert seen(changes) == [("A", None, S.ACCEPTED)]  # the same state never twice
    assert fetch.calls >= 2
    assert 0.09 <= elapsed < 2.0


async def test_an_empty_batch_is_polled_until_stop_after() -> None:
    fetch = Script([])
    changes = await collect(poll_changes(fetch, interval=0.005, stop_after=0.05))
    assert changes == []
    assert fetch.calls >= 2  # "nobody seen" is not "all final"


async def test_stop_after_cuts_a_hanging_fetch_short() -> None:
    calls = 0

    async def hanging() -> Sequence[DeliveryReport]:
        nonlocal calls
        calls += 1
        await anyio.sleep(30)
        raise AssertionError("not reached")

    started = time.perf_counter()
    assert await collect(poll_changes(hanging, interval=FAST, stop_after=0.05)) == []
    assert time.perf_counter() - started < 2.0
    assert calls == 1


async def test_stop_after_never_cuts_the_consumer_short() -> None:
    # The deadline covers fetching, not the time the caller spends on each change.
    fetch = Script([rep("A", S.ACCEPTED), rep("B", S.ACCEPTED)], [rep("A", S.DELIVERED)])
    got = []
    async for change in poll_changes(fetch, interval=FAST, stop_after=0.05):
        got.append(change.report.mobile)
        await anyio.sleep(0.03)  # slower than the whole budget, in total
    assert got == ["A", "B"]


async def test_polls_no_faster_than_the_interval() -> None:
    fetch = Script(
        [rep("A", S.ACCEPTED)], [rep("A", S.ACCEPTED)], [rep("A", S.ACCEPTED)], [rep("A", S.FAILED)]
    )
    await collect(poll_changes(fetch, interval=0.02))
    gaps = [b - a for a, b in zip(fetch.times, fetch.times[1:], strict=False)]
    assert len(gaps) == 3
    assert all(gap >= 0.018 for gap in gaps), gaps


async def test_transient_failures_are_retried() -> None:
    fetch = Script(retryable(), retryable(), [rep("A", S.DELIVERED)])
    changes = await collect(poll_changes(fetch, interval=FAST, max_failures=3))
    assert seen(changes) == [("A", None, S.DELIVERED)]
    assert fetch.calls == 3


async def test_transient_failures_back_off() -> None:
    fetch = Script(retryable(), retryable(), [rep("A", S.DELIVERED)])
    await collect(poll_changes(fetch, interval=0.01, max_failures=5))
    first, second = (b - a for a, b in zip(fetch.times, fetch.times[1:], strict=False))
    # interval * 2**failures: 0.02 s after the first failure, 0.04 s after the second.
    assert first >= 0.018
    assert second >= 0.038


async def test_raised_after_max_failures_in_a_row() -> None:
    errors = [retryable() for _ in range(5)]
    fetch = Script(*errors)
    with pytest.raises(TransportError) as info:
        await collect(poll_changes(fetch, interval=FAST, max_failures=3))
    assert fetch.calls == 3
    assert info.value is errors[2]  # the last one, unchanged


async def test_failures_must_be_in_a_row() -> None:
    fetch = Script(
        retryable(),
        retryable(),
        [rep("A", S.ACCEPTED)],
        retryable(),
        retryable(),
        [rep("A", S.DELIVERED)],
    )
    changes = await collect(poll_changes(fetch, interval=FAST, max_failures=3))
    assert [c.state for c in changes] == [S.ACCEPTED, S.DELIVERED]
    assert fetch.calls == 6


async def test_changes_before_a_failure_are_kept() -> None:
    fetch = Script([rep("A", S.ACCEPTED)], *[retryable() for _ in range(5)])
    got: list[StatusChange] = []

    async def consume() -> None:
        async for change in poll_changes(fetch, interval=FAST, max_failures=2):
            got.append(change)

    with pytest.raises(TransportError):
        await consume()
    assert seen(got) == [("A", None, S.ACCEPTED)]
    assert fetch.calls == 3


@pytest.mark.parametrize(
    "error",
    [
        TransportError("HTTP 400", status=400, retryable=False),
        SendOutcomeUnknownError("maybe"),
        ResponseFormatError("garbage"),
        SessionExpiredError("-301"),
        RuntimeError("bug"),
    ],
)
async def test_other_errors_are_raised_at_once(error: Exception) -> None:
    fetch = Script(error, [rep("A", S.DELIVERED)])
    with pytest.raises(type(error)) as info:
        await collect(poll_changes(fetch, interval=FAST, max_failures=5))
    assert info.value is error
    assert fetch.calls == 1


@pytest.mark.parametrize("interval", [0, -1, -0.001, math.nan])
async def test_bad_interval_is_refused(interval: float) -> None:
    fetch = Script([rep("A", S.DELIVERED)])
    with pytest.raises(InvalidRequestError, match="interval"):
        await collect(poll_changes(fetch, interval=interval))
    assert fetch.calls == 0


@pytest.mark.parametrize("stop_after", [0, -5, math.nan])
async def test_bad_stop_after_is_refused(stop_after: float) -> None:
    fetch = Script([rep("A", S.DELIVERED)])
    with pytest.raises(InvalidRequestError):
        await collect(poll_changes(fetch, interval=FAST, stop_after=stop_after))
    assert fetch.calls == 0


async def test_closing_the_iterator_stops_polling() -> None:
    fetch = Script([rep("A", S.ACCEPTED)], [rep("A", S.ACCEPTED)])
    changes = poll_changes(fetch, interval=FAST)
    first = await changes.__anext__()
    assert first.state is S.ACCEPTED
    await changes.aclose()  # type: ignore[attr-defined]
    calls = fetch.calls
    await anyio.sleep(0.02)
    assert fetch.calls == calls == 1
