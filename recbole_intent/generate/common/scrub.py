"""The API key's value is written nowhere: not in the cache, the outputs, the report or an error message.

The settings hold only the NAME of the key's environment variable (``api_key_env``), but a server can still echo
the key's VALUE in an answer (a misconfigured proxy, a prompt-injection test), and answers are cached raw. Every
file write of the generator (``ReplyCache.put``, ``data.write_atomic_text``) and every transport error message goes
through ``scrub``, which replaces the values registered here.
"""

import os
import threading

MASK = "[API key removed]"
MIN_SECRET_CHARS = 8  # a shorter value would also match ordinary text; no real key is that short
_secrets = set()
_lock = threading.Lock()


def register_secret(value):
    if value and len(value) >= MIN_SECRET_CHARS:
        with _lock:
            _secrets.add(value)


def register_from_env(cfg):
    """The value of the variable ``cfg["api_key_env"]`` names, if it is set."""
    register_secret(os.environ.get(cfg.get("api_key_env") or "", ""))


def scrub(text):
    """``text`` with every registered secret replaced by ``MASK`` (any other value is returned as it is)."""
    if not isinstance(text, str) or not _secrets:
        return text
    for secret in list(_secrets):
        text = text.replace(secret, MASK)
    return text
