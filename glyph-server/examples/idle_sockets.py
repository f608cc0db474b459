#!/usr/bin/env python3
"""Holds many idle WebSockets open against a running glyph-server and prints
the server's resident memory before and after (from /proc/PID/status).

    # both processes need more open files than COUNT (ulimit -n)
    target/release/examples/load users http://127.0.0.1:8080 50 > users.txt
    python3 glyph-server/examples/idle_sockets.py SERVER_PID 127.0.0.1 8080 users.txt 10000

Standard library only: each socket is upgraded by hand (an HTTP/1.1 upgrade
with the user's bearer token) and then never read from, as an idle phone
would hold it. Sockets are spread over the users in users.txt ("token
user_id" lines, as `load users` prints them).
"""

import asyncio
import base64
import os
import sys


def resident_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit("no VmRSS")


async def open_socket(host: str, port: int, token: str):
    reader, writer = await asyncio.open_connection(host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /v1/ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise SystemExit(f"upgrade refused: {head[:80]!r}")
    return reader, writer


async def main() -> None:
    pid, host, port, users_file, count = sys.argv[1:6]
    tokens = [line.split()[0] for line in open(users_file) if line.strip()]
    before = resident_kib(int(pid))
    sockets = []
    for i in range(int(count)):
        sockets.append(await open_socket(host, int(port), tokens[i % len(tokens)]))
    await asyncio.sleep(20)
    after = resident_kib(int(pid))
    print(
        f"{len(sockets)} idle sockets: server resident {before / 1024:.1f} MiB -> "
        f"{after / 1024:.1f} MiB, {(after - before) / len(sockets):.1f} KiB per socket"
    )


asyncio.run(main())
