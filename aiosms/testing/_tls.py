"""A throwaway certificate authority for ``Simulator(tls=True)``, made with trustme.

trustme is imported only here, and only when TLS is asked for.
"""

from __future__ import annotations

import ssl

import attrs

__all__ = ["ThrowawayTls"]


@attrs.frozen
class ThrowawayTls:
    """A server context with a fresh certificate for ``127.0.0.1``/``localhost``/``::1``,
    and the CA (PEM) a client trusts it by."""

    server: ssl.SSLContext
    ca_pem: bytes = attrs.field(repr=False)

    @classmethod
    def create(cls, *hosts: str) -> ThrowawayTls:
        import trustme  # a test extra: only needed with tls=True

        ca = trustme.CA()
        names = dict.fromkeys(("127.0.0.1", "localhost", "::1", *hosts))
        cert = ca.issue_cert(*names)
        server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(server)
        return cls(server, ca.cert_pem.bytes())

    def client_context(self) -> ssl.SSLContext:
        """A new client context that trusts the certificate (and nothing else)."""
        return ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))
