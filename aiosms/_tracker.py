"""The sans-I/O core of the watch engine: :class:`ChangeTracker`.

Feed it what a provider reports (a poll's reports page by page, a whole snapshot, or
single reports from push callbacks) and it returns only what changed, each change once.
No I/O, no clock: the async loop around it is :mod:`aiosms._streaming`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .models import DeliveryReport, DeliveryState, StatusChange

__all__ = ["ChangeTracker"]


class _Number:
    """The recipients sent to one number in one batch: almost always just one.

    ``poll`` is the poll the number was last seen in (``None``: only pushed so far);
    ``state`` is its first copy's; ``more``, for a number sent to more than once, is
    ``[copies seen in that poll, state of copy 1, state of copy 2, …]``.
    """

    __slots__ = ("more", "poll", "state")

    def __init__(self, poll: int | None, state: DeliveryState) -> None:
        self.poll = poll
        self.state = state
        self.more: list[Any] | None = None


class ChangeTracker:
    """Remembers each recipient's last state and reports only changes.

    A recipient is known by its ``message_id`` where the provider gives one; otherwise
    by ``(batch_id, mobile, n)``, the n-th time that number appears in a poll (a batch
    may send to the same number twice). Once a recipient is final, later reports about
    it are ignored, so a provider that flaps cannot make a change appear twice.

    With ``by_message_id=False`` recipients are always known by batch and number: for
    providers whose polled reports carry no id but whose pushed ones may (EVERY8D's
    ``MR``), so a change seen both ways is still reported once.

    A poll can be fed page by page, so that it never has to be held whole::

        tracker.begin_poll()
        async for page in pages:
            for report in page:
                if (change := tracker.observe(report)) is not None:
                    ...

    ``update(snapshot)`` is exactly ``begin_poll()`` and then ``observe()`` of each
    report, however the snapshot is cut into pages. Counting the copies of a number
    within a poll costs nothing per poll: each number keeps the poll it was last seen
    in, so no per-poll table grows with the batch. What the tracker keeps is one small
    record per recipient, keyed by the first report's own strings.
    """

    __slots__ = ("_by_id", "_numbers", "_pending", "_poll", "_recipients", "_states")

    def __init__(self, *, by_message_id: bool = True) -> None:
        self._by_id = by_message_id
        self._states: dict[str, DeliveryState] = {}  # by message id
        self._numbers: dict[str | None, dict[str, _Number]] = {}  # by batch, then number
        self._poll = 0
        self._recipients = 0
        self._pending = 0  # recipients seen whose state is not final

    def _change(
        self, previous: DeliveryState | None, report: DeliveryReport
    ) -> StatusChange | None:
        """The change from ``previous`` (``None``: a new recipient), counted; or None."""
        state = report.state
        if previous is None:
            self._recipients += 1
            self._pending += not state.is_final
        elif previous is state or previous.is_final:
            return None
        elif state.is_final:
            self._pending -= 1
        return StatusChange(report=report, previous=previous, state=state)

    def _by_message_id(self, key: str, report: DeliveryReport) -> StatusChange | None:
        change = self._change(self._states.get(key), report)
        if change is not None:
            self._states[key] = report.state
        return change

    def _first_copy(self, report: DeliveryReport, poll: int | None) -> StatusChange | None:
        numbers = self._numbers.get(report.batch_id)
        if numbers is None:
            numbers = self._numbers[report.batch_id] = {}
        entry = numbers.get(report.mobile)
        if entry is None:
            numbers[report.mobile] = _Number(poll, report.state)
            return self._change(None, report)
        if poll is not None and entry.poll == poll:
            return self._further_copy(entry, report)
        if poll is not None:  # the first sighting of this number in this poll
            entry.poll = poll
            if entry.more is not None:
                entry.more[0] = 1
        change = self._change(entry.state, report)
        if change is not None:
            entry.state = report.state
        return change

    def _further_copy(self, entry: _Number, report: DeliveryReport) -> StatusChange | None:
        more = entry.more
        if more is None:
            more = entry.more = [1]
        n = more[0]  # this is copy n of the number in this poll
        more[0] = n + 1
        if n == len(more):
            more.append(report.state)
            return self._change(None, report)
        change = self._change(more[n], report)
        if change is not None:
            more[n] = report.state
        return change

    def begin_poll(self) -> None:
        """Start a new poll: the copies of each number are counted afresh from here."""
        self._poll += 1

    def observe(self, report: DeliveryReport) -> StatusChange | None:
        """Take one report of the current poll; return its change, if it is one.

        The n-th report of a number (without a message id) in this poll is that
        number's n-th recipient, as in :meth:`update`.
        """
        if self._by_id and report.message_id is not None:
            return self._by_message_id(report.message_id, report)
        return self._first_copy(report, self._poll)

    def update(self, snapshot: Iterable[DeliveryReport]) -> list[StatusChange]:
        """Take a full snapshot of a batch; return the changes since the last one."""
        self.begin_poll()
        changes = []
        for report in snapshot:
            change = self.observe(report)
            if change is not None:
                changes.append(change)
        return changes

    def push(self, report: DeliveryReport) -> StatusChange | None:
        """Take one pushed report (keyed by message id, else by batch and number).

        A pushed report without a message id is about the first copy of its number.
        It does not count as a sighting in the current poll.
        """
        if self._by_id and report.message_id is not None:
            return self._by_message_id(report.message_id, report)
        return self._first_copy(report, None)

    def is_final(self, message_id: str) -> bool:
        """True when the recipient of ``message_id`` was seen in a final state (for
        providers that poll by message id: a final one need not be asked again)."""
        state = self._states.get(message_id)
        return state is not None and state.is_final

    @property
    def recipients(self) -> int:
        """How many recipients have been seen."""
        return self._recipients

    @property
    def all_final(self) -> bool:
        """True once at least one recipient was seen and every one seen is final."""
        return self._recipients > 0 and self._pending == 0
