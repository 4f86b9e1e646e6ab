"""The generator against a hostile server and a user's mistakes (issue 16, Stage 1): bad settings are one line and
exit 2 before anything runs; an unreachable server or Ctrl-C stops with a report and exit 3 (rerun to resume); an
echoed API key is written nowhere; quotes inside an intent are kept."""

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from recbole_intent.generate.__main__ import main
from recbole_intent.generate.common.cache import CACHE_FILE
from recbole_intent.generate.common.llm_client import call_key
from recbole_intent.generate.common.scrub import MASK
from recbole_intent.generate.common.settings import make_config
from recbole_intent.generate.common.validate import clean_name
from recbole_intent.generate.pnc.runner import run
from recbole_intent.testing.fake_policy import ScriptedPolicy
from recbole_intent.testing.fake_server import FakeOpenAIServer, FakeResponse, request_task
from recbole_intent.testing.synthetic import write_dataset

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEY = "sk-hardening-test-SECRET-4242"


def _flags(root, url, *extra):
    return ["--dataset", "tiny", "--data_path", str(root), "--base_url", url, "--api_key_env", "GEN_HARD_KEY",
            "--select", "all", "--llm_model", "fake-model", *extra]  # fmt: skip


def _read(*path):
    with open(os.path.join(*map(str, path)), encoding="utf-8") as fh:
        return fh.read()


def _report(root):
    return json.loads(_read(root, "tiny", "tiny.generate_report.json"))


def _error_line(capsys):
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err


def test_a_url_that_does_not_parse_is_one_line_exit_2(tmp_path, capsys):  # item 1
    write_dataset(str(tmp_path), n_sessions=10)
    assert main(_flags(tmp_path, "http://[::1")) == 2
    assert _error_line(capsys).startswith("error: --base_url 'http://[::1' is not a valid URL (Invalid IPv6 URL)")
    assert main(_flags(tmp_path, "localhost:8000/v1")) == 2
    assert "expected e.g. http://127.0.0.1:8000/v1" in _error_line(capsys)


@pytest.mark.parametrize("text, message", [
    ("max_tries: [1]\n", r"my.yaml:1: max_tries: \[1\] is not int \(default: 3\)"),
    ("backend: bogus\n", r"my.yaml:1: backend: 'bogus' is not one of openai, offline, batch"),
    ("ratio: 0.2\nmax_trys: 2\n", r"my.yaml:2: unknown key 'max_trys' \(did you mean max_tries\?\)"),
    ("ratio: [0.2\n", r"my.yaml:2:1: not valid YAML"),
    ("refine: yes please\n", r"my.yaml:1: refine: 'yes please' is not bool"),
])
def test_config_files_are_checked_before_anything_runs(tmp_path, capsys, text, message):  # item 2
    (tmp_path / "my.yaml").write_text(text)
    assert main(["--config_files", str(tmp_path / "my.yaml"), "--dataset", "no-such-dataset"]) == 2
    assert _error_line(capsys).startswith("error: ")  # and not about the dataset: the settings come first
    with pytest.raises(ValueError, match=message):
        make_config(["--config_files", str(tmp_path / "my.yaml")])


def test_config_file_values_are_used_with_their_types(tmp_path):
    (tmp_path / "my.yaml").write_text("ratio: 1\nintent_set: 2024\nbackend: offline\n")
    cfg = make_config(["--config_files", str(tmp_path / "my.yaml")])
    assert (cfg["ratio"], cfg["intent_set"], cfg["backend"]) == (1.0, "2024", "offline")


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_server_stops_with_a_report_and_exit_3(tmp_path, monkeypatch, capsys):  # item 3
    write_dataset(str(tmp_path), n_sessions=10)
    monkeypatch.setenv("GEN_HARD_KEY", KEY)
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    started = time.perf_counter()
    assert main(_flags(tmp_path, url, "--max_retries", "1", "--backoff_base", "0.01")) == 3
    assert time.perf_counter() - started < 30
    report = _report(tmp_path)
    assert report["status"] == "stopped" and report["unprocessed"] == 8
    assert report["stop_reason"] == (f"ServerUnreachable: the global intent pool (P2): all 3 tries failed in "
                                     f"transport, the last with connection refused ([Errno 111] Connection refused) "
                                     f"at {url}/")
    assert not os.path.exists(os.path.join(str(tmp_path), "tiny", "tiny.user"))


