"""The JSONL reply cache and the LLM client's budget and accounting (scripted in-test backend, no network)."""

import json
import os

import pytest

from recbole_intent.generate.common.backends import Reply, TransportError
from recbole_intent.generate.common.cache import CACHE_FILE, ReplyCache
from recbole_intent.generate.common.llm_client import BudgetExhausted, LLMClient, call_key
from recbole_intent.generate.common.report import Stats

CFG = {"backend": "scripted", "llm_model": "m", "temperature": 0.0, "max_calls": None}


class ScriptedBackend:
    """Answers "answer-<n>" to the n-th call; raises TransportError for messages containing "fail"."""

    def __init__(self):
        self.calls = []

    def complete(self, task, payload, messages):
        self.calls.append(messages)
        if "fail" in messages[-1]["content"]:
            raise TransportError("HTTP 503")
        if "bug" in messages[-1]["content"]:
            raise KeyError("oops")
        return Reply(f"answer-{len(self.calls)}", prompt_tokens=10, completion_tokens=2)


def msg(text):
    return [{"role": "user", "content": text}]


def test_cache_round_trip_survives_reopen(tmp_path):
    cache = ReplyCache(str(tmp_path))
    cache.put("k1", {"task": "pnc", "text": "héllo"})
    cache.close()
    again = ReplyCache(str(tmp_path))
    assert again.get("k1")["text"] == "héllo" and len(again) == 1 and again.bad_lines == 0


def test_truncated_last_line_is_ignored_and_appends_start_a_new_line(tmp_path):
    path = tmp_path / CACHE_FILE
    good = json.dumps({"key": "k1", "text": "a"})
    path.write_text(good + "\n" + '{"key": "k2", "te', encoding="utf-8")  # killed mid-write
    cache = ReplyCache(str(tmp_path))
    assert cache.get("k1")["text"] == "a" and cache.get("k2") is None and cache.bad_lines == 1
    cache.put("k3", {"text": "c"})
    cache.close()
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[1] == '{"key": "k2", "te' and json.loads(lines[2])["key"] == "k3"
    assert ReplyCache(str(tmp_path)).get("k3")["text"] == "c"


def test_each_answer_is_on_disk_before_the_call_returns(tmp_path):
    backend = ScriptedBackend()
    client = LLMClient(backend, ReplyCache(str(tmp_path)), CFG, Stats())
    client.call("pnc", {}, msg("q1"))
    on_disk = (tmp_path / CACHE_FILE).read_text(encoding="utf-8")
    assert call_key(CFG, "pnc", msg("q1"), {}) in on_disk  # flushed + fsynced, not buffered until close


def test_client_replays_cached_answers_and_counts(tmp_path):
    stats = Stats()
    backend = ScriptedBackend()
    client = LLMClient(backend, ReplyCache(str(tmp_path)), CFG, stats)
    first = client.call("pnc", {}, msg("q1"))
    assert client.call("pnc", {}, msg("q1")) == first and len(backend.calls) == 1
    fresh = LLMClient(backend, ReplyCache(str(tmp_path)), CFG, stats)  # a rerun: new process, same cache dir
    assert fresh.call("pnc", {}, msg("q1")).text == first.text and len(backend.calls) == 1
    assert stats.counters["calls"]["pnc"] == 1 and stats.counters["cache_hits"]["pnc"] == 2
    assert stats.tokens["prompt"] == 10 and stats.tokens["completion"] == 2
    other_model = LLMClient(backend, ReplyCache(str(tmp_path)), {**CFG, "llm_model": "m2"}, stats)
    other_model.call("pnc", {}, msg("q1"))
    assert len(backend.calls) == 2  # another model's answer is not reused


def test_transport_failures_are_not_cached(tmp_path):
    backend = ScriptedBackend()
    client = LLMClient(backend, ReplyCache(str(tmp_path)), CFG, Stats())
    for _ in range(2):
        with pytest.raises(TransportError):
            client.call("pnc", {}, msg("fail"))
    assert len(backend.calls) == 2 and not os.path.exists(tmp_path / CACHE_FILE)


def test_an_unexpected_backend_exception_costs_a_try_not_the_run(tmp_path):
    stats = Stats()
    client = LLMClient(ScriptedBackend(), ReplyCache(str(tmp_path)), CFG, stats)
    with pytest.raises(TransportError, match="KeyError"):
        client.call("pnc", {}, msg("bug"))
    assert stats.counters["calls_failed"]["pnc"] == 1


def test_max_calls_bounds_new_calls_but_serves_the_cache(tmp_path):
    backend = ScriptedBackend()
    client = LLMClient(backend, ReplyCache(str(tmp_path)), {**CFG, "max_calls": 2}, Stats())
    client.call("pnc", {}, msg("q1"))
    with pytest.raises(TransportError):
        client.call("pnc", {}, msg("fail"))  # a started call counts, even when it fails
    with pytest.raises(BudgetExhausted):
        client.call("pnc", {}, msg("q2"))
    assert client.call("pnc", {}, msg("q1")).text == "answer-1" and len(backend.calls) == 2
