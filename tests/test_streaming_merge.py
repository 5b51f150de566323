"""aiosms._streaming.merge_streams: early exits, errors as themselves, adding sources."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import AsyncIterator

import anyio
import pytest

from aiosms import ResponseFormatError, SmsError, TransportError
from aiosms._streaming import merge_streams

NO_SOURCES: list[AsyncIterator[str]] = []


class MyError(Exception):
    """The user's own exception."""


class Abort(BaseException):
    """A BaseException that is not an Exception, like KeyboardInterrupt (which the
    asyncio loop itself would re-raise, ending the test run)."""


async def forever(tag: str, closed: list[str] | None = None) -> AsyncIterator[str]:
    """A source that always has an item ready."""
    n = 0
    try:
        while True:
            yield f"{tag}{n}"
            n += 1
    finally:
        if closed is not None:
            closed.append(tag)


async def items(*values: str, delay: float = 0.0) -> AsyncIterator[str]:
    for value in values:
        await anyio.sleep(delay)
        yield value


def raise_format_error() -> None:
    try:
        int("<oops")  # the cause of the error below
    except ValueError as exc:
        raise ResponseFormatError("unreadable reply", provider="every8d") from exc


async def failing(after: int = 0) -> AsyncIterator[str]:
    for i in range(after):
        yield f"ok{i}"
    await anyio.lowlevel.checkpoint()
    raise_format_error()
    yield "never"


async def drain(sources: list[AsyncIterator[str]]) -> None:
    """Read a merge of ``sources`` to its end, letting others run between items."""
    async with merge_streams(sources) as merged:
        async for _item in merged:
            await anyio.lowlevel.checkpoint()


# ======================================================================= early exit


@pytest.mark.parametrize("buffer", [0, 1, 256])
async def test_leaving_early_is_always_quiet(buffer: int) -> None:
    # Every source has an item ready at every moment, so whenever the consumer
    # leaves, some are blocked on a full buffer in the middle of sending.
    with anyio.fail_after(20):
        for stop_at in range(1, 201):
            closed: list[str] = []
            sources = [forever(tag, closed) for tag in "abcde"]
            n = 0
            async with merge_streams(sources, buffer=buffer) as merged:
                async for _item in merged:
                    n += 1
                    if n >= stop_at % 7 + 1:
                        break
            assert sorted(closed) == list("abcde")  # every source's cleanup ran


async def test_leaving_early_without_reading_is_quiet() -> None:
    for _ in range(50):
        async with merge_streams([forever("a"), forever("b")], buffer=1):
            await anyio.lowlevel.checkpoint()


async def test_the_stream_ends_when_every_source_has() -> None:
    async with merge_streams([items("a1", "a2"), items("b1", delay=0.01)]) as merged:
        got = [item async for item in merged]
    assert sorted(got) == ["a1", "a2", "b1"]


@pytest.mark.parametrize("buffer", [0, 1, 3, 256])
async def test_every_item_arrives_when_sources_end_together(buffer: int) -> None:
    # The first source to end must not end the stream while others' items are still
    # buffered behind it (the bug a three-batch watch_many showed).
    sources = [items(*(f"{tag}{i}" for i in range(4))) for tag in "abcdefgh"]
    async with merge_streams(sources, buffer=buffer) as merged:
        got = [item async for item in merged]
    assert sorted(got) == sorted(f"{tag}{i}" for tag in "abcdefgh" for i in range(4))


async def test_no_sources_end_at_once() -> None:
    async with merge_streams(NO_SOURCES) as merged:
        assert [item async for item in merged] == []


# ======================================================================= errors as themselves


async def test_your_own_exception_leaves_as_itself() -> None:
    error = MyError("mine")

    async def run() -> None:
        async with merge_streams([forever("a"), forever("b")]) as merged:
            async for _item in merged:
                raise error

    with pytest.raises(MyError) as info:
        await run()
    assert info.value is error
    frames = [entry.name for entry in info.traceback]
    assert "run" in frames  # the traceback still reaches the line that raised it
    assert not getattr(error, "__notes__", None)


async def test_a_source_error_leaves_as_itself_with_its_traceback_and_cause() -> None:
    got: list[str] = []

    async def run() -> None:
        async with merge_streams([failing(after=2), items("x", delay=10)]) as merged:
            async for item in merged:
                got.append(item)

    with pytest.raises(SmsError) as info:
        await run()
    assert type(info.value) is ResponseFormatError
    assert isinstance(info.value.__cause__, ValueError)  # kept as it was raised
    text = "".join(traceback.format_exception(info.value))
    assert "raise_format_error" in text
    assert "failing" in text
    assert got == ["ok0", "ok1"]  # what came before the error is handed out first


async def test_a_source_error_stops_the_other_sources() -> None:
    closed: list[str] = []
    with pytest.raises(ResponseFormatError):
        await drain([forever("a", closed), failing(), forever("b", closed)])
    assert sorted(closed) == ["a", "b"]


async def test_a_source_error_not_yet_read_is_raised_on_leaving() -> None:
    with pytest.raises(ResponseFormatError):
        async with merge_streams([failing()]):
            await anyio.sleep(0.02)  # the source fails meanwhile; nobody reads it


async def test_several_failures_raise_the_first_with_the_others_as_notes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = TransportError("HTTP 503", provider="every8d", status=503)

    async def fails_first() -> AsyncIterator[str]:
        await anyio.sleep(0.01)
        raise first
        yield "never"

    async def fails_when_stopped() -> AsyncIterator[str]:
        try:
            await anyio.sleep(30)
        finally:
            raise MyError("failed while being stopped")
        yield "never"

    with (
        caplog.at_level(logging.WARNING, logger="aiosms.watch"),
        pytest.raises(TransportError) as info,
    ):
        await drain([fails_first(), fails_when_stopped()])
    assert info.value is first
    assert any("MyError: failed while being stopped" in note for note in first.__notes__)
    assert any(r.exc_info and isinstance(r.exc_info[1], MyError) for r in caplog.records)


