#!/usr/bin/env python3
"""Seeds the benchmark dataset through the real API, in parallel processes.

    seed.py BASE TOKENS_FILE OUT_DIR ORGS TEMPLATES REVISIONS [WORKERS]

TOKENS_FILE has one line per org: `org_id<TAB>token`. For every org it creates
TEMPLATES webhook templates, then REVISIONS revisions of each, with configs of
2-4 KB that hold a real signing secret (so secrets are encrypted at rest, as
in production). No Idempotency-Key headers.

Writes into OUT_DIR:
  targets.tsv   `token<TAB>template_id` per template, orgs interleaved, so the
                first 1,000 lines spread over every org
  orgs.tsv      `token` per org
  bodies.jsonl  a few revision bodies (2-4 KB) for the write scenarios
"""

import http.client
import json
import multiprocessing
import os
import random
import sys
import time
from urllib.parse import urlparse

PREFIX = "/v1/admin/integration-templates"
_conn = None
_host = None


def config(seed: int) -> dict:
    """A webhook config of 2-4 KB, deterministic per seed."""
    rnd = random.Random(seed)
    mappings = [
        {
            "source": f"event.properties.field_{i}",
            "target": f"payload.attr_{i}",
            "transform": rnd.choice(["lowercase", "sha256", "none", "trim"]),
            "default": f"{{{{pipeline_param.default_{i % 5}}}}}",
        }
        for i in range(rnd.randint(13, 27))
    ]
    return {
        "url": "{{pipeline_param.webhook_url}}",
        "method": "POST",
        "headers": {
            "Content-Type": "application/json",
            "X-Source": f"bench-{seed % 97}",
            "X-Tenant": "{{pipeline_param.tenant}}",
        },
        "signing_secret": f"whsec_{rnd.getrandbits(128):032x}",
        "timeout_ms": 5000,
        "batch_size": rnd.choice([1, 10, 50, 100]),
        "retry_max_attempts": 3,
        "payload_template": '{"type": "{{event.name}}", "data": {{event.properties}}}',
        "field_mappings": mappings,
    }


def revision_body(seed: int) -> str:
    return json.dumps(
        {
            "config": config(seed),
            "delivery_mode": "server_side",
            "change_summary": f"bench revision {seed}",
        }
    )


def conn():
    global _conn
    if _conn is None:
        _conn = http.client.HTTPConnection(_host.hostname, _host.port, timeout=30)
    return _conn


def post(token: str, path: str, body: str) -> dict:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for attempt in range(5):
        try:
            c = conn()
            c.request("POST", path, body=body, headers=headers)
            resp = c.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException):
            global _conn
            _conn = None
            time.sleep(0.2 * (attempt + 1))
            continue
        if resp.status == 201:
            return json.loads(data)
        raise SystemExit(f"POST {path}: {resp.status} {data[:300]!r}")
    raise SystemExit(f"POST {path}: no answer after 5 attempts")


def init(base: str) -> None:
    global _host
    _host = urlparse(base)


def make_template(job):
    org, token, index = job
    body = json.dumps(
        {"name": f"Bench webhook {index:04d}", "vendor": "webhook",
         "description": f"benchmark template {index} of {org}"}
    )
    return org, token, post(token, PREFIX, body)["id"]


def make_revisions(job):
    token, template_id, count, seed = job
    for r in range(count):
        post(token, f"{PREFIX}/{template_id}/revisions", revision_body(seed * 100 + r))
    return count


def main() -> None:
    base, tokens_file, out_dir = sys.argv[1:4]
    orgs, templates, revisions = map(int, sys.argv[4:7])
    workers = int(sys.argv[7]) if len(sys.argv) > 7 else 16
    tokens = [line.rstrip("\n").split("\t") for line in open(tokens_file)][:orgs]
    os.makedirs(out_dir, exist_ok=True)
    started = time.time()
    with multiprocessing.Pool(workers, initializer=init, initargs=(base,)) as pool:
        # Interleave orgs: template 0 of every org, then template 1 of every org, ...
        jobs = [(org, tok, i) for i in range(templates) for org, tok in tokens]
        made = pool.map(make_template, jobs, chunksize=16)
        print(f"seed: {len(made)} templates in {time.time() - started:.0f} s", file=sys.stderr)
        jobs = [(tok, tid, revisions, n) for n, (_, tok, tid) in enumerate(made)]
        done = 0
        for count in pool.imap_unordered(make_revisions, jobs, chunksize=4):
            done += count
            if done % 10000 < revisions:
                print(f"seed: {done} revisions, {time.time() - started:.0f} s", file=sys.stderr)
    with open(os.path.join(out_dir, "targets.tsv"), "w") as f:
        for _, tok, tid in made:
            f.write(f"{tok}\t{tid}\n")
    with open(os.path.join(out_dir, "orgs.tsv"), "w") as f:
        for _, tok in tokens:
            f.write(f"{tok}\n")
    with open(os.path.join(out_dir, "bodies.jsonl"), "w") as f:
        for n in range(16):
            f.write(revision_body(1_000_000 + n) + "\n")
    print(f"seed: done in {time.time() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
