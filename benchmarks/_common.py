"""Shared helpers of the benchmarks: timing, sample pages, a fixed-reply server.

The server runs in a subprocess (so its CPU time is not charged to the process being
measured), listens on 127.0.0.1 on a free port, prints that port on its first stdout
line, and exits when its stdin closes (i.e. when the benchmark stops it or dies) or
after ``lifetime`` seconds, whichever comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import selectors
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from aiosms._soap import DEFAULT_NAMESPACE, SOAP11_NS
from aiosms.every8d._common import TAIPEI

ROOT = Path(__file__).resolve().parent.parent

BATCH_ID = "3c9a4f0e-5b7d-4e8a-9a61-2f0c8d1b7e55"
SESSION_KEY = "0f8e3a9c1d2b4e6f8a0c2e4f6a8b0d1e"
SEND_RESULT = f"1230.00,1,1.0,0,{BATCH_ID}"
PAGE_SIZE = 1000

# ----------------------------------------------------------------------------- timing


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float]) -> str:
    """min–max of a list of figures, as a short text (how noisy a run was)."""
    return f"{min(values):.4g}–{max(values):.4g}"


def best_time(fn: Callable[[], Any], number: int) -> float:
    """Seconds per call of ``fn`` over one loop of ``number`` calls (timeit-style)."""
    timer = time.perf_counter
    start = timer()
    for _ in range(number):
        fn()
    return (timer() - start) / number


def interleaved_min(
    fns: dict[str, Callable[[], Any]],
    *,
    number: int,
    repeat: int,
    budget: float = 40.0,
) -> dict[str, list[float]]:
    """Time each of ``fns`` ``repeat`` times, taking turns (a, b, a, b, …).

    Returns the per-call seconds of every repetition, per name; take ``min`` of them.
    Stops early (after at least one repetition each) once ``budget`` seconds passed.
    """
    times: dict[str, list[float]] = {name: [] for name in fns}
    deadline = time.monotonic() + budget
    for _ in range(repeat):
        for name, fn in fns.items():
            times[name].append(best_time(fn, number))
        if time.monotonic() > deadline:
            break
    return times


def verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def result(name: str, line: str, *, value: float, target: str, passed: bool, **figures: Any):
    """The dict every benchmark's ``main()`` returns (and prints the summary line)."""
    print(line, flush=True)
    return {
        "benchmark": name,
        "line": line,
        "value": value,
        "target": target,
        "passed": passed,
        **figures,
    }


# ----------------------------------------------------------------------------- samples

_NAMES = ("王小明", "陳美玲", "Roger", "林志豪", "", "張家瑋", "Alice Wu", "黃淑芬", "李建國", "")
# A realistic mix: mostly delivered, some pending, a few failed / expired / scheduled.
_STATUSES = ("100",) * 13 + ("0", "0", "101", "102", "103", "107", "300")
_REPLIES = ("好的，謝謝！", "收到", "請改約下週三 14:00", "STOP", "我已付款 👍")
_SENT_BASE = datetime(2024, 3, 20, 3, 27, 50, tzinfo=TAIPEI)
_XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'


def _sent_time(when: datetime) -> str:
    # The spec's style: month and day not zero-padded ("2010/3/20 03:27:50").
    return f"{when.year}/{when.month}/{when.day} {when:%H:%M:%S}"


