"""The OpenAI backend against a local OpenAI-compatible server, through the real ``openai`` client:
retries with backoff and Retry-After, 5xx, timeouts, connection errors, the JSON-mode fallback, fatal errors."""

import json
import socket
import time

import pytest

from recbole_intent.generate.common.backends import FatalBackendError, OpenAIBackend, TransportError
from recbole_intent.testing.fake_server import FakeOpenAIServer, FakeResponse, error_body

KEY = "sk-fake-openai-test-0123456789"
OK = json.dumps({"intents": ["gift giving"], "next_item": "B001"})
MESSAGES = [{"role": "system", "content": "You answer in JSON."}, {"role": "user", "content": "Data (JSON): {}"}]


@pytest.fixture
def env_key(monkeypatch):
    monkeypatch.setenv("GEN_TEST_KEY", KEY)


def backend(url, **over):
    cfg = {
        "api_key_env": "GEN_TEST_KEY",
        "base_url": url,
        "llm_model": "fake-model",
        "temperature": 0.0,
        "timeout": 5,
        "max_retries": 3,
        "backoff_base": 0.01,
        "backoff_max": 2.0,
    }
    return OpenAIBackend({**cfg, **over})


def scripted(*replies):
    """Policy answering the n-th request with replies[n] (the last one repeats)."""

    def policy(body, server):
        return replies[min(server.hits() - 1, len(replies) - 1)]

    return policy


def test_success_sends_json_mode_model_and_bearer_key(env_key):
    with FakeOpenAIServer(scripted(FakeResponse(OK))) as server:
        reply = backend(server.base_url).complete("pnc", {}, MESSAGES)
    assert json.loads(reply.text)["next_item"] == "B001" and reply.prompt_tokens > 0
    request = server.requests[0]
    assert request["body"]["model"] == "fake-model" and request["body"]["messages"] == MESSAGES
    assert request["body"]["response_format"] == {"type": "json_object"}
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["authorization"] == f"Bearer {KEY}"


def test_429_honours_retry_after_then_succeeds(env_key):
    limited = FakeResponse(status=429, raw=error_body(429, "slow down"), headers={"Retry-After": "0.3"})
    with FakeOpenAIServer(scripted(limited, limited, FakeResponse(OK))) as server:
        be = backend(server.base_url)
        started = time.perf_counter()
        reply = be.complete("pnc", {}, MESSAGES)
        elapsed = time.perf_counter() - started
    assert json.loads(reply.text)["next_item"] == "B001"
    assert server.hits() == 3 and be.retries == 2 and elapsed >= 0.6  # waited as told, twice


def test_5xx_are_retried_with_backoff_then_give_a_transport_failure(env_key):
    down = FakeResponse(status=503, raw=error_body(503, "overloaded"))
    with FakeOpenAIServer(scripted(FakeResponse(status=500, raw="oops"), FakeResponse(OK))) as server:
        assert json.loads(backend(server.base_url).complete("pnc", {}, MESSAGES).text)["next_item"] == "B001"
        assert server.hits() == 2
    with FakeOpenAIServer(scripted(down)) as server:
        with pytest.raises(TransportError, match="503"):
            backend(server.base_url, max_retries=2).complete("pnc", {}, MESSAGES)
        assert server.hits() == 3  # the first try + max_retries


def test_a_200_that_is_no_chat_completion_is_retried_then_a_transport_failure(env_key):
    garbage = FakeResponse(raw="<html>502 Bad Gateway</html>")
    with FakeOpenAIServer(scripted(garbage, FakeResponse(raw='{"choices": "weird"}'), FakeResponse(OK))) as server:
        assert "B001" in backend(server.base_url).complete("pnc", {}, MESSAGES).text
        assert server.hits() == 3
    with FakeOpenAIServer(scripted(garbage)) as server:
        with pytest.raises(TransportError, match="malformed response"):
            backend(server.base_url, max_retries=1).complete("pnc", {}, MESSAGES)
        assert server.hits() == 2


def test_timeouts_and_connection_errors_become_transport_failures(env_key):
    with FakeOpenAIServer(scripted(FakeResponse(OK, delay=1.0), FakeResponse(OK))) as server:
        be = backend(server.base_url, timeout=0.3)
        assert json.loads(be.complete("pnc", {}, MESSAGES).text)["next_item"] == "B001"  # 2nd attempt in time
        assert be.retries == 1
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TransportError, match="Connection"):
        backend(f"http://127.0.0.1:{port}/v1", max_retries=1).complete("pnc", {}, MESSAGES)


def test_server_rejecting_json_mode_falls_back_to_plain_text(env_key):
    def policy(body, server):
        if "response_format" in body:
            return FakeResponse(status=400, raw=error_body(400, "response_format is not supported"))
        return FakeResponse("```json\n" + OK + "\n```")

    with FakeOpenAIServer(policy) as server:
        be = backend(server.base_url)
        assert "B001" in be.complete("pnc", {}, MESSAGES).text
        assert "B001" in be.complete("pnc", {}, MESSAGES).text
    assert [("response_format" in r["body"]) for r in server.requests] == [True, False, False]
    assert be.json_mode is False and be.json_mode_fallbacks == 1


def test_other_client_errors_fail_the_call_or_stop_the_run(env_key):
    with FakeOpenAIServer(scripted(FakeResponse(status=422, raw=error_body(422, "bad")))) as server:
        with pytest.raises(TransportError, match="422"):
            backend(server.base_url).complete("pnc", {}, MESSAGES)
        assert server.hits() == 1  # not retriable
    unauthorised = FakeResponse(status=401, raw=error_body(401, "bad key"))
    with FakeOpenAIServer(scripted(unauthorised)) as server, pytest.raises(FatalBackendError, match="401") as err:
        backend(server.base_url).complete("pnc", {}, MESSAGES)
    assert KEY not in str(err.value)


def test_missing_key_variable_is_a_clear_fatal_error(monkeypatch):
    monkeypatch.delenv("GEN_TEST_KEY", raising=False)
    with pytest.raises(FatalBackendError, match="GEN_TEST_KEY is not set"):
        backend("http://127.0.0.1:9/v1")
