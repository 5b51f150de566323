"""The EVERY8D world, independent of the API it is reached by.

* :mod:`._common`: Taipei time, number rules, the price table, default fates;
* :mod:`._batch`: :class:`Every8dBatch` (column-wise) and recipient snapshots;
* :mod:`._documents`: EVERY8D's result documents and the ``sendParamSMS`` document;
* :mod:`._http`: what only the HTTP API has: the MMS rules and the TAB status pages;
* :mod:`._pushes`: which status changes and replies are owed a push;
* :mod:`._world`: :class:`Every8dWorld`, accounts, sessions, operations and pushes.

The endpoints live beside this package (``_every8d_soap.py``, ``_every8d_http.py``).
"""

from __future__ import annotations

from ._batch import Every8dBatch, Every8dRecipient, Every8dReply
from ._common import TAIPEI, default_fate, is_international, message_cost
from ._world import Every8dAccount, Every8dWorld

__all__ = [
    "TAIPEI",
    "Every8dAccount",
    "Every8dBatch",
    "Every8dRecipient",
    "Every8dReply",
    "Every8dWorld",
    "default_fate",
    "is_international",
    "message_cost",
]