def test_a_server_echoing_the_api_key_gets_it_written_nowhere(tmp_path, monkeypatch):  # item 7
    ds = write_dataset(str(tmp_path), n_sessions=12)
    monkeypatch.setenv("GEN_HARD_KEY", KEY)
    scripted = ScriptedPolicy(ds["answer_key"])

    def leaky(body, server):
        reply = scripted(body, server)
        if request_task(body) == "pool":  # the key becomes an intent of the pool, and of every accepted session
            return FakeResponse(json.dumps({"intents": [f"key {KEY}", *scripted.pool]}))
        return FakeResponse(reply.content[:-1] + f', "note": "{KEY}"}}')

    with FakeOpenAIServer(leaky) as server:
        argv = _flags(tmp_path, server.base_url)
        assert run(make_config(argv), argv, out=io.StringIO())["status"] == "complete"
    written = []
    for folder, _, files in os.walk(str(tmp_path)):
        written += [_read(folder, f) for f in files]
    assert not any(KEY in text for text in written)
    cache = _read(tmp_path, "tiny", ".generate_cache", CACHE_FILE)
    assert cache.count(MASK) >= 12  # the pool answer and every P&C answer were scrubbed, not dropped
    assert f"key {MASK}" in _read(tmp_path, "tiny", "tiny.intent")


def test_quotes_inside_an_intent_are_kept():  # item 8
    assert clean_name('"Quoted" glow') == '"Quoted" glow'
    assert clean_name('"Quoted" and "framed"') == '"Quoted" and "framed"'
    assert clean_name('"Lip care".') == "Lip care" and clean_name("'Lip care") == "Lip care"
    assert clean_name("Men's care") == "Men's care"


def test_ctrl_c_stops_new_calls_writes_the_report_and_exits_3(tmp_path):  # item 4
    ds = write_dataset(str(tmp_path), n_sessions=60, n_items=40)
    cfg = {"backend": "openai", "llm_model": "fake-model", "temperature": 0.0}
    with FakeOpenAIServer(ScriptedPolicy(ds["answer_key"]), latency=0.2) as server:
        env = {**os.environ, "GEN_HARD_KEY": KEY, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
        cmd = [sys.executable, "-m", "recbole_intent.generate", *_flags(tmp_path, server.base_url),
               "--concurrency", "4", "--pool_sync", "8", "--no_refine"]  # fmt: skip
        proc = subprocess.Popen(cmd, cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
        deadline = time.time() + 60
        while server.hits("pnc") < 10 and proc.poll() is None and time.time() < deadline:
            time.sleep(0.01)
        assert proc.poll() is None, proc.communicate()[0]
        proc.send_signal(signal.SIGINT)
        at_signal = server.hits()
        log = proc.communicate(timeout=60)[0]
        after = server.requests[at_signal:]
    assert proc.returncode == 3, log
    assert "Traceback" not in log and "Ctrl-C: no new call" in log
    assert len(after) <= 4  # at most the calls already started (one per worker), none begun after Ctrl-C
    report = _report(tmp_path)
    assert report["status"] == "stopped" and report["stop_reason"].startswith("Interrupted: Ctrl-C")
    assert 0 < report["unprocessed"] < 48
    cached = {json.loads(line)["key"] for line in _read(tmp_path, "tiny", ".generate_cache", CACHE_FILE).splitlines()}
    answered = [r for r in server.requests if r["answered"]]
    assert all(call_key(cfg, r["task"], r["body"]["messages"]) in cached for r in answered)  # in-flight landed
