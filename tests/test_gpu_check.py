"""benchmarks/gpu_check.py --small on this machine (CPU here): every model trains with AMP off and on (bfloat16
autocast on CPU), the ratios are against the right backbone, enrichment runs at each size, and both reports name
the device."""

import json
import os
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    import gpu_check

    out = tmp_path_factory.mktemp("gpu_check") / "gpu_check"
    status = gpu_check.main(["--small", "--epochs", "1", "--enrich_sizes", "300", "1000", "--exact_max", "500",
                             "--ranks", "0", "--out", str(out)])
    data = json.loads(out.with_suffix(".json").read_text())
    return status, data, out.with_suffix(".md").read_text()


def test_every_model_trains_with_and_without_amp(report):
    status, data, _ = report
    runs = [(r["run"], r["amp"]) for r in data["models"]]
    names = ["SASRec", "VELI_SASRec", "SPRINT_SASRec", "VELI_SASRec+LE", "SRGNN", "LLM4SBR_SRGNN"]
    assert runs == [(name, amp) for name in names for amp in (False, True)]
    assert [r.get("error") for r in data["models"]] == [None] * 12 and status == 0
    assert all(0 <= r["ndcg@20"] <= 1 and r["epoch_s"] > 0 and r["infer_s"] > 0 for r in data["models"])


def test_ratios_are_against_the_backbone_with_the_same_amp(report):
    rows = {(r["run"], r["amp"]): r for r in report[1]["models"]}
    for (name, amp), row in rows.items():
        backbone = {"SASRec": None, "SRGNN": None, "LLM4SBR_SRGNN": "SRGNN"}.get(name, "SASRec")
        if backbone is None:
            assert "epoch_ratio" not in row
            continue
        assert row["epoch_ratio"] == pytest.approx(row["epoch_s"] / rows[(backbone, amp)]["epoch_s"])
        assert row["infer_ratio"] == pytest.approx(row["infer_s"] / rows[(backbone, amp)]["infer_s"])
    assert rows[("VELI_SASRec", False)]["enrich_s"] > 0 and rows[("SASRec", False)]["enrich_s"] == 0


def test_enrichment_sizes_and_the_exact_limit(report):
    rows = [(r["sessions"], r["scope"], r["search"], "skipped" in r) for r in report[1]["enrichment"]]
    assert rows == [(300, "global", "exact", False), (300, "global", "ivf", False), (300, "batch", "exact", False),
                    (1000, "global", "exact", True), (1000, "global", "ivf", False), (1000, "batch", "exact", False)]


def test_reports_name_the_device(report):
    _, data, markdown = report
    expected = "CPU" if not torch.cuda.is_available() else torch.cuda.get_device_name(0)
    assert expected in data["device"] and f"Device: **{data['device']}**" in markdown
    assert "| VELI_SASRec+LE | on |" in markdown and "| 1,000 | global | exact | skipped" in markdown
