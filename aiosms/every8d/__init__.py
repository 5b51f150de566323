"""EVERY8D (every8d.com) clients."""

from .soap import DEFAULT_BASE_URL as DEFAULT_BASE_URL
from .soap import Every8dSoapClient as Every8dSoapClient

__all__ = ["DEFAULT_BASE_URL", "Every8dSoapClient"]
