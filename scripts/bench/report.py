#!/usr/bin/env python3
"""Formats the benchmark results as markdown.

    report.py FINGERPRINT_ENV RESULTS_JSONL

RESULTS_JSONL has one JSON object per scenario run: wrk's line from
scenario.lua plus `backend`, `scenario`, `connections`, `locked` (count of
"database is locked" in the server log).
"""

import json
import sys

fp = dict(line.rstrip("\n").split("=", 1) for line in open(sys.argv[1]) if "=" in line)
runs = [json.loads(line) for line in open(sys.argv[2]) if line.strip()]

LABELS = {
    "get": "GET template",
    "list": "list 50 templates",
    "revisions": "list revisions",
    "create": "create revision, 1,000 templates",
    "hot": "create revision, 1 template",
    "mix": "mix 90/9/1 get/list/create",
}
# (fingerprint key, its label) each scenario is compared to, per backend.
BASIS = {
    "postgres": {
        "get": "pg_select_tps", "list": "pg_select_tps", "revisions": "pg_select_tps",
        "mix": "pg_select_tps", "create": "pg_revision_spread_tps",
        "hot": "pg_revision_hot_tps",
    },
    "sqlite": {
        "get": "sqlite_select_tps", "list": "sqlite_select_tps",
        "revisions": "sqlite_select_tps", "mix": "sqlite_select_tps",
        "create": "sqlite_revision_tps", "hot": "sqlite_revision_tps",
    },
}
BASIS_LABEL = {
    "pg_select_tps": "pgbench -S",
    "pg_revision_spread_tps": "pgbench rev. spread",
    "pg_revision_hot_tps": "pgbench rev. hot",
    "sqlite_select_tps": "sqlite read",
    "sqlite_revision_tps": "sqlite rev. txn",
}


def goal(run):
    """(text, met) for the scenario's goal, or None."""
    b, s, rps = run["backend"], run["scenario"], run["rps"]
    errs = run["errors"]
    if b == "postgres":
        if s == "get":
            return "≥ 6,000 rps, p99 ≤ 10 ms", rps >= 6000 and run["p99_us"] <= 10_000
        if s == "list":
            return "≥ 2,500 rps", rps >= 2500
        if s == "create":
            return "≥ 1,500 rps", rps >= 1500
        if s == "hot":
            return "≥ 600 rps, 0 errors", rps >= 600 and errs == 0
    else:
        if s == "get":
            return "≥ 3,000 rps", rps >= 3000
        if s == "create":
            return "≥ 300 rps, no 'database is locked'", rps >= 300 and run["locked"] == 0 and errs == 0
    return None


def ms(us):
    return f"{us / 1000:.1f}" if us >= 1000 else f"{us / 1000:.2f}"


out = []
out.append("### Fingerprint\n")
out.append("| | |\n| --- | --- |")
for key, label in [
    ("nproc", "nproc"), ("cpu", "CPU"), ("mem", "memory"), ("postgres", "PostgreSQL"),
    ("pg_select_tps", "`pgbench -S -c 8 -T 10` tps"),
    ("pg_revision_spread_tps", "revision txn, pgbench, 1,000 counters, 32 clients, tps"),
    ("pg_revision_hot_tps", "revision txn, pgbench, 1 counter, 16 clients, tps"),
    ("sqlite_select_tps", "SQLite point read, python3 sqlite3, 1 connection, per s"),
    ("sqlite_revision_tps", "SQLite revision txn (BEGIN IMMEDIATE), 1 connection, per s"),
    ("loadavg", "load average after the fingerprint"),
]:
    value = fp.get(key, "?")
    try:
        value = f"{float(value):,.0f}"
    except ValueError:
        pass
    out.append(f"| {label} | {value} |")
out.append("")
out.append("### Scenarios\n")
out.append("| backend | scenario | conns | rps | p50 ms | p99 ms | p99.9 ms | errors | ratio to fingerprint | goal | met? |")
out.append("| --- | --- | --: | --: | --: | --: | --: | --: | --- | --- | --- |")
for run in runs:
    basis = BASIS[run["backend"]][run["scenario"]]
    base = float(fp.get(basis, "nan") or "nan")
    g = goal(run)
    errors = str(run["errors"])
    if run["errors"]:
        errors += " (" + ", ".join(f"{k}: {v}" for k, v in run["error_kinds"].items()) + ")"
    out.append(
        f"| {run['backend']} | {LABELS[run['scenario']]} | {run['connections']} "
        f"| {run['rps']:,.0f} | {ms(run['p50_us'])} | {ms(run['p99_us'])} | {ms(run['p999_us'])} "
        f"| {errors} | {run['rps'] / base:.2f} × {BASIS_LABEL[basis]} "
        f"| {g[0] if g else '—'} | {('**met**' if g[1] else '**missed**') if g else '—'} |"
    )
out.append("")
loads = ", ".join(f"{r['backend']}/{r['scenario']}: {r['load_before']}" for r in runs)
out.append(f"Load before each scenario (1-minute load average, which includes the previous scenario; CPU busy with our server idle): {loads}.")
print("\n".join(out))
