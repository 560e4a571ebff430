#!/usr/bin/env python3
"""Helpers for the resilience scripts (standard library only; 127.0.0.1 only).

    resil.py templates BASE TOKEN COUNT            -> prints COUNT new template ids
    resil.py load BASE TOKEN IDS OUT --threads N --seconds S [--create PCT] [--readyz PCT]
        closed-loop load; one CSV row per request:
        start,end,op,template,status,revision_number,revision_id,error
        (status 0 = no HTTP answer: connection refused/reset, timeout)
    resil.py outage-check OUT EVENTS               -> verdict of outage.sh
    resil.py kill-check BASE TOKEN OUT...          -> verdict of kill9.sh
    resil.py crowd BASE N SECONDS MODE             -> holds N idle connections
    resil.py probe BASE TOKEN ID SECONDS           -> fresh-connection latency probe
"""

import csv
import http.client
import json
import random
import select
import signal
import socket
import sys
import threading
import time
from urllib.parse import urlparse

PREFIX = "/v1/admin/integration-templates"
TIMEOUT = 10.0  # a request slower than this counts as hung


def hostport(base):
    u = urlparse(base)
    assert u.hostname == "127.0.0.1", "load may target 127.0.0.1 only"
    return u.hostname, u.port


def body(n):
    return json.dumps({
        "config": {"url": "https://example.com/hook", "method": "POST",
                   "signing_secret": f"whsec_{n:032x}", "timeout_ms": 5000},
        "delivery_mode": "server_side",
        "change_summary": f"resilience {n}",
    })


def request(conn, method, path, token, payload=None):
    headers = {"Authorization": f"Bearer {token}"}
    if payload is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=payload, headers=headers)
    resp = conn.getresponse()
    return resp.status, resp.read()


def cmd_templates(base, token, count):
    conn = http.client.HTTPConnection(*hostport(base), timeout=TIMEOUT)
    for i in range(int(count)):
        status, data = request(conn, "POST", PREFIX, token, json.dumps(
            {"name": f"resilience {i} {time.time_ns()}", "vendor": "webhook"}))
        if status != 201:
            sys.exit(f"creating a template: {status} {data[:200]!r}")
        print(json.loads(data)["id"])


def cmd_load(base, token, ids, out, *opts):
    args = dict(zip(opts[::2], opts[1::2]))
    threads = int(args.get("--threads", 8))
    seconds = float(args.get("--seconds", 30))
    create_pct = float(args.get("--create", 10))
    readyz_pct = float(args.get("--readyz", 0))
    templates = ids.split(",")
    host, port = hostport(base)
    rows, lock = [], threading.Lock()
    end_at = time.time() + seconds

    def worker(k):
        rnd = random.Random(k)
        conn = None
        n = 0
        while time.time() < end_at:
            n += 1
            r = rnd.uniform(0, 100)
            template = rnd.choice(templates)
            if r < readyz_pct:
                op, method, path, payload = "readyz", "GET", "/readyz", None
            elif r < readyz_pct + create_pct:
                op, method, path = "create", "POST", f"{PREFIX}/{template}/revisions"
                payload = body(k * 1_000_000 + n)
            else:
                op, method, path, payload = "get", "GET", f"{PREFIX}/{template}", None
            start = time.time()
            status, number, rev_id, error = 0, "", "", ""
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
                status, data = request(conn, method, path, token, payload)
                if op == "create" and status == 201:
                    doc = json.loads(data)
                    number, rev_id = doc["revision_number"], doc["id"]
                elif status >= 500:
                    error = data[:120].decode(errors="replace").replace("\n", " ")
            except (OSError, http.client.HTTPException) as exc:
                error = type(exc).__name__ + ": " + str(exc)[:80]
                conn = None
            with lock:
                rows.append((f"{start:.6f}", f"{time.time():.6f}", op, template, status,
                             number, rev_id, error))
            if status == 0:
                time.sleep(0.05)  # the server is gone: do not spin

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["start", "end", "op", "template", "status", "revision_number",
                    "revision_id", "error"])
        w.writerows(sorted(rows))


