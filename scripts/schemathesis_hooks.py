"""Hooks of scripts/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS)."""

import re
import uuid

import schemathesis

VALID_KEY = re.compile(r"^[!-~]{1,255}$")


@schemathesis.hook
def before_call(context, case, kwargs):
    """Give every request its own valid Idempotency-Key.

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
