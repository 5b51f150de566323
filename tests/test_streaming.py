"""aiosms._streaming: the sans-I/O ChangeTracker and the poll_changes loop (no network)."""

from __future__ import annotations

import contextlib
import gc
import itertools
import math
import time
import weakref
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


class Paged:
    """One scripted poll given page by page; an exception in it is raised on that page."""

    def __init__(self, *pages: Sequence[DeliveryReport] | BaseException) -> None:
        self.pages = pages


Poll = Sequence[DeliveryReport] | BaseException | Paged


class Script:
    """A fake ``fetch``: each call is one poll, answered with the scripted items in turn,
    then the last one again. A list of reports is served in pages of ``page`` reports
    (one by default, so every test exercises page-by-page feeding); an exception is
    raised on the first page; a :class:`Paged` is served as given. Counts the calls,
    the pages served, and the page iterators opened and closed."""

    def __init__(self, *items: Poll, page: int = 1) -> None:
        self.items = list(items)
        self.page = page
        self.calls = 0
        self.pages = 0
        self.closed = 0
        self.times: list[float] = []

    def __call__(self) -> AsyncIterator[Sequence[DeliveryReport]]:
        self.times.append(time.perf_counter())
        item = self.items[min(self.calls, len(self.items) - 1)]
        self.calls += 1
        return self._serve(item)

    async def _serve(self, item: Poll) -> AsyncIterator[Sequence[DeliveryReport]]:
        try:
            if isinstance(item, BaseException):
                pages: Sequence[Sequence[DeliveryReport] | BaseException] = [item]
            elif isinstance(item, Paged):
                pages = item.pages
            else:
                pages = [item[i : i + self.page] for i in range(0, len(item), self.page)]
            for page in pages:
                await anyio.lowlevel.checkpoint()
                if isinstance(page, BaseException):
                    raise page
                self.pages += 1
                yield page
        finally:
            self.closed += 1


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

    async def hanging() -> AsyncIterator[Sequence[DeliveryReport]]:
        nonlocal calls
        calls += 1
        await anyio.sleep(30)
        raise AssertionError("not reached")
        yield []  # an async generator

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
    await changes.aclose()
    calls = fetch.calls
    await anyio.sleep(0.02)
    assert fetch.calls == calls == 1


# ======================================================================= page by page


class Page(list[DeliveryReport]):
    """A page that can be watched with a weak reference (a plain list cannot)."""


async def test_a_page_s_changes_come_before_the_next_page_is_fetched() -> None:
    events: list[str] = []

    async def fetch() -> AsyncIterator[Sequence[DeliveryReport]]:
        for mobile in "ABC":
            events.append(f"page {mobile}")
            yield [rep(mobile, S.DELIVERED)]

    async for change in poll_changes(fetch, interval=FAST):
        events.append(f"change {change.report.mobile}")
    assert events == ["page A", "change A", "page B", "change B", "page C", "change C"]


async def test_a_poll_holds_one_page_at_a_time() -> None:
    # What the watch of a big batch needs: a page is let go once the next is asked for.
    refs: list[weakref.ref[Page]] = []
    polls = 0
    held_while_fetching = []

    async def fetch() -> AsyncIterator[Sequence[DeliveryReport]]:
        nonlocal polls
        state = S.ACCEPTED if polls == 0 else S.DELIVERED
        polls += 1
        for i in range(6):
            gc.collect()
            held_while_fetching.append(sum(ref() is not None for ref in refs))
            page = Page([rep(f"{i}-{j}", state) for j in range(3)])
            refs.append(weakref.ref(page))
            yield page
            del page

    alive = []
    async for _change in poll_changes(fetch, interval=FAST):
        gc.collect()
        alive.append(sum(ref() is not None for ref in refs))
    assert polls == 2
    assert alive == [1] * 36  # only the page being handed out
    assert held_while_fetching == [0] * 12  # none, even across the pause between polls


async def test_the_watch_ends_only_after_a_complete_poll() -> None:
    # After the first page everyone seen is final, but the poll had not ended: it
    # fails on page two, so a second (complete) poll is needed, and finds B.
    fetch = Script(
        Paged([rep("A", S.DELIVERED)], retryable()),
        [rep("A", S.DELIVERED), rep("B", S.DELIVERED)],
    )
    changes = await collect(poll_changes(fetch, interval=FAST))
    assert seen(changes) == [("A", None, S.DELIVERED), ("B", None, S.DELIVERED)]
    assert fetch.calls == 2


async def test_the_last_poll_is_read_to_its_end() -> None:
    exhausted = False

    async def fetch() -> AsyncIterator[Sequence[DeliveryReport]]:
        nonlocal exhausted
        yield [rep("A", S.DELIVERED)]
        exhausted = True  # reached only if the watch asks past the last page

    assert [c.state for c in await collect(poll_changes(fetch, interval=FAST))] == [S.DELIVERED]
    assert exhausted