def delivery_page(page: int = 1, *, count: int = PAGE_SIZE, rows: int = PAGE_SIZE) -> str:
    """The result string of one ``getDeliveryStatus`` page (an XML document as text).

    Rows are deterministic per page: distinct mobiles, SENT_TIME over many distinct
    seconds (a few seconds apart), a mix of STATUS codes, Chinese and empty NAMEs, and
    every tenth row carrying a REPLY_SMS.
    """
    start = (page - 1) * rows
    n = max(0, min(rows, count - start))
    parts = [
        _XML_DECLARATION,
        "<SMS_LOG><CODE>0</CODE><DESCRIPTION>發送狀態查詢成功</DESCRIPTION>",
        f'<GET_DELIVERY_STATUS COUNT="{count}">',
    ]
    append = parts.append
    for i in range(start, start + n):
        sent = _sent_time(_SENT_BASE + timedelta(seconds=i * 3 + i % 7))
        cost = "2.00" if i % 11 == 0 else "1.00"
        append(
            f"<SMS><NAME>{_NAMES[i % len(_NAMES)]}</NAME><MOBILE>+8869{i % 100_000_000:08d}"
            f"</MOBILE><SENT_TIME>{sent}</SENT_TIME><COST>{cost}</COST>"
            f"<STATUS>{_STATUSES[i % len(_STATUSES)]}</STATUS>"
        )
        if i % 10 == 3:
            replied = _SENT_BASE + timedelta(seconds=i * 3 + 600)
            append(
                f"<REPLY_SMS><REPLY_TIME>{replied:%Y/%m/%d %H:%M:%S}</REPLY_TIME>"
                f"<MESSAGE><![CDATA[{_REPLIES[i % len(_REPLIES)]}]]></MESSAGE></REPLY_SMS>"
            )
        append("</SMS>")
    append("</GET_DELIVERY_STATUS></SMS_LOG>")
    return "".join(parts)


def soap_reply(operation: str, result_text: str) -> bytes:
    """A SOAP 1.1 ASMX response carrying ``result_text`` as ``<operationResult>``."""
    return (
        f'{_XML_DECLARATION}<soap:Envelope xmlns:soap="{SOAP11_NS}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body>'
        f'<{operation}Response xmlns="{DEFAULT_NAMESPACE}"><{operation}Result>'
        f"{escape(result_text)}</{operation}Result></{operation}Response>"
        "</soap:Body></soap:Envelope>"
    ).encode()


def connection_result(key: str = SESSION_KEY) -> str:
    return (
        f"{_XML_DECLARATION}<SMS><GET_CONNECTION><CODE>0</CODE><SESSION_KEY>{key}"
        "</SESSION_KEY><DESCRIPTION>取得連線成功</DESCRIPTION></GET_CONNECTION></SMS>"
    )


# ----------------------------------------------------------------------------- EIMS

EIMS_SEND_NUMBERS = 10_000
EIMS_FIRST_ID = 4_100_000


def eims_numbers(count: int = EIMS_SEND_NUMBERS) -> list[str]:
    """Distinct Taiwan mobile numbers as EIMS takes them (``8869…``, no ``+``)."""
    return [f"8869{12_000_000 + i * 7:08d}" for i in range(count)]


def eims_send_reply(numbers: list[str]) -> bytes:
    """The gateway's ``/sendsms`` answer accepting every one of ``numbers``: numbers
    and ids as JSON ints, as the gateway (and the simulator) write them."""
    rows = [[int(number), EIMS_FIRST_ID + i] for i, number in enumerate(numbers)]
    reply = {"status": 0, "success": len(rows), "fail": 0, "array": rows}
    return json.dumps(reply, separators=(",", ":")).encode()


# ----------------------------------------------------------------------------- server


def _fixed_replies() -> dict[str, bytes]:
    """SOAPAction header value -> the precomputed reply body."""
    results = {
        "getConnection": connection_result(),
        "sendSMS": SEND_RESULT,
        "sendMessage": SEND_RESULT,
        "getCredit": "1230.00",
        "closeConnection": "1",
    }
    return {f'"{DEFAULT_NAMESPACE}{op}"': soap_reply(op, text) for op, text in results.items()}


_PAGE_NO = re.compile(rb"<pageNo>\s*(\d+)\s*</pageNo>")


