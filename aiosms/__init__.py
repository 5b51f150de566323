"""aiosms: an asyncio client SDK for enterprise SMS gateways.

::

    import aiosms

    async with aiosms.Every8dSoapClient("user", "password") as sms:
        result = await sms.send("Your code is 1234", to=["+886912345678"])
        async for change in sms.watch(result.batch_id):
            print(change.report.mobile, change.previous, "->", change.state)
"""

import importlib
from typing import TYPE_CHECKING, Any

from ._bodies import log_bodies as log_bodies
from ._config import from_env as from_env
from ._config import from_url as from_url
from ._session import KeyStore as KeyStore
from ._session import MemoryKeyStore as MemoryKeyStore
from ._session import Refusal as Refusal
from ._session import SessionKey as SessionKey
from .errors import AccountBlockedError as AccountBlockedError
from .errors import AuthenticationError as AuthenticationError
from .errors import ClientClosedError as ClientClosedError
from .errors import InsufficientCreditError as InsufficientCreditError
from .errors import InvalidRequestError as InvalidRequestError
from .errors import ProviderBusyError as ProviderBusyError
from .errors import ProviderError as ProviderError
from .errors import ResponseFormatError as ResponseFormatError
from .errors import SendOutcomeUnknownError as SendOutcomeUnknownError
from .errors import SessionExpiredError as SessionExpiredError
from .errors import SmsError as SmsError
from .errors import TransportError as TransportError
from .models import Balance as Balance
from .models import CancelResult as CancelResult
from .models import DeliveryReport as DeliveryReport
from .models import DeliveryState as DeliveryState
from .models import Details as Details
from .models import EimsBalance as EimsBalance
from .models import FailedPart as FailedPart
from .models import InboundMessage as InboundMessage
from .models import Personalized as Personalized
from .models import Reply as Reply
from .models import SendResult as SendResult
from .models import SmsCenterBalance as SmsCenterBalance
from .models import StatusChange as StatusChange
from .models import UserPrepaid as UserPrepaid
from .models import UsersPrepaid as UsersPrepaid
from .models import from_dict as from_dict
from .models import to_dict as to_dict

# The clients (and what imports aiohttp) are imported when first used, so that
# ``import aiosms`` costs the models and errors only; type checkers see them as usual.
_LAZY = {
    "EimsClient": "aiosms.eims.client",
    "Every8dHttpClient": "aiosms.every8d.http",
    "Every8dSoapClient": "aiosms.every8d.soap",
    "SmsCenterClient": "aiosms.smscenter.client",
    "SmsClient": "aiosms._protocol",
    "WatchStream": "aiosms._client",
}

if TYPE_CHECKING:
    from ._client import WatchStream as WatchStream
    from ._protocol import SmsClient as SmsClient
    from .eims.client import EimsClient as EimsClient
    from .every8d.http import Every8dHttpClient as Every8dHttpClient
    from .every8d.soap import Every8dSoapClient as Every8dSoapClient
    from .smscenter.client import SmsCenterClient as SmsCenterClient


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__version__ = "0.1.0"

__all__ = [
    "AccountBlockedError",
    "AuthenticationError",
    "Balance",
    "CancelResult",
    "ClientClosedError",
    "DeliveryReport",
    "DeliveryState",
    "Details",
    "EimsBalance",
    "EimsClient",
    "Every8dHttpClient",
    "Every8dSoapClient",
    "FailedPart",
    "InboundMessage",
    "InsufficientCreditError",
    "InvalidRequestError",
    "KeyStore",
    "MemoryKeyStore",
    "Personalized",
    "ProviderBusyError",
    "ProviderError",
    "Refusal",
    "Reply",
    "ResponseFormatError",
    "SendOutcomeUnknownError",
    "SendResult",
    "SessionExpiredError",
    "SessionKey",
    "SmsCenterBalance",
    "SmsCenterClient",
    "SmsClient",
    "SmsError",
    "StatusChange",
    "TransportError",
    "UserPrepaid",
    "UsersPrepaid",
    "WatchStream",
    "__version__",
    "from_dict",
    "from_env",
    "from_url",
    "log_bodies",
    "to_dict",
]
