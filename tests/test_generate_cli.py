"""Settings (YAML defaults + CLI), the pool object, P2 retries, atomic output files, and the CLI exit codes."""

import json
import os

import pytest

from recbole_intent.generate.__main__ import main
from recbole_intent.generate.common import data
from recbole_intent.generate.common.backends import Reply, make_backend
from recbole_intent.generate.common.cache import ReplyCache
from recbole_intent.generate.common.llm_client import LLMClient
from recbole_intent.generate.common.report import Stats
from recbole_intent.generate.common.settings import load_defaults, make_config
from recbole_intent.generate.pnc.gip import IntentPool, init_pool, read_pool_file
from recbole_intent.generate.pnc.pnc_loop import Outcome


def test_defaults_follow_the_papers_and_cli_overrides_them():
    cfg = make_config([])
    assert (cfg["max_tries"], cfg["candidates"], cfg["ratio"], cfg["rrf_k"]) == (3, 5, 0.1, 60)
    assert cfg["select"] == "uncertainty" and cfg["refine"] is True and cfg["max_calls"] is None
    assert cfg["cache_dir"] == os.path.join("dataset", "beauty", ".generate_cache")
    cfg = make_config(["--dataset", "x", "--ratio", "0.2", "--no_refine", "--max_calls", "7", "--dry_run",
                       "--select", "random", "--temperature", "0.5", "--base_url", "http://h/v1"])  # fmt: skip
    got = (cfg["ratio"], cfg["refine"], cfg["max_calls"], cfg["dry_run"], cfg["temperature"])
    assert got == (0.2, False, 7, True, 0.5)
    assert cfg["cache_dir"] == os.path.join("dataset", "x", ".generate_cache") and cfg["base_url"] == "http://h/v1"
    assert set(load_defaults()) <= set(cfg)


def test_bad_settings_are_rejected(capsys):
    with pytest.raises(SystemExit):
        make_config(["--select", "hardest"])
    with pytest.raises(ValueError, match="ratio"):
        make_config(["--ratio", "0"])
    with pytest.raises(ValueError, match="max_tries"):
        make_config(["--max_tries", "0"])
    with pytest.raises(ValueError, match="backend"):
        make_backend({"backend": "nope"})


def test_missing_dataset_exits_2_with_a_message(tmp_path, capsys):
    assert main(["--dataset", "nothing", "--data_path", str(tmp_path), "--select", "all"]) == 2
    assert "nothing.train.inter not found" in capsys.readouterr().err


def test_pool_identity_ignores_case_spacing_and_punctuation():
    pool = IntentPool(["anti-aging", "Gift Giving"])
    assert pool.add("ANTI AGING") == 0 and pool.commit(["gift-giving!", "night care", "Night  Care"]) == [1, 2, 2]
    assert pool.names == ["anti-aging", "Gift Giving", "night care"]
    snap = pool.snapshot()
    pool.add("vegan")
    assert snap.names == ("anti-aging", "Gift Giving", "night care") and len(pool) == 4  # snapshots do not move


class PoolBackend:
    def __init__(self, *answers):
        self.answers = list(answers)
        self.seen = []

    def complete(self, task, payload, messages):
        self.seen.append(messages)
        return Reply(self.answers.pop(0))


def _client(tmp_path, backend):
    cfg = {**make_config([]), "backend": "scripted", "cache_dir": str(tmp_path)}
    return cfg, LLMClient(backend, ReplyCache(str(tmp_path)), cfg, Stats())


def test_pool_init_retries_invalid_answers_with_feedback_then_gives_up(tmp_path):
    backend = PoolBackend("no json here", '{"intents": ["Trendy", "trendy", "vegan"]}')
    cfg, client = _client(tmp_path / "a", backend)
    pool = init_pool(cfg, client, Stats(), titles=["Red lipstick"])
    assert pool.names == ["Trendy", "vegan"] and len(backend.seen) == 2
    assert backend.seen[1][-1]["content"].startswith("Invalid answer (not_json)")
    cfg, client = _client(tmp_path / "b", PoolBackend("x", "y", '{"intents": []}'))
    with pytest.raises(RuntimeError, match="could not initialise"):
        init_pool(cfg, client, Stats())


def test_pool_file_replaces_p2(tmp_path):
    path = tmp_path / "gip.txt"
    path.write_text("budget-friendly\n\nTrendy\ntrendy\n" + "x" * 90 + "\n", encoding="utf-8")
    cfg = {**make_config([]), "pool_file": str(path)}
    assert read_pool_file(str(path), cfg) == ["budget-friendly", "Trendy", "trendy"]
    assert init_pool(cfg, client=None, stats=Stats()).names == ["budget-friendly", "Trendy"]


def test_output_files_are_atomic_and_single_line(tmp_path):
    cfg = {"data_path": str(tmp_path), "dataset": "d"}
    data.write_intent_file(cfg, ["anti-aging", "lip\tcare\nroutine  set"])
    a = Outcome("s1", "accepted", 2, ["anti-aging"], [], [0, 1], ["i9"], ["wrong_item"])
    f = Outcome("s2", "failed", 3, [], [], [], ["i1", "i2"], ["wrong_item"] * 3)
    data.write_user_file(cfg, [a, f, Outcome("s3")])  # s3 unprocessed: no row
    folder = tmp_path / "d"
    assert sorted(os.listdir(folder)) == ["d.intent", "d.user"]  # no temp file left behind
    intent = (folder / "d.intent").read_text()
    assert intent == "intent_id:token\tintent_name:token_seq\n0\tanti-aging\n1\tlip care routine set\n"
    assert (folder / "d.user").read_text().splitlines() == [
        "session_id:token\tintent_ids:token_seq\thard_negatives:token_seq",
        "s1\t0 1\ti9",
        "s2\t\ti1 i2",
    ]
    data.write_intent_file({**cfg, "intent_set": "llm"}, ["x"])
    assert (folder / "llm" / "d.intent").read_text().splitlines()[1] == "0\tx"
    data.write_atomic_text(str(folder / "r.json"), json.dumps({"a": 1}))
    assert json.loads((folder / "r.json").read_text()) == {"a": 1}
