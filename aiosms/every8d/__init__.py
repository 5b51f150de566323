"""EVERY8D (every8d.com): the Web Services (SOAP) and HTTP API clients, and what both
EVERY8D APIs share."""

from ._common import DEFAULT_BASE_URL as DEFAULT_BASE_URL
from ._common import estimate_cost as estimate_cost
from .http import MMS_COST as MMS_COST
from .http import Every8dHttpClient as Every8dHttpClient
from .soap import Every8dSoapClient as Every8dSoapClient

__all__ = [
    "DEFAULT_BASE_URL",
    "MMS_COST",
    "Every8dHttpClient",
    "Every8dSoapClient",
    "estimate_cost",
]
