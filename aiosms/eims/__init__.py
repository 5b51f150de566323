"""EIMS JSON HTTP gateway (work in progress, issue 9): so far its pure codec,
:mod:`aiosms.eims.codec`; the client, push receiver and simulator are to come."""
