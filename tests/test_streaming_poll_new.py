"""aiosms._streaming.poll_new: the inbound loop (each item once, a follow-up after a
full answer, failures waited out or raised), with a scripted fetch and no network."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import anyio
import pytest

from aiosms import InvalidRequestError, ProviderError, ResponseFormatError, TransportError
from aiosms._streaming import poll_new


def scripted(*answers: Sequence[int] | Exception) -> tuple[list[float], object]:
    """A fetch answering ``answers`` in turn (then nothing), and the times it was called."""
    calls: list[float] = []
    queue = list(answers)

    async def fetch() -> Sequence[int]:
        calls.append(anyio.current_time())
        answer = queue.pop(0) if queue else []
        if isinstance(answer, Exception):
            raise answer
        return answer

    return calls, fetch


async def take(n: int, **kwargs: object) -> list[int]:
    items = []
    with anyio.fail_after(5):
        async for item in poll_new(**kwargs):  # type: ignore[arg-type]
            items.append(item)
            if len(items) == n:
                break
    return items


async def test_a_full_answer_is_followed_at_once_and_repeats_are_dropped() -> None:
    calls, fetch = scripted([1, 2, 3], [3, 4, 5], [5, 6], [7])
    got = await take(7, fetch=fetch, key=lambda i: i, interval=0.2, full=3)
    assert got == [1, 2, 3, 4, 5, 6, 7]
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert gaps[0] < 0.1
    assert gaps[1] < 0.1
    assert gaps[2] >= 0.2  # after a short one: the interval


async def test_only_the_last_remembered_keys_are_kept() -> None:
    _calls, fetch = scripted([1, 2], [3], [1], [9])
    got = await take(4, fetch=fetch, key=lambda i: i, interval=0.01, full=99, remember=2)
    assert got == [1, 2, 3, 1]  # 1 was forgotten once 2 and 3 came after it


async def test_transient_failures_are_waited_out_and_a_run_of_them_raised() -> None:
    transient = TransportError("HTTP 503", provider="eims", status=503, retryable=True)
    calls, fetch = scripted(transient, ResponseFormatError("garbled"), [1])
    assert await take(1, fetch=fetch, key=lambda i: i, interval=0.01, full=9) == [1]
    assert len(calls) == 3
    calls, fetch = scripted(*[transient] * 3)
    with pytest.raises(TransportError):
        await take(1, fetch=fetch, key=lambda i: i, interval=0.01, full=9, max_failures=3)
    assert len(calls) == 3
    calls, fetch = scripted(ProviderError("refused", provider="eims", code="-2"))
    with pytest.raises(ProviderError):  # an answer, not a failure: raised at once
        await take(1, fetch=fetch, key=lambda i: i, interval=0.01, full=9)
    assert len(calls) == 1


async def test_a_bad_interval_is_refused() -> None:
    _, fetch = scripted()
    with pytest.raises(InvalidRequestError):
        await take(1, fetch=fetch, key=lambda i: i, interval=0, full=1)
