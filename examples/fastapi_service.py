"""A FastAPI service that sends SMS with aiosms and takes EVERY8D's push callbacks.

``python examples/fastapi_service.py`` without ``AIOSMS_URL`` starts the built-in
simulator in a thread (``aiosms.testing.ThreadedSimulator``), drives the app with
FastAPI's ``TestClient`` (a send, its reports, a push call as EVERY8D makes one), prints
what happened and exits. With ``AIOSMS_URL`` (``every8d+soap://user:password@host``) and
``PUSH_TOKEN`` set, serve it with any ASGI server, e.g. from ``examples/``:
``uvicorn --factory fastapi_service:create_app``.

It shows ONE client held by the ``lifespan`` (handed to requests as lifespan state), a
``response_model`` that is a pydantic model validated from ``aiosms.to_dict(result)``
(decimals stay exact: JSON strings), reports returned as ``to_dict`` dicts as they are,
and an ``Every8dPushReceiver`` served through ``receiver.accept(...)``. Numbers are
masked in what it prints; the password and the token never appear.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
import warnings
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

import aiosms
from aiosms.webhooks import Every8dPushReceiver

PUSH_PATH = "/every8d/push"
DEMO_NUMBERS = ["0912345670", "0912345677"]  # the simulator: ...0 is delivered, ...7 fails
FINAL = {state.value for state in aiosms.DeliveryState if state.is_final}


class SendIn(BaseModel):
    text: str
    to: list[str]


class SendOut(BaseModel):
    """``aiosms.SendResult`` as this API answers it (``SendOut.model_validate(to_dict(r))``)."""

    batch_id: str | None
    sent: int
    cost: Decimal | None
    credit: Decimal | None
    unsent: int = 0
    message_ids: dict[str, str] = {}
    rejected: list[str] = []
    failed: list[dict[str, Any]] = []  # {"numbers": [...], "error": {...}} each


def mask(number: str) -> str:
    return "*" * max(len(number) - 3, 0) + number[-3:]


def create_app(url: str | None = None, *, token: str | None = None) -> FastAPI:
    """The service (``AIOSMS_URL`` and ``PUSH_TOKEN`` by default, for ``--factory``)."""
    url = url or os.environ["AIOSMS_URL"]
    receiver = Every8dPushReceiver(token=token or os.environ["PUSH_TOKEN"])

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        async with aiosms.from_url(url) as sms:  # one client, one connection pool
            yield {"sms": sms}  # each request's request.state.sms

    app = FastAPI(lifespan=lifespan)
    app.state.receiver = receiver

    @app.exception_handler(aiosms.SmsError)
    async def sms_error(request: Request, exc: aiosms.SmsError) -> JSONResponse:
        if isinstance(exc, aiosms.InvalidRequestError):  # refused before anything was sent
            return JSONResponse({"error": exc.message}, status_code=400)
        unknown = isinstance(exc, aiosms.SendOutcomeUnknownError)  # never resend blindly
        return JSONResponse({"error": exc.message, "outcome_unknown": unknown}, status_code=502)

    @app.post("/send", response_model=SendOut, status_code=201)
    async def send(body: SendIn, request: Request) -> SendOut:
        result = await request.state.sms.send(body.text, body.to)
        return SendOut.model_validate(aiosms.to_dict(result))

    @app.get("/batches/{batch_id}")
    async def reports(batch_id: str, request: Request) -> list[dict[str, Any]]:
        return [aiosms.to_dict(r) async for r in request.state.sms.delivery_reports(batch_id)]

    @app.api_route(PUSH_PATH + "/{token}", methods=["GET", "POST"], include_in_schema=False)
    async def every8d_push(request: Request) -> Response:
        answer = await receiver.accept(
            request.method,
            request.query_params,
            await request.body(),
            request.headers,
            request.client.host if request.client else None,  # behind a proxy: the real one
            path=request.url.path,  # the token is its last segment
        )
        return Response(answer.body, status_code=answer.status, media_type=answer.content_type)

    return app


def main(url: str | None = None, *, show: Callable[[str], None] = print) -> list[str]:
    """The demo, synchronous: a ThreadedSimulator and a TestClient; the lines shown."""
    with warnings.catch_warnings():  # newer Starlette would rather use httpx2
        warnings.filterwarnings("ignore", "Using `httpx`", UserWarning)
        from fastapi.testclient import TestClient

    from aiosms.testing import ThreadedSimulator

    lines: list[str] = []

    def out(line: str) -> None:
        lines.append(line)
        show(line)

    token = secrets.token_urlsafe(32)
    with contextlib.ExitStack() as stack:
        if url is None:
            url = stack.enter_context(ThreadedSimulator()).client_url("every8d+soap")
        app = create_app(url, token=token)
        client = stack.enter_context(TestClient(app))  # runs the lifespan
        sent = client.post("/send", json={"text": "Parcel ready", "to": DEMO_NUMBERS}).json()
        out(f"sent {sent['sent']} in batch {sent['batch_id']}, cost {sent['cost']}")
        deadline, found = time.monotonic() + 10, list[dict[str, Any]]()
        while not found or not all(r["state"] in FINAL for r in found):
            if time.monotonic() > deadline:
                raise TimeoutError("the batch did not finish in 10 s")
            time.sleep(0.1)
            found = client.get(f"/batches/{sent['batch_id']}").json()
        for report in found:
            out(f"report: {mask(report['mobile'])} {report['state']} ({report['status']})")
        push = {"BatchID": sent["batch_id"], "RM": DEMO_NUMBERS[0], "STATUS": "100"}
        push |= {"RT": "20250101120000", "SM": "", "MR": "1"}
        good = client.get(f"{PUSH_PATH}/{token}", params=push)
        bad = client.get(f"{PUSH_PATH}/{secrets.token_urlsafe(32)}", params=push)
        out(f"push with the token: {good.status_code}; with another: {bad.status_code}")
        out(f"receiver accepted {app.state.receiver.received} call(s)")
    return lines


if __name__ == "__main__":
    main(os.environ.get("AIOSMS_URL"))
