"""Load tool of scripts/bench/history.sh: a pipeline with many recorded
changes, then `?at=` requests at random instants among them.

  history.py --base URL --token EDITOR --service SERVICE --viewer VIEWER
             [--changes 1000] [--requests 2000]

Prints one JSON line per role: p50/p99/max latency in ms of the `?at=`
requests (sequential, one keep-alive connection), and how many changes the
pipeline had.
"""

import argparse
import http.client
import json
import random
import time
from urllib.parse import quote, urlsplit


class Client:
    def __init__(self, base):
        parts = urlsplit(base)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port)

    def call(self, method, path, token, body=None):
        headers = {"Authorization": f"Bearer {token}"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body)
        self.conn.request(method, path, body=data, headers=headers)
        reply = self.conn.getresponse()
        text = reply.read()
        if reply.status >= 300:
            raise SystemExit(f"{method} {path}: {reply.status} {text[:300]!r}")
        return json.loads(text) if text else None


def percentile(sorted_values, p):
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p))]


def main():
    args = argparse.ArgumentParser()
    args.add_argument("--base", required=True)
    args.add_argument("--token", required=True)
    args.add_argument("--service", required=True)
    args.add_argument("--viewer", required=True)
    args.add_argument("--changes", type=int, default=1000)
    args.add_argument("--requests", type=int, default=2000)
    opts = args.parse_args()
    c, t = Client(opts.base), opts.token

    pins = []
    for name in ["meta a", "meta b"]:
        template = c.call("POST", "/v1/admin/integration-templates", t, {"name": name, "vendor": "meta_capi"})["id"]
        revisions = [
            c.call("POST", f"/v1/admin/integration-templates/{template}/revisions", t, {
                "config": {"pixel_id": "{{pipeline_param.pixel}}", "access_token": "{{pipeline_param.token}}",
                           "test_event_code": f"R{n}"},
                "delivery_mode": "server_side"})["id"]
            for n in range(3)
        ]
        pins.append((template, revisions))
    pipeline = c.call("POST", "/v1/admin/pipelines", t, {
        "name": "history", "parameters": {"pixel": "1"}, "secret_parameters": {"token": "s-0"}})["id"]
    attached = [
        c.call("POST", f"/v1/admin/pipelines/{pipeline}/integrations", t,
               {"integration_id": template, "revision_id": revisions[0]})["id"]
        for template, revisions in pins
    ]
    for n in range(opts.changes):
        kind, which = n % 4, n % 2
        if kind == 0:
            c.call("PUT", f"/v1/admin/pipelines/{pipeline}", t, {"parameters": {"pixel": str(n)}})
        elif kind == 1:
            c.call("PUT", f"/v1/admin/pipelines/{pipeline}", t, {"secret_parameters": {"token": f"s-{n}"}})
        elif kind == 2:
            c.call("PUT", f"/v1/admin/pipelines/{pipeline}/integrations/{attached[which]}", t,
                   {"revision_id": pins[which][1][n % 3]})
        else:
            c.call("PUT", f"/v1/admin/pipelines/{pipeline}/integrations/{attached[which]}", t,
                   {"enabled": n % 8 != 3})
    events, after = [], 0
    while True:
        page = c.call("GET", f"/v1/admin/events?after={after}&limit=1000&pipeline_id={pipeline}", t)
        events += page["events"]
        if not page["events"]:
            break
        after = page["next"]
    instants = [e["at"] for e in events]
    rng = random.Random(7)
    for role, token in [("service", opts.service), ("viewer", opts.viewer)]:
        path = f"/v1/admin/pipelines/{pipeline}/config?at="
        for _ in range(50):  # warm up
            c.call("GET", path + quote(rng.choice(instants)), token)
        took = []
        for _ in range(opts.requests):
            at = quote(rng.choice(instants))
            start = time.perf_counter()
            c.call("GET", path + at, token)
            took.append((time.perf_counter() - start) * 1000)
        took.sort()
        print(json.dumps({
            "role": role, "changes": len(events), "requests": len(took),
            "p50_ms": round(percentile(took, 0.50), 2), "p99_ms": round(percentile(took, 0.99), 2),
            "max_ms": round(took[-1], 2),
        }))


if __name__ == "__main__":
    main()
