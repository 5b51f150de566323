"""EVERY8D (every8d.com): the Web Services (SOAP) client and what both EVERY8D APIs share."""

from ._common import estimate_cost as estimate_cost
from .soap import DEFAULT_BASE_URL as DEFAULT_BASE_URL
from .soap import Every8dSoapClient as Every8dSoapClient

__all__ = ["DEFAULT_BASE_URL", "Every8dSoapClient", "estimate_cost"]
