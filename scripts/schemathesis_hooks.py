"""Hooks of scripts/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS)."""

import re
import uuid

import schemathesis

VALID_KEY = re.compile(r"^[!-~]{1,255}$")


@schemathesis.hook
def before_call(context, case, kwargs):
    """Give every request its own valid Idempotency-Key, and shorten waits.

    Generated keys repeat (hypothesis favours small values), and a repeated key
    is answered as the API promises: the first response replayed, or 422 for
    another body. Both are correct, yet they read as failures to checks that
    compare one request with its own response (a replayed 201 names an object a
    later scenario may have deleted). The replay itself is covered by the HTTP
    tests; invalid keys are left as generated, to be refused with 400.
    """
    headers = case.headers or {}
    key = headers.get("Idempotency-Key")
    if isinstance(key, str) and VALID_KEY.match(key):
        headers["Idempotency-Key"] = f"schemathesis-{uuid.uuid4()}"
        case.headers = headers
    shorten_waits(case)


def shorten_waits(case):
    """Hold no request for long: a valid `wait` (0 to 60 s) above 1 becomes 1.

    A long poll or a config watch is held until a change commits or `wait`
    passes; nothing commits while a run reads, so a generated `wait=60` would
    spend a minute per request. One second still takes the held path; out of
    range values are left as generated, to be refused with 422.
    """
    query = case.query or {}
    wait = query.get("wait")
    # Generated as a number, or as its text (the coverage phase).
    if isinstance(wait, bool):
        return
    if isinstance(wait, str) and wait.isdigit():
        wait = int(wait)
    if isinstance(wait, int) and 1 < wait <= 60:
        query["wait"] = 1
        case.query = query

