"""The one door to the LLM: cache lookup, the --max_calls budget, accounting, then the backend.

Every completed call (valid answer or not: it was paid for) is cached before it is returned, so a rerun repeats no
completed call. Calls that end in a transport failure are not cached (a rerun tries them again) but count against
--max_calls, which bounds the calls *started*, i.e. the most a run can spend.
"""

import logging
import threading
import time

from recbole_intent.generate.common.backends import FatalBackendError, Reply, TransportError, as_reply
from recbole_intent.generate.common.cache import request_key

logger = logging.getLogger("recbole_intent.generate")


def call_key(cfg, task, messages, payload=None):
    """Identity of a request in the cache: what determines the answer. Never includes the API key.
    An LLM answers the chat (``messages``); other backends (offline.py) answer the structured ``payload``, which
    holds more than the chat (e.g. the catalogue titles the offline pool is mined from), so it is part of their key."""
    identity = {"backend": cfg["backend"], "model": cfg["llm_model"], "temperature": cfg.get("temperature")}
    request = {**identity, "task": task, "messages": messages}
    if cfg["backend"] != "openai":
        request["payload"] = payload
    return request_key(request)


class BudgetExhausted(Exception):
    """--max_calls reached: no new (uncached) call is made; cached answers are still served."""


class Interrupted(BudgetExhausted):
    """Ctrl-C: like a spent budget, no new call starts (the calls in flight finish and are cached)."""


class LLMClient:
    def __init__(self, backend, cache, cfg, stats, halt=None):
        self.backend = backend
        self.cache = cache
        self.stats = stats
        self.max_calls = cfg.get("max_calls")
        self.cfg = cfg
        self.halt = halt or threading.Event()  # set by Ctrl-C (runner.py)
        self._lock = threading.Lock()
        self.calls_started = 0
        self._in_flight = 0
        self._busy_since = 0.0

    def _enter(self):
        with self._lock:
            if self.halt.is_set():
                raise Interrupted("Ctrl-C: no new call was started; the answers in flight were cached")
            if self.max_calls is not None and self.calls_started >= self.max_calls:
                raise BudgetExhausted(f"--max_calls {self.max_calls} reached")
            self.calls_started += 1
            if self._in_flight == 0:
                self._busy_since = time.perf_counter()
            self._in_flight += 1

    def _leave(self, started):
        now = time.perf_counter()
        with self._lock:
            self._in_flight -= 1
            self.stats.add_time("server_wait_s", now - started)  # summed over concurrent calls
            if self._in_flight == 0:
                self.stats.add_time("server_busy_s", now - self._busy_since)  # wall time with >= 1 call in flight

    def call(self, task, payload, messages):
        """Reply for this request; raises TransportError, BudgetExhausted or FatalBackendError."""
        key = call_key(self.cfg, task, messages, payload)
        hit = self.cache.get(key)
        if hit is not None:
            self.stats.count("cache_hits", task)
            return Reply(hit["text"], int(hit.get("prompt_tokens", 0)), int(hit.get("completion_tokens", 0)))
        self._enter()
        started = time.perf_counter()
        try:
            reply = as_reply(self.backend.complete(task, payload, messages))
        except (TransportError, BudgetExhausted, FatalBackendError):
            self.stats.count("calls_failed", task)
            raise
        except Exception as err:  # a backend bug must cost one try, not the run (it shows in the report)
            self.stats.count("calls_failed", task)
            logger.warning("%s backend raised %s: %s", self.cfg["backend"], type(err).__name__, err)
            raise TransportError(f"{type(err).__name__}: {err}") from err
        finally:
            self._leave(started)
        self.cache.put(
            key,
            {
                "task": task,
                "text": reply.text,
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
            },
        )
        self.stats.count("calls", task)
        self.stats.add_tokens(reply.prompt_tokens, reply.completion_tokens)
        return reply
