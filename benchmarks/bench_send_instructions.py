"""(a″) Instructions per send under callgrind: aiosms ``send()`` vs raw aiohttp + parse.

Wall-clock throughput on a small shared VM swings by 2× within the hour; instruction
counts do not. This benchmark runs a short send loop of each side in a child process
under ``valgrind --tool=callgrind`` (the fixed-reply server runs in its own process,
not under valgrind), twice with different numbers of sends, and takes the difference:
``(I(n2) - I(n1)) / (n2 - n1)`` is what one send costs the client process, with start-up,
imports and warm-up cancelled out.

The two sides are the restated target (a)'s: raw aiohttp POSTing the same prebuilt
``sendSMS`` envelope and parsing the reply with the same hardened lxml parser
(``parse_envelope`` + ``parse_send``), the floor of any lxml client; and aiosms's
``Every8dSoapClient.send()``. Sends run one at a time (concurrency 1), so the figure is
the work a send costs, not scheduling.

Needs ``valgrind`` (Debian's package); without it the benchmark says so and is skipped
(reported as not passed). Aim: aiosms ≤ 1.15 × raw + parse.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ._common import ROOT, reply_server, result, verdict

TARGET = 1.15
N1, N2 = 100, 400  # sends per child process; the difference is what is measured
CHILD_TIMEOUT = 240.0

TEXT = "您的驗證碼是 482913，請於 5 分鐘內輸入。Your code is 482913."
MOBILE = "+886912345678"


async def _child(side: str, base_url: str, n: int) -> None:
    """The measured process: warm up, then ``n`` sends of one side, one at a time."""
    import aiohttp

    from aiosms import Every8dSoapClient
    from aiosms._soap import build_envelope, parse_envelope, soap_headers
    from aiosms.every8d.soap_codec import SERVICE_PATH, build_send, parse_send

    from ._common import BATCH_ID, SESSION_KEY

    url = base_url + SERVICE_PATH
    op = build_send(TEXT, MOBILE)
    body = build_envelope(op.name, op.with_key(SESSION_KEY))
    headers = soap_headers(op.name)
    async with (
        aiohttp.ClientSession() as session,
        Every8dSoapClient("bench", "secret", base_url=base_url) as sms,
    ):

        async def raw_parse() -> None:
            async with session.post(url, data=body, headers=headers) as resp:
                data = await resp.read()
            if parse_send(parse_envelope(data, op.name, provider="every8d")).batch_id != BATCH_ID:
                raise RuntimeError("unexpected reply")

        async def client() -> None:
            if (await sms.send(TEXT, to=MOBILE)).batch_id != BATCH_ID:
                raise RuntimeError("unexpected reply")

        send = client if side == "aiosms" else raw_parse
        await sms.balance()
        for _ in range(50):  # warm-up: connections, caches
            await send()
        for _ in range(n):
            await send()


def _instructions(side: str, base_url: str, n: int, out_dir: Path) -> int:
    out = out_dir / f"callgrind.{side}.{n}"
    cmd = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        sys.executable,
        "-m",
        "benchmarks.bench_send_instructions",
        "--child",
        side,
        base_url,
        str(n),
    ]
    proc = subprocess.run(  # noqa: S603 (our own interpreter and arguments)
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=CHILD_TIMEOUT, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"callgrind run failed: {proc.stderr[-2000:]}")
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in callgrind's output: {proc.stderr[-500:]}")
    return int(found.group(1))


def main() -> dict:
    if shutil.which("valgrind") is None:
        line = "send instructions: valgrind is not installed (apt-get install valgrind); skipped"
        return result(
            "send_instructions", line, value=float("nan"), target=f"≤ {TARGET}", passed=False
        )
    per_send: dict[str, float] = {}
    with reply_server() as server, tempfile.TemporaryDirectory() as tmp:
        for side in ("raw_parse", "aiosms"):
            low = _instructions(side, server.url, N1, Path(tmp))
            high = _instructions(side, server.url, N2, Path(tmp))
            per_send[side] = (high - low) / (N2 - N1)
    ratio = per_send["aiosms"] / per_send["raw_parse"]
    passed = ratio <= TARGET
    line = (
        f"send instructions (callgrind, client process, one send at a time): aiosms "
        f"{per_send['aiosms'] / 1000:.0f}k, raw aiohttp + lxml reply parse "
        f"{per_send['raw_parse'] / 1000:.0f}k a send, ratio {ratio:.2f} "
        f"(aim ≤ {TARGET}) {verdict(passed)}  [({N2} − {N1} sends) difference]"
    )
    return result(
        "send_instructions",
        line,
        value=ratio,
        target=f"≤ {TARGET}",
        passed=passed,
        aiosms_instructions=per_send["aiosms"],
        raw_parse_instructions=per_send["raw_parse"],
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        asyncio.run(_child(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    else:
        main()