async def test_a_failed_page_keeps_the_changes_before_it_and_counts_as_a_failure() -> None:
    fetch = Script(
        Paged([rep("A", S.ACCEPTED)], retryable()),
        Paged([rep("A", S.ACCEPTED)], retryable()),
        [rep("A", S.DELIVERED)],
    )
    changes = await collect(poll_changes(fetch, interval=FAST, max_failures=3))
    assert seen(changes) == [("A", None, S.ACCEPTED), ("A", S.ACCEPTED, S.DELIVERED)]
    with pytest.raises(TransportError):  # two failed polls in a row are too many now
        await collect(poll_changes(Script(*fetch.items), interval=FAST, max_failures=2))


async def test_the_pages_are_closed_when_the_consumer_leaves_mid_poll() -> None:
    fetch = Script([rep("A", S.ACCEPTED), rep("B", S.ACCEPTED), rep("C", S.ACCEPTED)])
    changes = poll_changes(fetch, interval=FAST)
    assert (await changes.__anext__()).report.mobile == "A"
    assert fetch.closed == 0
    await changes.aclose()
    assert fetch.closed == 1
    assert fetch.pages == 1  # and no page more was asked for


async def test_breaking_out_mid_poll_closes_the_pages() -> None:
    fetch = Script([rep("A", S.ACCEPTED), rep("B", S.ACCEPTED)])
    async with contextlib.aclosing(poll_changes(fetch, interval=FAST)) as changes:
        async for _change in changes:
            break
    assert (fetch.calls, fetch.closed) == (1, 1)


async def test_the_pages_are_closed_when_a_page_fails() -> None:
    fetch = Script(Paged([rep("A", S.ACCEPTED)], retryable()), [rep("A", S.DELIVERED)])
    await collect(poll_changes(fetch, interval=FAST))
    assert fetch.calls == fetch.closed == 2


async def test_stop_after_cuts_a_hanging_page_short_and_closes_the_pages() -> None:
    cleaned = False

    async def fetch() -> AsyncIterator[Sequence[DeliveryReport]]:
        nonlocal cleaned
        try:
            yield [rep("A", S.ACCEPTED)]
            await anyio.sleep(30)
            yield [rep("B", S.ACCEPTED)]
        finally:
            cleaned = True

    started = time.perf_counter()
    changes = await collect(poll_changes(fetch, interval=FAST, stop_after=0.05))
    assert seen(changes) == [("A", None, S.ACCEPTED)]
    assert time.perf_counter() - started < 2.0
    assert cleaned


async def test_stop_after_never_cuts_the_consumer_short_mid_poll() -> None:
    # One poll of three pages; the consumer dawdles past the deadline on page one.
    # Its sleep is never cancelled; the watch ends quietly before the next page.
    fetch = Script([rep("A", S.ACCEPTED), rep("B", S.ACCEPTED), rep("C", S.ACCEPTED)])
    got = []
    async for change in poll_changes(fetch, interval=FAST, stop_after=0.03):
        got.append(change.report.mobile)
        await anyio.sleep(0.06)
    assert got == ["A"]
    assert fetch.closed == 1


# ======================================================================= malformed replies


def malformed() -> ResponseFormatError:
    return ResponseFormatError("unreadable reply", provider="every8d")


async def test_a_malformed_reply_is_retried() -> None:
    fetch = Script(malformed(), malformed(), [rep("A", S.DELIVERED)])
    changes = await collect(poll_changes(fetch, interval=FAST, max_failures=3))
    assert seen(changes) == [("A", None, S.DELIVERED)]
    assert fetch.calls == 3


async def test_malformed_replies_back_off() -> None:
    fetch = Script(malformed(), malformed(), [rep("A", S.DELIVERED)])
    await collect(poll_changes(fetch, interval=0.01, max_failures=5))
    first, second = (b - a for a, b in zip(fetch.times, fetch.times[1:], strict=False))
    assert first >= 0.018
    assert second >= 0.038


async def test_malformed_replies_are_raised_after_max_failures_in_a_row() -> None:
    errors = [malformed() for _ in range(5)]
    fetch = Script(*errors)
    with pytest.raises(ResponseFormatError) as info:
        await collect(poll_changes(fetch, interval=FAST, max_failures=3))
    assert info.value is errors[2]
    assert fetch.calls == 3


async def test_malformed_replies_and_transport_failures_count_together() -> None:
    fetch = Script(retryable(), malformed(), retryable(), [rep("A", S.DELIVERED)])
    with pytest.raises(TransportError):
        await collect(poll_changes(fetch, interval=FAST, max_failures=3))
    fetch = Script(retryable(), malformed(), [rep("A", S.ACCEPTED)], malformed(), retryable())
    fetch.items.append([rep("A", S.DELIVERED)])
    changes = await collect(poll_changes(fetch, interval=FAST, max_failures=3))
    assert [c.state for c in changes] == [S.ACCEPTED, S.DELIVERED]