async def _start_reply_server(count: int) -> tuple[Any, asyncio.Server, str]:
    """Start the fixed-reply server on the running loop: (web server, listener, base URL)."""
    from aiohttp import web

    replies = _fixed_replies()
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    reports_action = f'"{DEFAULT_NAMESPACE}getDeliveryStatus"'

    http_replies = {  # EVERY8D HTTP API: plain text, by path
        "/API21/HTTP/sendSMS.ashx": SEND_RESULT.encode(),
        "/API21/HTTP/getCredit.ashx": b"1230.00",
    }
    text_headers = {"Content-Type": "text/plain; charset=utf-8"}

    # EIMS JSON gateway: /sendsms accepts the benchmark's 10,000 numbers (eims_numbers()).
    eims_replies = {"/sendsms": eims_send_reply(eims_numbers())}
    json_headers = {"Content-Type": "application/json; charset=utf-8"}

    async def handler(request: web.BaseRequest) -> web.Response:
        eims = eims_replies.get(request.path)
        if eims is not None:
            await request.read()
            return web.Response(body=eims, headers=json_headers)
        if request.path.startswith("/API21/HTTP/"):
            await request.read()
            text = http_replies.get(request.path)
            if text is None:
                return web.Response(status=404, text=f"unknown path {request.path!r}")
            return web.Response(body=text, headers=text_headers)
        action = request.headers.get("SOAPAction", "")
        body = replies.get(action)
        if body is None:
            if action != reports_action:
                return web.Response(status=400, text=f"unknown SOAPAction {action!r}")
            found = _PAGE_NO.search(await request.read())
            page = int(found.group(1)) if found else 1
            body = soap_reply("getDeliveryStatus", delivery_page(page, count=count))
        return web.Response(body=body, headers=headers)

    server = web.Server(handler, access_log=None)
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(server, "127.0.0.1", 0, backlog=1024)
    port = listener.sockets[0].getsockname()[1]
    return server, listener, f"http://127.0.0.1:{port}"


@contextlib.asynccontextmanager
async def inline_reply_server(*, count: int = PAGE_SIZE) -> AsyncIterator[str]:
    """The server on the running loop (and process); yields its base URL.

    Benchmarks use it to run the server beside the client, whose process is then
    charged for its CPU time too, as in a benchmark that starts an aiohttp test server.
    """
    server, listener, url = await _start_reply_server(count)
    try:
        yield url
    finally:
        listener.close()
        await server.shutdown(1.0)


async def _serve(count: int, lifetime: float) -> None:
    """The subprocess's main: serve, print the port, stop at stdin's EOF or ``lifetime``."""
    async with inline_reply_server(count=count) as url:
        sys.stdout.write(f"{url.rsplit(':', 1)[1]}\n")
        sys.stdout.flush()

        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        stdin = sys.stdin.fileno()

        def on_stdin() -> None:
            if not os.read(stdin, 4096):  # EOF: the benchmark is done (or died)
                loop.remove_reader(stdin)
                stop.set()

        loop.add_reader(stdin, on_stdin)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), lifetime)


def _serve_cli() -> None:
    count, lifetime = int(sys.argv[1]), float(sys.argv[2])
    asyncio.run(_serve(count, lifetime))


class ServerProcess:
    """The running server: its base URL and a way to read the CPU time it used."""

    def __init__(self, url: str, pid: int) -> None:
        self.url = url
        self.pid = pid

    def cpu_seconds(self) -> float:
        """User + system CPU seconds the server used so far (0.0 where /proc is missing)."""
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def reply_server(*, count: int = PAGE_SIZE, lifetime: float = 300.0) -> Iterator[ServerProcess]:
    """Run the fixed-reply server in a subprocess; yield it (``.url``); always stop it.

    It answers ``getConnection`` with a valid key, ``sendSMS`` with
    ``1230.00,1,1.0,0,<uuid>``, ``getCredit``, ``closeConnection``, and
    ``getDeliveryStatus`` with page ``pageNo`` of a batch of ``count`` reports,
    generated when asked for; the EVERY8D HTTP API's ``sendSMS.ashx`` and
    ``getCredit.ashx``; and EIMS ``/sendsms`` with the acceptance of the 10,000
    ``eims_numbers()`` (whatever the request holds).
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    code = "from benchmarks._common import _serve_cli; _serve_cli()"
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code, str(count), str(lifetime)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env=env,
    )
    try:
        port = _read_port(proc, timeout=30.0)
        yield ServerProcess(f"http://127.0.0.1:{port}", proc.pid)
    finally:
        _stop(proc)


def _read_port(proc: subprocess.Popen[bytes], timeout: float) -> int:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise RuntimeError(f"the benchmark server did not start within {timeout} s")
    line = proc.stdout.readline().strip()
    if not line.isdigit():
        raise RuntimeError(f"the benchmark server failed to start (exit {proc.poll()})")
    return int(line)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    if proc.stdout is not None:
        proc.stdout.close()
