#!/usr/bin/env python3
"""A TCP proxy that delays every chunk by DELAY_MS in each direction, so a request/response round
trip through it costs 2 x DELAY_MS more (scripts/bench uses 0.5 ms each way: a 1 ms RTT, a
normal cross-zone figure). Throughput is not limited: chunks are queued with their due time and
written when due, so pipelined traffic keeps flowing.

Usage: delay_proxy.py LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT DELAY_MS
Prints "ready" on stdout once listening.
"""
import asyncio
import sys
import time


async def pipe(reader, writer, delay):
    queue = asyncio.Queue()

    async def send():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.create_task(send())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            queue.put_nowait((time.monotonic() + delay, data))
    finally:
        queue.put_nowait((0, None))
        await sender


async def main():
    listen, host, port, delay_ms = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    delay = delay_ms / 1000.0

    async def handle(client_reader, client_writer):
        try:
            up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            pipe(client_reader, up_writer, delay),
            pipe(up_reader, client_writer, delay),
            return_exceptions=True,
        )

    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