def read_rows(path):
    with open(path) as f:
        for row in csv.DictReader(f):
            row["start"], row["end"] = float(row["start"]), float(row["end"])
            row["status"] = int(row["status"])
            yield row


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def cmd_outage_check(out, events):
    ev = dict(line.split("=", 1) for line in open(events).read().split())
    ev = {k: float(v) for k, v in ev.items()}
    rows = list(read_rows(out))
    down_from, down_to = ev["stop_begin"], ev["start_done"]
    problems = []
    inside = [r for r in rows if r["start"] >= ev["stop_done"] and r["end"] <= ev["start_begin"]]
    overlapping = [r for r in rows if r["end"] >= down_from and r["start"] <= down_to]
    lat = lambda rs: [r["end"] - r["start"] for r in rs]
    by_status = {}
    for r in overlapping:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
    bad = [r for r in inside if r["status"] != 503]
    if bad:
        problems.append(f"{len(bad)} requests during the outage answered other than 503, e.g. {bad[0]}")
    e500 = [r for r in rows if r["status"] == 500]
    if e500:
        problems.append(f"{len(e500)} answers were 500, e.g. {e500[0]}")
    dead = [r for r in rows if r["status"] == 0]
    if dead:
        problems.append(f"{len(dead)} requests got no HTTP answer, e.g. {dead[0]}")
    slow = [r for r in overlapping if r["end"] - r["start"] > 2.5]
    if slow:
        problems.append(f"{len(slow)} requests around the outage took > 2.5 s, e.g. {slow[0]}")
    after = [r for r in rows if r["start"] >= ev["start_done"] and 200 <= r["status"] < 300]
    first_ok = min((r["end"] for r in after), default=None)
    recovery = None if first_ok is None else first_ok - ev["start_done"]
    if recovery is None or recovery > 5:
        problems.append(f"first success after the restart: {recovery} s (goal ≤ 5 s)")
    # Everything that started 1 s after the first success should succeed again.
    late_fail = [r for r in rows if first_ok and r["start"] > first_ok + 1 and not 200 <= r["status"] < 300]
    if late_fail:
        problems.append(f"{len(late_fail)} failures more than 1 s after recovery, e.g. {late_fail[0]}")
    print(f"requests: {len(rows)} in total; {len(overlapping)} overlapping the outage "
          f"(stop began → start done, {down_to - down_from:.1f} s), of which "
          f"{len(inside)} entirely inside it (PostgreSQL fully down)")
    print("statuses of requests overlapping the outage: " +
          ", ".join(f"{k}: {v}" for k, v in sorted(by_status.items())))
    groups = [
        ("ended before PostgreSQL was fully down", lambda r: r["end"] < ev["stop_done"]),
        ("started and ended while it was down", lambda r: r["start"] >= ev["stop_done"] and r["end"] <= ev["start_begin"]),
        ("started before or during the outage, ended after pg_ctl start began",
         lambda r: r["start"] < ev["start_begin"] and r["end"] > ev["start_begin"]),
    ]
    for name, test in groups:
        counts = {}
        for r in overlapping:
            if test(r):
                key = f"{r['op']} {r['status']}"
                counts[key] = counts.get(key, 0) + 1
        print(f"  {name}: " + (", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "none"))
    for name, rs in [("503 answers", [r for r in overlapping if r["status"] == 503]),
                     ("all requests before the stop", [r for r in rows if r["end"] < down_from])]:
        ls = lat(rs)
        if ls:
            print(f"latency of {name}: p50 {pct(ls, 50) * 1000:.0f} ms, p99 {pct(ls, 99) * 1000:.0f} ms, "
                  f"max {max(ls) * 1000:.0f} ms")
    print(f"pg_ctl stop -m fast took {ev['stop_done'] - ev['stop_begin']:.2f} s; "
          f"PostgreSQL down for {ev['start_begin'] - ev['stop_done']:.1f} s; "
          f"pg_ctl start took {ev['start_done'] - ev['start_begin']:.2f} s")
    print(f"first 2xx after the restart completed {recovery:.2f} s after pg_ctl start returned"
          if recovery is not None else "no 2xx after the restart")
    rest = [r for r in rows if first_ok and r["start"] > first_ok]
    print(f"after recovery: {sum(200 <= r['status'] < 300 for r in rest)} of {len(rest)} requests 2xx")
    print("verdict: " + ("PASS" if not problems else "FAIL\n  " + "\n  ".join(problems)))
    return 0 if not problems else 1


def cmd_kill_check(base, token, *outs):
    """Every revision whose 201 was received exists, with that number and id;
    numbers are 1..N without gaps for every template touched."""
    received = {}
    for out in outs:
        for r in read_rows(out):
            if r["op"] == "create" and r["status"] == 201:
                received.setdefault(r["template"], {})[int(r["revision_number"])] = r["revision_id"]
    conn = http.client.HTTPConnection(*hostport(base), timeout=TIMEOUT)
    problems, total_stored, total_received = [], 0, 0
    for template, got in sorted(received.items()):
        status, data = request(conn, "GET", f"{PREFIX}/{template}/revisions", token)
        if status != 200:
            problems.append(f"{template}: listing revisions answered {status}")
            continue
        stored = {r["revision_number"]: r["id"] for r in json.loads(data)["revisions"]}
        total_stored += len(stored)
        total_received += len(got)
        if sorted(stored) != list(range(1, len(stored) + 1)):
            problems.append(f"{template}: numbers are not gapless 1..{len(stored)}")
        lost = [n for n, rid in got.items() if stored.get(n) != rid]
        if lost:
            problems.append(f"{template}: {len(lost)} acknowledged revisions missing, e.g. {lost[:5]}")
    print(f"templates checked: {len(received)}; 201s received: {total_received}; "
          f"revisions stored: {total_stored} (stored - received = {total_stored - total_received}: "
          f"committed but the 201 was lost with the process)")
    print("verdict: " + ("PASS" if not problems else "FAIL\n  " + "\n  ".join(problems[:20])))
    return 0 if not problems else 1


def cmd_crowd(base, n, seconds, mode):
    """Holds N connections open for SECONDS. mode `silent`: connect and send
    nothing (the server drops them after its 5 s request timeout; they are
    re-opened at once). mode `keepalive`: each sends one request, reads the
    answer, then sits idle on the kept-alive connection (30 s keep-alive)."""
    host, port = hostport(base)
    n, end_at = int(n), time.time() + float(seconds)
    request_bytes = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    socks, opened, dropped, failed = set(), 0, 0, 0

    def open_one():
        nonlocal opened, failed
        s = socket.socket()
        s.settimeout(5)
        try:
            s.connect((host, port))
            if mode == "keepalive":
                s.sendall(request_bytes)
                if not s.recv(4096):
                    raise OSError("closed before answering")
            s.setblocking(False)
            socks.add(s)
            opened += 1
        except OSError:
            failed += 1
            s.close()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while len(socks) < n:
        open_one()
    print(f"crowd: {len(socks)} {mode} connections open", file=sys.stderr, flush=True)
    while time.time() < end_at and not stop.is_set():
        poller = select.poll()  # select() cannot watch descriptors above 1024
        by_fd = {s.fileno(): s for s in socks}
        for fd in by_fd:
            poller.register(fd, select.POLLIN)
        for fd, _ in poller.poll(200):
            s = by_fd[fd]
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:  # closed by the server: replace it
                socks.discard(s)
                s.close()
                dropped += 1
        while len(socks) < n and time.time() < end_at and not stop.is_set():
            open_one()
    print(f"crowd: opened {opened}, dropped by the server {dropped}, failed to open {failed}, "
          f"open at the end {len(socks)}", file=sys.stderr)
    for s in socks:
        s.close()


def cmd_probe(base, token, template, seconds):
    """A new connection per request, every 20 ms: latency including connect."""
    host, port = hostport(base)
    end_at, lat, errors = time.time() + float(seconds), [], 0
    while time.time() < end_at:
        start = time.time()
        try:
            conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
            status, _ = request(conn, "GET", f"{PREFIX}/{template}", token)
            conn.close()
            if status != 200:
                errors += 1
            lat.append(time.time() - start)
        except (OSError, http.client.HTTPException):
            errors += 1
        time.sleep(0.02)
    print(json.dumps({"requests": len(lat), "errors": errors,
                      "p50_ms": round(pct(lat, 50) * 1000, 2), "p99_ms": round(pct(lat, 99) * 1000, 2),
                      "max_ms": round(max(lat) * 1000, 2) if lat else None}))


if __name__ == "__main__":
    commands = {
        "templates": cmd_templates, "load": cmd_load, "outage-check": cmd_outage_check,
        "kill-check": cmd_kill_check, "crowd": cmd_crowd, "probe": cmd_probe,
    }
    sys.exit(commands[sys.argv[1].replace("_", "-")](*sys.argv[2:]) or 0)
