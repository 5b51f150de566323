"""The EIMS JSON HTTP gateway: :class:`~aiosms.EimsClient` and what it takes.

* :mod:`aiosms.eims.codec`: authentication (plain or MD5-signed), result codes,
  balance and sends (10,000 numbers a request, ``smsarray`` for personalized ones);
* :mod:`aiosms.eims.reports`: delivery reports and inbound messages;
* :mod:`aiosms.eims.jobs`: scheduled tasks, one class per task type;
* :mod:`aiosms.eims.push`: the reports the gateway PUTs to your URL
  (:class:`aiosms.webhooks.EimsPushReceiver`).

All pure but the client and the receiver.
"""

from .client import EimsClient as EimsClient
from .codec import EimsText as EimsText
from .jobs import At as At
from .jobs import Daily as Daily
from .jobs import EimsJob as EimsJob
from .jobs import Every as Every
from .jobs import Immediate as Immediate
from .jobs import Monthly as Monthly
from .jobs import Weekly as Weekly

__all__ = [
    "At",
    "Daily",
    "EimsClient",
    "EimsJob",
    "EimsText",
    "Every",
    "Immediate",
    "Monthly",
    "Weekly",
]