async def test_a_malformed_page_mid_poll_is_retried() -> None:
    fetch = Script(Paged([rep("A", S.ACCEPTED)], malformed()), [rep("A", S.DELIVERED)])
    changes = await collect(poll_changes(fetch, interval=FAST))
    assert seen(changes) == [("A", None, S.ACCEPTED), ("A", S.ACCEPTED, S.DELIVERED)]


# ======================================================================= pages vs snapshots


class LegacyTracker:
    """The tracker as it was before pages: a dict of states, a per-snapshot count."""

    def __init__(self, *, by_message_id: bool = True) -> None:
        self.states: dict[object, DeliveryState] = {}
        self.by_id = by_message_id

    def _observe(self, key: object, report: DeliveryReport) -> StatusChange | None:
        previous = self.states.get(key)
        if previous is report.state or (previous is not None and previous.is_final):
            return None
        self.states[key] = report.state
        return StatusChange(report=report, previous=previous, state=report.state)

    def update(self, snapshot: Sequence[DeliveryReport]) -> list[StatusChange]:
        changes, counts = [], {}  # type: ignore[var-annotated]
        for report in snapshot:
            key: object = report.message_id if self.by_id else None
            if key is None:
                number = (report.batch_id, report.mobile)
                counts[number] = n = counts.get(number, -1) + 1
                key = (*number, n)
            if (change := self._observe(key, report)) is not None:
                changes.append(change)
        return changes

    def push(self, report: DeliveryReport) -> StatusChange | None:
        key: object = report.message_id if self.by_id else None
        return self._observe((report.batch_id, report.mobile, 0) if key is None else key, report)

    @property
    def all_final(self) -> bool:
        return bool(self.states) and all(s.is_final for s in self.states.values())


def a_report() -> st.SearchStrategy[DeliveryReport]:
    return st.builds(
        rep,
        st.sampled_from("ABC"),
        st.sampled_from(list(DeliveryState)),
        message_id=st.one_of(st.none(), st.sampled_from(["m1", "m2"])),
        batch=st.sampled_from(["b1", "b2"]),
    )


# One poll: a snapshot and where to cut it into pages; or one pushed report.
STEPS = st.lists(
    st.one_of(
        st.tuples(st.lists(a_report(), max_size=8), st.lists(st.integers(0, 8), max_size=4)),
        a_report(),
    ),
    max_size=10,
)


def cut(snapshot: list[DeliveryReport], at: list[int]) -> list[list[DeliveryReport]]:
    bounds = [0, *sorted(min(i, len(snapshot)) for i in at), len(snapshot)]
    return [snapshot[a:b] for a, b in itertools.pairwise(bounds)]  # empty pages included


def trace(changes: Sequence[StatusChange]) -> list[tuple[int, DeliveryState | None]]:
    return [(id(c.report), c.previous) for c in changes]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=STEPS, by_message_id=st.booleans())
def test_pages_give_the_same_changes_as_a_snapshot_however_cut(
    steps: list[tuple[list[DeliveryReport], list[int]] | DeliveryReport], by_message_id: bool
) -> None:
    whole = ChangeTracker(by_message_id=by_message_id)
    paged = ChangeTracker(by_message_id=by_message_id)
    legacy = LegacyTracker(by_message_id=by_message_id)
    for step in steps:
        if isinstance(step, DeliveryReport):  # a push between polls
            pushes = [whole.push(step), paged.push(step), legacy.push(step)]
            assert len({None if c is None else (c.previous, c.state) for c in pushes}) == 1
            continue
        snapshot, at = step
        expected = whole.update(snapshot)
        paged.begin_poll()
        got = [
            change
            for page in cut(snapshot, at)
            for report in page
            if (change := paged.observe(report)) is not None
        ]
        assert trace(got) == trace(expected) == trace(legacy.update(snapshot))
        assert [c.state for c in got] == [c.state for c in expected]
        assert paged.all_final is whole.all_final is legacy.all_final
        assert paged.recipients == whole.recipients == len(legacy.states)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    polls=st.lists(
        st.tuples(st.lists(a_report(), max_size=6), st.lists(st.integers(0, 6), max_size=3)),
        min_size=1,
        max_size=5,
    )
)
def test_poll_changes_over_pages_yields_what_update_gives(
    polls: list[tuple[list[DeliveryReport], list[int]]],
) -> None:
    # What update() gives poll by poll, up to the first poll that leaves all final.
    tracker = ChangeTracker()
    expected: list[StatusChange] = []
    for snapshot, _ in polls:
        expected += tracker.update(snapshot)
        if tracker.all_final:
            break
    done = RuntimeError("no more polls scripted")  # ends a watch that has not ended
    fetch = Script(*(Paged(*cut(snapshot, at)) for snapshot, at in polls), done)

    async def run() -> list[StatusChange]:
        out: list[StatusChange] = []
        with contextlib.suppress(RuntimeError):
            async for change in poll_changes(fetch, interval=0.0001):
                out.append(change)
        return out

    got = anyio.run(run)
    assert trace(got) == trace(expected)
