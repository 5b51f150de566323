"""SMSCenter (OfficeCore): SOAP web services, HTTP push, IVR voice calls, prepaid
balances, delivery notifications and Email→SMS.

* :mod:`aiosms.smscenter.numbers`: Israeli numbers in one normal form, and the
  GSM-7 / UCS-2 length rules;
* :mod:`aiosms.smscenter.codec`: the SOAP envelopes and replies, the HTTP push replies;
* :mod:`aiosms.smscenter.codes`: the notification status and reason codes;
* :mod:`aiosms.smscenter.push`: the delivery notifications
  (:class:`aiosms.webhooks.SmsCenterPushReceiver`);
* :mod:`aiosms.smscenter.email`: Email→SMS (``pip install "aiosms[email]"``).
"""

from .codec import MessageOption as MessageOption
from .codec import SmsOperation as SmsOperation
from .email import build_email as build_email
from .numbers import needs_chaining as needs_chaining
from .numbers import normalize_number as normalize_number

__all__ = ["MessageOption", "SmsOperation", "build_email", "needs_chaining", "normalize_number"]
