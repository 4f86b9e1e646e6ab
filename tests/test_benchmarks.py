"""The one smoke run of the benchmark scripts (they are not part of CI otherwise): compare.py trains two named
configurations on the tiny dataset over two seeds, writes its tables, and a second call reuses every cached run."""

import json
import os
import subprocess
import sys

import pytest
from tiny_data import write_tiny_dataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    cfg, _ = write_tiny_dataset(str(tmp_path_factory.mktemp("data")))
    return cfg


def _compare(tiny, tmp_path, *runs):
    cmd = [sys.executable, os.path.join(ROOT, "benchmarks", "compare.py"), "--runs", *runs, "--dataset", "tiny",
           "--seeds", "1", "2", "--jobs", "2", "--extra", json.dumps(tiny), "--cache", str(tmp_path / "runs"),
           "--checkpoint_root", str(tmp_path / "ckpt"), "--out", str(tmp_path / "table")]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_compare_tables_and_cache(tiny, tmp_path):
    first = _compare(tiny, tmp_path, "sasrec", "veli_offline_ce")
    assert "cached" not in first
    table = json.loads((tmp_path / "table.json").read_text())
    assert [r["run"] for r in table["rows"]] == ["sasrec", "veli_offline_ce"]
    veli = table["rows"][1]
    assert 0 <= veli["ndcg@20"][0] <= 1 and veli["ndcg@20_p"] is not None  # two seeds: a paired t-test
    assert "| veli_offline_ce | VELI_SASRec |" in (tmp_path / "table.md").read_text()
    assert len(list((tmp_path / "ckpt").glob("*_1/*.pth"))) == 2  # the best-on-valid models, for eval_protocols.py
    again = _compare(tiny, tmp_path, "sasrec", "veli_offline_ce")
    assert again.count("cached") == 4 and json.loads((tmp_path / "table.json").read_text())["rows"] == table["rows"]

    # eval_protocols.py on those checkpoints: the full-ranking NDCG@10 it recomputes must be compare.py's number
    cmd = [sys.executable, os.path.join(ROOT, "benchmarks", "eval_protocols.py"), "--runs", "sasrec",
           "veli_offline_ce", "--dataset", "tiny", "--seeds", "1", "2", "--threads", "1",
           "--checkpoint_root", str(tmp_path / "ckpt"), "--out", str(tmp_path / "protocols")]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "training it" not in out.stdout  # every checkpoint was found
    protocols = {r["run"]: r for r in json.loads((tmp_path / "protocols.json").read_text())["rows"]}
    per_seed = {(r["run"], r["seed"]): r["test"]["ndcg@10"] for r in table["per_seed"]}
    for run, row in protocols.items():
        assert row["full_ndcg10"] == pytest.approx([per_seed[(run, 1)], per_seed[(run, 2)]], abs=1e-4)
        assert all(0 <= x <= 1 for x in row["warm_ndcg20"] + row["cold_ndcg20"] + row["ndcg@10"])
    assert "warm_ndcg20_gain" not in protocols["sasrec"] and protocols["veli_offline_ce"]["warm_ndcg20_p"] is not None


def test_ablation_table_and_figure(tmp_path):
    import ablations

    seeds = [1, 2]
    names = {n for _, points in ablations.SWEEPS.values() for _, n in points} | {ablations.REFERENCE}
    results = {(n, s): {"test": {m: 0.01 * (s + len(n) % 5) for m in ablations.METRICS},
                        "valid": {"ndcg@20": 0.05}, "epochs": 3} for n in names for s in seeds}
    args = type("Args", (), {"dataset": "tiny"})
    markdown, rows, ref = ablations.table("ratio", results, seeds, args)
    assert [r["label"] for r in rows] == ["0%", "25%", "50%", "75%", "100%"]
    assert ablations.RUNS["abl_ratio_25"][1]["intent_ratio"] == 0.25 and "| 25% | `abl_ratio_25` |" in markdown
    ablations.figure("ratio", rows, ref, str(tmp_path / "ratio.png"))
    assert (tmp_path / "ratio.png").read_bytes()[:4] == b"\x89PNG"
    assert "warm N@20" not in markdown  # no --warm: no column
    for key in results:
        results[key]["warm_ndcg20"] = 0.1
    markdown, rows, ref = ablations.table("ratio", results, seeds, args)
    assert "| warm N@20 |" in markdown and rows[0]["warm_ndcg20"] == [0.1, 0.1] and ref["warm_ndcg20"] == 0.1
    ablations.figure("ratio", rows, ref, str(tmp_path / "ratio_warm.png"))  # a third panel: warm targets
    assert (tmp_path / "ratio_warm.png").read_bytes()[:4] == b"\x89PNG"
    header, rule, first = markdown.splitlines()[6:9]
    assert header.count("|") == rule.count("|") == first.count("|")


def test_tuning_selects_on_valid_only():
    import tune_grid

    seed = 7
    # every point's test NDCG is the reverse of its valid NDCG: selection must follow valid
    grid = {(n, seed): {"valid": {"ndcg@20": 0.1 + 0.01 * i}, "test": {"ndcg@20": 0.5 - 0.01 * i}}
            for points in tune_grid.GRID.values() for i, n in enumerate(points)}
    selected = tune_grid.select(grid, seed)
    assert selected == {family: points[-1] for family, points in tune_grid.GRID.items()}
    assert tune_grid.RUNS["tune_veli_lr2e-3"] == ("VELI_SASRec", {**tune_grid.RUNS["veli_llm_ce_p05"][1],
                                                                  "learning_rate": 2e-3})