async def test_your_exception_wins_over_a_source_error_left_unread() -> None:
    error = MyError("mine")

    async def run() -> None:
        async with merge_streams([failing()]):
            await anyio.sleep(0.02)
            raise error

    with pytest.raises(MyError) as info:
        await run()
    assert info.value is error
    assert any("ResponseFormatError" in note for note in error.__notes__)


async def test_a_base_exception_in_the_body_leaves_as_itself() -> None:
    abort = Abort()

    async def run() -> None:
        async with merge_streams([forever("a")]) as merged:
            async for _item in merged:
                raise abort

    with pytest.raises(Abort) as info:
        await run()
    assert info.value is abort


async def test_a_base_exception_in_a_source_leaves_as_itself() -> None:
    abort = Abort()

    async def aborts() -> AsyncIterator[str]:
        await anyio.sleep(0.01)
        raise abort
        yield "never"

    with pytest.raises(Abort) as info:
        await drain([aborts(), forever("b")])
    assert info.value is abort


async def test_cancelling_from_outside_still_cancels() -> None:
    closed: list[str] = []
    with anyio.move_on_after(0.05) as scope:
        async with merge_streams([forever("a", closed), items("b", delay=30)]) as merged:
            async for _item in merged:
                await anyio.sleep(0.001)
    assert scope.cancelled_caught
    assert closed == ["a"]


async def test_cancelling_the_host_task_still_cancels() -> None:
    started = asyncio.Event()

    async def watch() -> None:
        async with merge_streams([items("a", delay=30)]) as merged:
            started.set()
            async for _item in merged:
                pass

    task = asyncio.ensure_future(watch())
    await started.wait()
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()


async def test_cancellation_wins_over_a_source_error_left_unread() -> None:
    with anyio.move_on_after(0.05) as scope:
        async with merge_streams([failing()]):
            await anyio.sleep(30)  # the source fails meanwhile; then we are cancelled
    assert scope.cancelled_caught


async def test_timeout_around_the_merge_raises_timeout_error() -> None:
    async def run() -> None:
        async with asyncio.timeout(0.03), merge_streams([forever("a")]) as merged:
            async for _item in merged:
                await asyncio.sleep(0.001)

    with pytest.raises(TimeoutError):
        await run()


# ======================================================================= adding sources


async def test_a_source_added_while_running_is_merged_in() -> None:
    async with merge_streams([items("a1", "a2", delay=0.01)]) as merged:
        got = [await merged.receive()]
        merged.add(items("b1", "b2"))
        got += [item async for item in merged]
    assert sorted(got) == ["a1", "a2", "b1", "b2"]


async def test_the_stream_waits_for_every_source_added() -> None:
    async with merge_streams([items("a")]) as merged:
        assert await merged.receive() == "a"
        merged.add(items("b", delay=0.05))  # the first source has ended by now
        assert [item async for item in merged] == ["b"]


async def test_a_source_may_be_added_after_the_others_ended_until_the_end_is_read() -> None:
    async with merge_streams([items("a")]) as merged:
        assert await merged.receive() == "a"
        await anyio.sleep(0.02)  # every source has ended; the end is not read yet
        merged.add(items("b"))
        assert [item async for item in merged] == ["b"]


async def test_adding_to_an_empty_merge_before_reading() -> None:
    async with merge_streams(NO_SOURCES) as merged:
        merged.add(items("a"))
        assert [item async for item in merged] == ["a"]


async def test_adding_after_the_end_is_refused() -> None:
    async with merge_streams([items("a")]) as merged:
        assert [item async for item in merged] == ["a"]
        with pytest.raises(RuntimeError, match="ended"):
            merged.add(items("b"))


async def test_adding_after_leaving_is_refused() -> None:
    async with merge_streams([forever("a")]) as merged:
        await merged.receive()
    with pytest.raises(RuntimeError, match="left"):
        merged.add(items("b"))
    with pytest.raises(anyio.ClosedResourceError):
        await merged.receive()


async def test_adding_after_a_source_failed_raises_its_error() -> None:
    # Not a RuntimeError: a bot that adds each new batch must still see the real
    # error with "except SmsError".
    async def run() -> None:
        async with merge_streams([failing(), items("x", delay=10)]) as merged:
            await anyio.sleep(0.02)  # the first source fails meanwhile
            merged.add(items("b"))

    with pytest.raises(ResponseFormatError) as info:
        await run()
    assert "add" in [entry.name for entry in info.traceback]


async def test_adding_after_a_source_error_was_read_is_refused() -> None:
    async with merge_streams([failing()]) as merged:
        with pytest.raises(ResponseFormatError):
            await merged.receive()
        with pytest.raises(RuntimeError, match="ended"):
            merged.add(items("b"))
        with pytest.raises(anyio.EndOfStream):
            await merged.receive()


async def test_adding_what_is_no_async_iterator_is_refused() -> None:
    async with merge_streams(NO_SOURCES) as merged:
        with pytest.raises(TypeError, match="async iterator"):
            merged.add("batch-id")  # type: ignore[arg-type]


async def test_sources_may_be_added_from_another_task() -> None:
    async with merge_streams([items("a", delay=0.05)]) as merged, anyio.create_task_group() as tg:

        async def adder() -> None:
            for tag in "bcd":
                merged.add(items(tag))
                await anyio.sleep(0.001)

        tg.start_soon(adder)
        got = sorted([item async for item in merged])
    assert got == ["a", "b", "c", "d"]
