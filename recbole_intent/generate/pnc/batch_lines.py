"""The lines of ``--backend batch``'s files (batch.py): reading them, what a responses line means, and the run's
record of bad lines.

A responses line (OpenAI Batch API output format) is an answer, a provider error that costs no try and is sent
again, or a refusal of the request itself, which is a failed try (``transport``) as in the live mode. A line with a
``response`` object is classified by its status code, whatever else it holds: vLLM's ``run-batch`` writes a refused
request with both ``response.status_code: 400`` and an ``error`` object, and reading ``error`` first resent such a
request forever. ``error`` alone (``response`` null, e.g. ``batch_expired``) is a provider error. The provider's
message is kept with the status code.
"""

import contextlib
import json
import logging
import os

from recbole_intent.generate.common import data

logger = logging.getLogger("recbole_intent.generate")
SENT_AGAIN = {401, 403, 404, 408, 409, 429}  # and 5xx: not the request's fault, so they must not cost a try
PROBLEMS_FILE = "line_problems.json"  # every line problem of the run: {"<file>:<line>": [kind, detail]}


def read_jsonl(path):
    """(line number, object or None) per non-empty line; None for a line that is not JSON (e.g. cut by a download)."""
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            if raw.strip():
                try:
                    yield n, json.loads(raw)
                except ValueError:
                    yield n, None


def load_json(path):
    with contextlib.suppress(OSError, ValueError), open(path, encoding="utf-8") as fh:
        return json.load(fh)
    return {}


def provider_message(*errors):
    """The provider's own words from an ``error`` object or string (OpenAI: {"message": ..., "code": ...})."""
    for error in errors:
        if isinstance(error, dict) and (error.get("message") or error.get("code")):
            return str(error.get("message") or error.get("code"))
        if isinstance(error, str) and error:
            return error
    return ""


def parse_response(rec):
    """One responses line as ("answer", (text, tokens)), ("resend", detail): a provider error that costs no try, or
    ("refused", detail): the request itself was refused, a failed try. With a ``response`` object its status code
    decides, whatever ``error`` says; ``error`` alone (``response`` null) is a provider error."""
    response = rec.get("response")
    if not isinstance(response, dict):
        return "resend", provider_message(rec.get("error")) or "no response and no error"
    status, body = response.get("status_code"), response.get("body")
    if status == 200:
        try:
            text, usage = body["choices"][0]["message"]["content"] or "", body.get("usage") or {}
            return "answer", (str(text), {k: int(usage.get(k) or 0) for k in ("prompt_tokens", "completion_tokens")})
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            return "resend", "a 200 that is no chat completion"
    message = provider_message(body.get("error") if isinstance(body, dict) else None, rec.get("error"))
    detail = f"HTTP {status}: {message}" if message else f"HTTP {status}"
    if not isinstance(status, int) or status in SENT_AGAIN or status >= 500:
        return "resend", detail
    return "refused", detail


def run_problems(cfg, notes):
    """The line problems of the whole run: the earlier invocations' (``PROBLEMS_FILE``) plus this one's. Warns about
    the new ones only (a line already reported, and resent, is not reported again), and writes the file only when
    it changed (a finished run's rerun writes nothing)."""
    path = os.path.join(cfg["batch_dir"], PROBLEMS_FILE)
    known = load_json(path)
    new = {where: list(problem) for where, problem in notes.items() if known.get(where) != list(problem)}
    if new:  # the report keeps them too (batch.line_problem_examples, batch.line_problems_run)
        lines = [f"{where}: {kind}: {detail}" for where, (kind, detail) in new.items()]
        logger.warning("problems in the responses files:\n  %s", "\n  ".join(lines[:20]))
        known.update(new)
        data.write_atomic_text(path, json.dumps(known, indent=1, ensure_ascii=False) + "\n")
    return known
