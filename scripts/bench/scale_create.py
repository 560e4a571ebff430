#!/usr/bin/env python3
"""Creates templates in one org through the API with parallel writers and
reports the create rate per successive block.

    scale_create.py BASE TOKEN COUNT [WRITERS] [BLOCK]

Each writer is a process with one keep-alive connection that creates its
share of COUNT webhook templates (`POST /v1/admin/integration-templates`).
Every completion time is kept; the report gives, for each successive BLOCK
(default 10,000) of completions in time order, the rate in creates/s. Prints
one JSON line: {"blocks": [rate, ...], "total_s": ..., "errors": ...}.
"""

import http.client
import json
import multiprocessing
import sys
import time
from urllib.parse import urlparse

PREFIX = "/v1/admin/integration-templates"


def writer(job):
    base, token, first, count = job
    host = urlparse(base)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    done, errors = [], 0
    for i in range(first, first + count):
        body = json.dumps({"name": f"Scale {i:07d}", "vendor": "webhook"})
        try:
            conn.request("POST", PREFIX, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status == 201:
                done.append(time.time())
            else:
                errors += 1
        except (OSError, http.client.HTTPException):
            errors += 1
            conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
    return done, errors


def main() -> None:
    base, token, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    writers = int(sys.argv[4]) if len(sys.argv) > 4 else 8
    block = int(sys.argv[5]) if len(sys.argv) > 5 else 10_000
    share = count // writers
    jobs = [(base, token, w * share, share) for w in range(writers)]
    started = time.time()
    with multiprocessing.Pool(writers) as pool:
        results = pool.map(writer, jobs)
    times = sorted(t for done, _ in results for t in done)
    errors = sum(e for _, e in results)
    blocks, previous = [], started
    for end in range(block, len(times) + 1, block):
        at = times[end - 1]
        blocks.append(round(block / (at - previous), 1))
        previous = at
    print(json.dumps({"created": len(times), "blocks": blocks,
                      "total_s": round(times[-1] - started, 1) if times else 0,
                      "errors": errors}))


if __name__ == "__main__":
    main()
