"""Kill the generator (SIGKILL) in the middle of a run, rerun the same command: no completed call is repeated and
the outputs equal those of an uninterrupted run. Drives ``python -m recbole_intent.generate`` as a subprocess."""

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time

from recbole_intent.generate.common.cache import CACHE_FILE
from recbole_intent.generate.common.llm_client import call_key
from recbole_intent.generate.common.settings import make_config
from recbole_intent.generate.pnc.runner import run
from recbole_intent.testing.fake_policy import ScriptedPolicy
from recbole_intent.testing.fake_server import FakeOpenAIServer, request_task
from recbole_intent.testing.synthetic import write_dataset

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEY = "sk-resume-test-SECRET-777"


def command(root, server):
    return [sys.executable, "-m", "recbole_intent.generate", "--dataset", "tiny", "--data_path", str(root),
            "--base_url", server.base_url, "--api_key_env", "GEN_RESUME_KEY", "--select", "all",
            "--concurrency", "3", "--pool_sync", "6", "--llm_model", "fake-model"]  # fmt: skip


def start(root, server):
    env = {**os.environ, "GEN_RESUME_KEY": KEY, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen(command(root, server), cwd=str(root), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip


def cache_keys(root):
    keys = set()
    with open(os.path.join(str(root), "tiny", ".generate_cache", CACHE_FILE), encoding="utf-8") as fh:
        for line in fh:
            with contextlib.suppress(ValueError):  # the line the kill tore
                keys.add(json.loads(line)["key"])
    return keys


def outputs(root):
    texts = []
    for name in ("tiny.intent", "tiny.user"):
        with open(os.path.join(str(root), "tiny", name), encoding="utf-8") as fh:
            texts.append(fh.read())
    return texts


def test_sigkill_mid_run_then_rerun_repeats_no_completed_call(tmp_path, monkeypatch):
    killed, full = tmp_path / "killed", tmp_path / "full"
    ds = write_dataset(str(killed), n_sessions=40, n_items=40)
    write_dataset(str(full), n_sessions=40, n_items=40)
    cfg = {"backend": "openai", "llm_model": "fake-model", "temperature": 0.0}
    with FakeOpenAIServer(ScriptedPolicy(ds["answer_key"]), latency=0.02) as server:
        proc = start(killed, server)
        deadline = time.time() + 60
        while server.hits("pnc") < 15 and proc.poll() is None and time.time() < deadline:
            time.sleep(0.01)  # kill it in the middle of the P&C loop (refine and pool are done by then)
        assert proc.poll() is None, proc.communicate()[0]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        first_hits = server.hits()
        cached = cache_keys(killed)
        assert 0 < len(cached) <= first_hits
        with open(os.path.join(str(killed), "tiny", ".generate_cache", CACHE_FILE), "a", encoding="utf-8") as fh:
            fh.write('{"key": "torn-by-a-kill", "text": "{\\"inte')  # a write cut in half must not break the rerun
        assert not os.path.exists(os.path.join(str(killed), "tiny", "tiny.user"))

        proc = start(killed, server)
        log = proc.communicate(timeout=120)[0]
        assert proc.returncode == 0, log
        rerun = server.requests[first_hits:]
        repeated = [r for r in rerun if call_key(cfg, request_task(r["body"]), r["body"]["messages"]) in cached]
        assert repeated == []  # every call answered before the kill came from the cache

        before_full = server.hits()
        monkeypatch.setenv("GEN_RESUME_KEY", KEY)
        argv = command(full, server)[3:]  # the same flags, run in-process (saves a Python start-up)
        assert run(make_config(argv), argv, out=io.StringIO())["status"] == "complete"
        full_hits = server.hits() - before_full
    assert len(cached) + len(rerun) == full_hits  # each needed call paid for exactly once across kill + rerun
    assert outputs(killed) == outputs(full)
    with open(os.path.join(str(killed), "tiny", "tiny.generate_report.json"), encoding="utf-8") as fh:
        report = json.load(fh)
    assert report["cache_hits"] == len(cached) and report["cache_bad_lines"] == 1 and report["status"] == "complete"
    assert KEY not in log
