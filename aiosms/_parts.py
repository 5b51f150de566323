"""Sends made of several requests, merged into one :class:`~aiosms.SendResult`; pure.

A provider that takes a limited number of recipients a request (EIMS: 10,000) or one
(SMSCenter's HTTP push) sends in parts. Each part either answers, with the ids of the
numbers it accepted and those it refused, or fails with an error; :func:`merge_parts`
makes the one result the caller sees. A failed part is never sent again here: the
result names it (``SendResult.failed``), and a lost answer says so
(:attr:`~aiosms.FailedPart.outcome_unknown`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .errors import SmsError
from .models import FailedPart, SendResult

__all__ = ["PartOutcome", "merge_parts"]

PartOutcome = tuple[Mapping[str, str], Sequence[str]] | SmsError
"""What became of one part: ``(number -> message id, numbers refused)``, or its error."""


def merge_parts(
    parts: Sequence[Sequence[str]], outcomes: Sequence[PartOutcome | None]
) -> SendResult:
    """One result for the parts of a send (each given by its numbers): every accepted
    number's id, the numbers refused, each failed part with its numbers and error, and
    ``sent``, the numbers of the parts that answered less those they refused.

    When every part failed, the first part's error is raised, the others added to it
    as notes: nothing is known to have been sent.
    """
    if len(outcomes) == 1 and isinstance(outcomes[0], tuple):  # one part: no copying
        ids, refused = outcomes[0]
        sent = len(parts[0]) - len(refused)
        return SendResult(None, sent, None, None, message_ids=ids, rejected=tuple(refused))
    message_ids: dict[str, str] = {}
    rejected: list[str] = []
    failed: list[FailedPart] = []
    sent = 0
    for numbers, outcome in zip(parts, outcomes, strict=True):
        if outcome is None:
            raise AssertionError("a part of the send has no outcome")  # pragma: no cover
        if isinstance(outcome, SmsError):
            failed.append(FailedPart(tuple(numbers), outcome))
        else:
            message_ids.update(outcome[0])
            rejected.extend(outcome[1])
            sent += len(numbers) - len(outcome[1])
    if failed and len(failed) == len(parts):
        first = failed[0].error
        for other in failed[1:4]:  # the next three named, the rest counted
            first.add_note(f"aiosms: another part of this send failed too: {other.error}")
        if len(failed) > 4:
            first.add_note(f"aiosms: … and {len(failed) - 4} more parts")
        raise first
    return SendResult(
        None,
        sent,
        None,
        None,
        message_ids=message_ids,
        rejected=tuple(rejected),
        failed=tuple(failed),
    )
