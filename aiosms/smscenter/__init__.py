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
