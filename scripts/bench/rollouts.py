#!/usr/bin/env python3
"""Rollout latency (`just bench-rollouts`): preview and apply over N pipelines.

Seeds one Meta CAPI template whose configs are "medium" (about 3 KB, 20
placeholders), N pipelines with their own parameters pinned at revision 1,
and a revision 2 that changes values and rotates the token. Then, one
request at a time:

- previews (`dry_run`) of moving all N to revision 2;
- applies of it, each followed by its rollback (both move N pins; the
  rollback is timed apart).

Prints JSON: p50/p99/max in milliseconds for each. Standard library only.
"""

import argparse
import json
import statistics
import time
import urllib.request

PLACEHOLDERS = 20


def call(base, token, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, json.loads(response.read() or b"null")


def config(version):
    """A medium Meta CAPI config: ~3 KB, 20 placeholders, a secret."""
    mapping = {}
    for i in range(40):
        if i < PLACEHOLDERS - 2:
            mapping[f"event_{i:02}"] = f"{{{{pipeline_param.P{i}}}}}_mapped_to_custom_event_v{version}"
        else:
            mapping[f"event_{i:02}"] = f"Purchase_variant_{i}_with_a_rather_longer_custom_name_v{version}"
    return {
        "pixel_id": "{{pipeline_param.PIXEL}}",
        "access_token": f"EAAB-bench-token-{version}-" + "x" * 40,
        "api_version": "v23.0" if version == 2 else "v22.0",
        "action_source": "website",
        "batch_size": "{{pipeline_param.BATCH}}" if version == 2 else 100,
        "hash_pii": True,
        "data_processing_options": ["LDU"],
        "event_name_mapping": mapping,
    }


def parameters(n):
    values = {f"P{i}": f"value-{n}-{i}" for i in range(PLACEHOLDERS - 2)}
    values.update({"PIXEL": str(1_000_000 + n), "BATCH": 50 + n % 50})
    return values


def percentiles(samples):
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 1),
        "p99_ms": round(pick(0.99), 1),
        "max_ms": round(ordered[-1], 1),
    }


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start) * 1000, result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--pipelines", type=int, default=100)
    parser.add_argument("--previews", type=int, default=200)
    parser.add_argument("--applies", type=int, default=100)
    args = parser.parse_args()
    base, token = args.base + "/v1/admin", args.token

    _, template = call(base, token, "POST", "/integration-templates",
                       {"name": "Bench rollouts", "vendor": "meta_capi"})
    revisions = []
    for version in (1, 2):
        _, revision = call(base, token, "POST",
                           f"/integration-templates/{template['id']}/revisions",
                           {"config": config(version), "delivery_mode": "server_side"})
        revisions.append(revision["id"])
    for n in range(args.pipelines):
        _, pipeline = call(base, token, "POST", "/pipelines",
                           {"name": f"bench-{n}", "parameters": parameters(n)})
        call(base, token, "POST", f"/pipelines/{pipeline['id']}/integrations",
             {"integration_id": template["id"], "revision_id": revisions[0]})

    path = f"/integration-templates/{template['id']}/rollouts"
    preview_body = {"revision_id": revisions[1], "dry_run": True}
    status, preview = call(base, token, "POST", path, preview_body)
    assert status == 200 and len(preview["pipelines"]) == args.pipelines, preview
    assert all(row["status"] == "ready" for row in preview["pipelines"]), preview
    for _ in range(5):
        call(base, token, "POST", path, preview_body)
    previews = [timed(lambda: call(base, token, "POST", path, preview_body))[0]
                for _ in range(args.previews)]

    applies, rollbacks = [], []
    for _ in range(args.applies):
        took, (status, applied) = timed(
            lambda: call(base, token, "POST", path, {"revision_id": revisions[1]}))
        assert status == 201 and all(r["status"] == "moved" for r in applied["pipelines"])
        applies.append(took)
        took, (status, back) = timed(
            lambda: call(base, token, "POST", f"{path}/{applied['id']}/rollback", {}))
        assert status == 201 and all(r["status"] == "moved" for r in back["pipelines"])
        rollbacks.append(took)

    print(json.dumps({
        "pipelines": args.pipelines,
        "config_bytes": len(json.dumps(config(2))),
        "preview_bytes": len(json.dumps(preview)),
        "preview": percentiles(previews),
        "apply": percentiles(applies),
        "rollback": percentiles(rollbacks),
    }, indent=2))


if __name__ == "__main__":
    main()
