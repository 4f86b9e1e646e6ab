"""LLM backends behind one interface: ``complete(task, payload, messages) -> Reply``.

``task`` is "refine" (P1), "pool" (P2) or "pnc" (P3); ``payload`` is the structured request (the ids and texts of
the session items and candidates, the pool names, the previous tries) and ``messages`` the rendered chat. The
OpenAI backend sends ``messages``; the offline backend (recbole_intent/generate/pnc/offline.py, written separately) may
read ``payload`` instead. Both answer the JSON schemas of prompts.py, which validate.py checks either way.
"""

import email.utils
import importlib
import logging
import os
import random
import threading
import time
from dataclasses import dataclass

from recbole_intent.generate.common.scrub import register_secret, scrub

logger = logging.getLogger("recbole_intent.generate")


@dataclass(frozen=True)
class Reply:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


class TransportError(Exception):
    """A call that did not complete after all retries: a failed try with reason ``transport``."""


class FatalBackendError(Exception):
    """Credentials or model rejected (401/403/404): every further call would fail the same way, so the run stops."""


class ServerUnreachable(Exception):
    """Every try of a call the run cannot do without (the pool, P2) ended in a transport failure: the run stops
    (exit 3, rerun to resume) and the message names the cause (connection refused, timeout, name resolution)."""


def transport_cause(err):
    """What went wrong below the SDK, in words: the innermost exception of ``err``'s chain (httpx's ConnectError
    "[Errno 111] Connection refused", a DNS failure, a read timeout)."""
    inner, seen = err, set()
    while (nxt := inner.__cause__ or inner.__context__) is not None and id(nxt) not in seen:
        seen.add(id(inner))
        inner = nxt
    text = " ".join(str(inner).split()) or type(inner).__name__
    low = text.lower()
    if "refused" in low:
        kind = "connection refused"
    elif "name or service" in low or "nodename" in low or "name resolution" in low or "getaddrinfo" in low:
        kind = "name resolution failed"
    elif "timed out" in low or "timeout" in low or "Timeout" in type(err).__name__:
        kind = "timeout"
    else:
        kind = type(err).__name__
    return kind if text.lower() == kind else f"{kind} ({text[:200]})"


def as_reply(value):
    """Accept what a backend returns: a Reply, an object with .text, a dict (the JSON answer) or a str."""
    if isinstance(value, Reply):
        return value
    if isinstance(value, dict):
        import json

        return Reply(json.dumps(value, ensure_ascii=False))
    if isinstance(value, str):
        return Reply(value)
    return Reply(
        str(value.text), int(getattr(value, "prompt_tokens", 0) or 0), int(getattr(value, "completion_tokens", 0) or 0)
    )


def _retry_after(err):
    """Seconds from Retry-After(-ms) of an HTTP error, or None."""
    response = getattr(err, "response", None)
    headers = getattr(response, "headers", None) or {}
    try:
        if headers.get("retry-after-ms"):
            return float(headers["retry-after-ms"]) / 1000.0
        value = headers.get("retry-after")
        if not value:
            return None
        try:
            return float(value)
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class OpenAIBackend:
    """Any OpenAI-compatible chat completions server, through the official SDK (its own retries switched off)."""

    name = "openai"

    def __init__(self, cfg):
        import openai

        self._openai = openai
        env = cfg["api_key_env"]
        if not os.environ.get(env):
            raise FatalBackendError(f"environment variable {env} is not set (the API key is read from it)")
        register_secret(os.environ[env])  # scrubbed from everything written (scrub.py)
        try:
            self.client = openai.OpenAI(base_url=cfg.get("base_url") or None, api_key=os.environ[env],
                                        timeout=float(cfg["timeout"]), max_retries=0)
        except Exception as err:  # e.g. httpx.InvalidURL: a setting, reported as one line (exit 2)
            raise ValueError(f"--base_url {cfg.get('base_url')!r}: {type(err).__name__}: {err}") from None
        self.base_url = str(self.client.base_url)
        self.model = cfg["llm_model"]
        self.temperature = cfg.get("temperature")
        self.max_retries = int(cfg["max_retries"])
        self.backoff_base = float(cfg["backoff_base"])
        self.backoff_max = float(cfg["backoff_max"])
        self.json_mode = True
        self._lock = threading.Lock()
        self.retries = 0  # transport retries made (429 / 5xx / timeouts / connection errors)
        self.json_mode_fallbacks = 0

    def _create(self, messages, json_mode):
        kwargs = {"model": self.model, "messages": messages}
        if self.temperature is not None:
            kwargs["temperature"] = self.temperature
        if json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        return self.client.chat.completions.create(**kwargs)

    def _backoff(self, attempt, err):
        hinted = _retry_after(err)
        if hinted is not None:  # the server said when: honour it (plus a little jitter so workers do not stampede)
            return min(self.backoff_max, hinted * (1.0 + 0.1 * random.random()))
        ceiling = min(self.backoff_max, self.backoff_base * 2**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # "equal jitter" exponential backoff

    def complete(self, task, payload, messages):
        oa = self._openai
        attempt = 0
        while True:
            json_mode = self.json_mode
            try:
                try:
                    resp = self._create(messages, json_mode)
                except oa.BadRequestError:
                    if not json_mode:
                        raise
                    resp = self._create(messages, False)  # 400 with response_format: try the same call without it
                    with self._lock:
                        if self.json_mode:
                            self.json_mode, self.json_mode_fallbacks = False, self.json_mode_fallbacks + 1
                            logger.warning("server rejected response_format=json_object: plain text from now on")
                usage = getattr(resp, "usage", None)
                text = resp.choices[0].message.content if resp.choices else ""
                return Reply(
                    scrub(text or ""),  # a server that echoes the API key must not get it into the cache
                    int(getattr(usage, "prompt_tokens", 0) or 0),
                    int(getattr(usage, "completion_tokens", 0) or 0),
                )
            except (oa.AuthenticationError, oa.PermissionDeniedError, oa.NotFoundError) as err:
                raise FatalBackendError(f"{type(err).__name__} (HTTP {err.status_code})") from None
            except oa.APIStatusError as err:
                retriable = err.status_code in (408, 409, 429) or err.status_code >= 500
                if not retriable or attempt >= self.max_retries:
                    raise TransportError(scrub(f"HTTP {err.status_code} ({err.message})"[:300])) from None
                delay = self._backoff(attempt, err)
            except (oa.APITimeoutError, oa.APIConnectionError) as err:  # timeout is a subclass of connection error
                if attempt >= self.max_retries:
                    raise TransportError(f"{transport_cause(err)} at {self.base_url}") from None
                delay = self._backoff(attempt, err)
            except (oa.APIError, ValueError, AttributeError, TypeError, IndexError, KeyError) as err:
                # A 200 whose body is no chat completion (a proxy's error page, cut JSON): the server's fault, so
                # it is retried like a 5xx. (The SDK raises JSONDecodeError / AttributeError for those.)
                if attempt >= self.max_retries:
                    raise TransportError(f"malformed response ({type(err).__name__})") from None
                delay = self._backoff(attempt, err)
            with self._lock:
                self.retries += 1
            attempt += 1
            time.sleep(delay)


def make_backend(cfg):
    if cfg["backend"] == "openai":
        return OpenAIBackend(cfg)
    if cfg["backend"] == "offline":
        # Imported by name only when asked for: offline.py is another engineer's module.
        module = importlib.import_module("recbole_intent.generate.pnc.offline")
        return module.OfflineBackend(cfg)
    raise ValueError(f"unknown backend {cfg['backend']!r} (openai | offline)")
