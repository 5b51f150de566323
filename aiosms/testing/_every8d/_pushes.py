"""EVERY8D push bookkeeping (spec §3.1): which status changes and replies are owed.

EVERY8D calls the customer's URL once for each status a recipient reaches and once for
each reply (``STATUS=999``). :class:`PushLedger` remembers, per recipient, the last
status pushed and how many replies were, so each is owed exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._batch import Every8dBatch
from ._common import REPLY, push_time

__all__ = ["PushLedger"]


class PushLedger:
    """What has been pushed so far, per (batch id, recipient index)."""

    def __init__(self) -> None:
        self._pushed: dict[tuple[str, int], tuple[str, int]] = {}  # status, replies pushed

    def due(self, batches: Iterable[Every8dBatch], now: float) -> list[dict[str, str]]:
        """The push queries owed at ``now``, and mark them as made.

        Each is ``{"BatchID", "RM", "MR", "SM", "USERID", "RT", "STATUS"}``: a status
        change carries ``RT`` = now; a reply carries its own time, ``STATUS=999`` and its
        text in ``SM``.
        """
        due = []
        for batch in batches:
            for index, mobile in enumerate(batch.mobiles):
                status = batch.status(index, now)
                replies = batch.replies(index, now)
                key = (batch.batch_id, index)
                last_status, last_replies = self._pushed.get(key, ("", 0))
                if status == last_status and len(replies) == last_replies:
                    continue
                self._pushed[key] = (status, len(replies))
                query = {
                    "BatchID": batch.batch_id,
                    "RM": mobile,
                    "MR": "",
                    "SM": "",
                    "USERID": batch.user_id,
                }
                if status != last_status:
                    due.append({**query, "RT": push_time(now), "STATUS": status})
                for at, text in replies[last_replies:]:
                    due.append({**query, "RT": push_time(at), "STATUS": REPLY, "SM": text})
        return due
