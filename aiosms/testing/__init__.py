"""A local simulator of the SMS gateways aiosms speaks to, for tests and benchmarks.

:class:`Simulator` runs an ``aiohttp.web`` server on ``127.0.0.1`` and a free port. It
speaks the providers' wire formats (EVERY8D's Web Services API 2.1, SOAP 1.1 and 1.2,
and its HTTP API 2.1, SMS and MMS; the EIMS JSON gateway; SMSCenter's web services,
HTTP push and Email 2 SMS), keeps accounts, credit, session keys and
batches, moves messages from "accepted" to a final status over time, pushes status
changes to a URL, and can misbehave on demand (:class:`Faults`)::

    from decimal import Decimal

    import aiosms
    from aiosms.testing import Simulator

    async with Simulator() as sim:
        sim.every8d.add_account("acme", "s3cret", credit=Decimal("50"))
        sim.faults.drop(operation="sendSMS", after_processing=True)   # outcome unknown

        async with aiosms.Every8dSoapClient("acme", "s3cret", base_url=sim.url) as sms:
            ...

        sim.advance(3600)                      # an hour later: scheduled sends go out
        assert sim.every8d.count("getConnection") == 1

Batches can be seeded without HTTP (``sim.every8d.create_batch("demo", numbers)``), each
recipient's final status scripted (``sim.every8d.fate = lambda mobile: "100"``), and
replies added (``sim.every8d.add_reply(batch_id, mobile, "yes")``).

The HTTP API answers at ``sim.url + "/API21/HTTP/sendSMS.ashx"`` and its siblings
(``MMS/sendMMS.ashx``, ``getDeliveryStatus.ashx``, ``getCredit.ashx``…), checking
``UID``/``PWD`` on every call; ``sim.every8d_http.calls`` logs them, and
``report_columns = 6`` or ``pad_reports = True`` make its TAB status pages look like
newer services'. MMS batches (``batch.kind == "mms"``, 3 points a recipient) are
``300`` until they are sent, then ``700``; ``303`` once cancelled.

The EIMS gateway answers at ``sim.url + "/sendsms"``, ``/getreport``, ``/getsms``,
``/getbalance`` and ``/smsjob`` on an :class:`EimsWorld` of its own (``sim.eims.world``:
plain and signed accounts, inbound messages, tasks, reports PUT to ``push_url``);
``sim.eims.calls`` logs its calls, and fault rules name them without the slash
(``"sendsms"``).

SMSCenter answers at ``sim.url + "/Web/WebServices/SendMessage.aspx"``
(``SendMessageReturnMessageID``, ``SendMessagesV2``), ``…/SendIVRMessage.aspx``
(``SendIVRMessages``, ``GetMessagesResponseByMessageID``),
``/web/webservices/CheckPrePaid.asmx`` (``CheckCompanyPrePaid``, ``CheckUsersPrePaid``)
and ``/Web/pushsms.aspx`` (GET or form POST), all on one :class:`SmsCenterWorld`
(``sim.smscenter.world``: accounts with prepaid SMS and IVR seconds, messages whose
recipients progress 300 → 500 → final, IVR calls, delivery notifications GET from
``notify_url`` until answered ``_OK_``, and ``mails`` taken by the Email 2 SMS intake of
``Simulator(smtp=True)``, on ``sim.smtp_port``). ``Simulator(tls=True)`` serves
everything over HTTPS with a throwaway certificate that ``sim.client_ssl_context()``
trusts. Fault rules name the SOAP operations and ``"pushsms.aspx"``.

Each provider is one *world* (:class:`Every8dWorld`: accounts, credit, batches, pushes)
served by one or more *endpoints* (:class:`Every8dSoapService`, ``sim.every8d``, whose
``world`` it is, and :class:`Every8dHttpService`, ``sim.every8d_http``, the HTTP API on
the same world); endpoints of one world share everything but their call logs: a batch
sent by SOAP shows in the HTTP reports, and both spend one credit balance. Fault rules
name the HTTP API's operations by path (``"sendSMS.ashx"``, ``"MMS/sendMMS.ashx"``,
``"getDeliveryStatus.ashx"``…), so they never catch a SOAP call (``"sendSMS"``). ASMX
endpoints share their SOAP serving, and every service that pushes is a
:class:`PushSource` the simulator's push loop serves.

:class:`ThreadedSimulator` runs a :class:`Simulator` on an event loop of its own in a
background thread, for code with no running loop (sync tests, FastAPI's ``TestClient``,
another process given its URL): ``with ThreadedSimulator() as sim:``, then
``sim.url``, ``sim.client_url("eims")`` (the :func:`aiosms.from_url` URL; the async
simulator has :meth:`Simulator.client_url` too) and ``sim.call(fn, *args)`` to touch
the simulator's state on its own thread.

With pytest, ``pytest_plugins = ["aiosms.testing.pytest_plugin"]`` provides an
``sms_simulator`` fixture, a ``sms_simulator_thread`` (a :class:`ThreadedSimulator`),
an open client per provider (``every8d_soap_client``, ``every8d_http_client``,
``eims_client``, ``smscenter_client``) and ``any_sms_client``, run once per provider.
"""

from __future__ import annotations

from ._eims import EimsAccount, EimsCall, EimsMessage, EimsService, EimsWorld
from ._every8d import (
    TAIPEI,
    Every8dAccount,
    Every8dBatch,
    Every8dRecipient,
    Every8dReply,
    Every8dWorld,
    default_fate,
    message_cost,
)
from ._every8d_http import Every8dHttpCall, Every8dHttpService
from ._every8d_soap import Every8dCall, Every8dSoapService
from ._faults import FaultKind, FaultPlan, FaultRule, Faults
from ._push import PushOutbox, PushSource
from ._server import SimulatedService, Simulator
from ._smscenter import SmsCenterCall, SmsCenterService
from ._smscenter_mail import SmsCenterMailHandler
from ._smscenter_model import (
    ISRAEL,
    SmsCenterAccount,
    SmsCenterEvent,
    SmsCenterIvrCall,
    SmsCenterIvrMessage,
    SmsCenterMessage,
    SmsCenterRecipient,
)
from ._smscenter_model import default_fate as smscenter_fate
from ._smscenter_model import default_ivr_fate as smscenter_ivr_fate
from ._smscenter_notify import SmsCenterAttempt, SmsCenterNotification
from ._smscenter_world import SmsCenterMail, SmsCenterWorld
from ._threaded import ThreadedSimulator

__all__ = [
    "ISRAEL",
    "TAIPEI",
    "EimsAccount",
    "EimsCall",
    "EimsMessage",
    "EimsService",
    "EimsWorld",
    "Every8dAccount",
    "Every8dBatch",
    "Every8dCall",
    "Every8dHttpCall",
    "Every8dHttpService",
    "Every8dRecipient",
    "Every8dReply",
    "Every8dSoapService",
    "Every8dWorld",
    "FaultKind",
    "FaultPlan",
    "FaultRule",
    "Faults",
    "PushOutbox",
    "PushSource",
    "SimulatedService",
    "Simulator",
    "SmsCenterAccount",
    "SmsCenterAttempt",
    "SmsCenterCall",
    "SmsCenterEvent",
    "SmsCenterIvrCall",
    "SmsCenterIvrMessage",
    "SmsCenterMail",
    "SmsCenterMailHandler",
    "SmsCenterMessage",
    "SmsCenterNotification",
    "SmsCenterRecipient",
    "SmsCenterService",
    "SmsCenterWorld",
    "ThreadedSimulator",
    "default_fate",
    "message_cost",
    "smscenter_fate",
    "smscenter_ivr_fate",
]
