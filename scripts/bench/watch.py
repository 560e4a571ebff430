"""Load tool of scripts/bench/watch.sh: long-poll waiters and change latency.

  watch.py latency --writer URL --readers URL[,URL] --token T --pipeline PIP
                   [--waiters 50] [--changes 200] [--interval 0.05]
      Waiters long-poll GET /v1/admin/events?pipeline_id=PIP&wait=30 on the
      reader servers; the writer changes the pipeline's parameters through the
      writer server every INTERVAL seconds. For each change and waiter: the
      time from the writer's response (the change committed) to the waiter's
      answer. Prints one JSON line: p50/p99/max in ms, and the count.

  watch.py hold --base URL --token T --pipeline PIP --etag ETAG --count N
                [--seconds 60] [--ready FILE]
      Opens N connections, each holding GET …/pipelines/PIP/config?wait=60
      with If-None-Match: ETAG (nothing changes, so each is held), keeps them
      held for SECONDS (re-issuing any that returns), writes "ready" to FILE
      once all are held, prints one JSON line: how many were held.

Only the standard library: a minimal HTTP/1.1 client over asyncio streams.
"""

import argparse
import asyncio
import json
import sys
import time
from urllib.parse import urlsplit


class Conn:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, base):
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port or 80
        self.reader = self.writer = None

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, method, path, headers=None, body=None):
        if self.writer is None:
            await self.open()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        data = body.encode() if body is not None else b""
        if body is not None:
            lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(data)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed")
        status = int(status_line.split()[1])
        length, received = 0, {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            received[name.strip().lower()] = value.strip()
        length = int(received.get("content-length", "0"))
        payload = await self.reader.readexactly(length) if length else b""
        return status, received, payload


def percentile(values, p):
    ordered = sorted(values)
    if not ordered:
        return None
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


async def latency(args):
    token = {"Authorization": f"Bearer {args.token}"}
    writer = Conn(args.writer)
    status, headers, _ = await writer.request("GET", "/v1/admin/events?limit=1", token)
    start = int(headers["event-seq"])
    committed = {}  # seq -> time the writer's response came
    arrived = []  # (seq, time)
    total = args.changes
    stop = asyncio.Event()

    async def waiter(base):
        conn = Conn(base)
        after = start
        while not stop.is_set():
            path = f"/v1/admin/events?after={after}&pipeline_id={args.pipeline}&wait=30&limit=1000"
            status, _, payload = await conn.request("GET", path, token)
            now = time.perf_counter()
            if status != 200:
                raise RuntimeError(f"events: {status} {payload[:200]!r}")
            body = json.loads(payload)
            for event in body["events"]:
                arrived.append((event["seq"], now))
            after = body["next"]
            if after >= start + total:
                return

    bases = args.readers.split(",")
    tasks = [asyncio.create_task(waiter(bases[i % len(bases)])) for i in range(args.waiters)]
    await asyncio.sleep(1.0)  # every waiter is held
    for n in range(total):
        body = json.dumps({"parameters": {"N": str(n)}})
        status, _, payload = await writer.request("PUT", f"/v1/admin/pipelines/{args.pipeline}", token, body)
        if status != 200:
            raise RuntimeError(f"update: {status} {payload[:200]!r}")
        committed[start + n + 1] = time.perf_counter()
        await asyncio.sleep(args.interval)
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    stop.set()
    # A waiter may answer before the writer's own response arrives: that
    # change reached it at once (0 ms).
    delays = [max(0.0, (t - committed[seq]) * 1000) for seq, t in arrived if seq in committed]
    print(json.dumps({
        "changes": total, "waiters": args.waiters, "samples": len(delays),
        "p50_ms": round(percentile(delays, 50), 2), "p99_ms": round(percentile(delays, 99), 2),
        "max_ms": round(max(delays), 2),
    }))


async def hold(args):
    headers = {"Authorization": f"Bearer {args.token}", "If-None-Match": args.etag}
    path = f"/v1/admin/pipelines/{args.pipeline}/config?wait={min(60, max(1, int(args.seconds)))}"
    held = 0
    failures = 0
    deadline = time.monotonic() + args.seconds

    async def one():
        nonlocal held, failures
        conn = Conn(args.base)
        try:
            await conn.open()
        except OSError:
            failures += 1
            return
        held += 1
        try:
            while time.monotonic() < deadline:
                status, _, _ = await conn.request("GET", path, headers)
                if status != 304:
                    failures += 1
                    return
        except (OSError, ConnectionError, asyncio.IncompleteReadError):
            failures += 1

    tasks = []
    for i in range(args.count):
        tasks.append(asyncio.create_task(one()))
        if i % 500 == 499:
            await asyncio.sleep(0.05)
    await asyncio.sleep(2)
    if args.ready:
        with open(args.ready, "w") as f:
            f.write(f"{held}\n")
    done, pending = await asyncio.wait(tasks, timeout=args.seconds + 90)
    print(json.dumps({"connections": args.count, "held": held, "failures": failures,
                      "unfinished": len(pending)}))


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    lat = sub.add_parser("latency")
    lat.add_argument("--writer", required=True)
    lat.add_argument("--readers", required=True)
    lat.add_argument("--token", required=True)
    lat.add_argument("--pipeline", required=True)
    lat.add_argument("--waiters", type=int, default=50)
    lat.add_argument("--changes", type=int, default=200)
    lat.add_argument("--interval", type=float, default=0.05)
    hl = sub.add_parser("hold")
    hl.add_argument("--base", required=True)
    hl.add_argument("--token", required=True)
    hl.add_argument("--pipeline", required=True)
    hl.add_argument("--etag", required=True)
    hl.add_argument("--count", type=int, default=10000)
    hl.add_argument("--seconds", type=float, default=60)
    hl.add_argument("--ready")
    args = parser.parse_args()
    asyncio.run(latency(args) if args.command == "latency" else hold(args))


if __name__ == "__main__":
    sys.exit(main())
