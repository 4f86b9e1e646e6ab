"""benchmarks/intent_table.py: gains against the fusion-only control and the backbone, with the diagnostics."""

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_intent_table_reports_paired_gains_and_mean_diagnostics(tmp_path):
    n20 = {"sasrec": [0.10, 0.11], "veli_nointent": [0.10, 0.10], "veli_dt": [0.11, 0.12]}
    per_seed = [{"run": run, "seed": seed, "test": {"ndcg@20": v, "hit@20": 2 * v},
                 "intent_diagnostics": {"recall@3": 0.5 + i / 10, "precision@3": 0.3, "fused_per_session": 3.0,
                                        "share_nothing_fused": 0.0} if run == "veli_dt" else None}
                for run, values in n20.items() for i, (seed, v) in enumerate(zip((1, 2), values, strict=True))]
    table = {"dataset": "tiny", "protocol": "strong", "seeds": [1, 2], "date": "today", "command": "compare.py ...",
             "rows": [{"run": r} for r in n20], "per_seed": per_seed}
    path = tmp_path / "t.json"
    path.write_text(json.dumps(table))
    subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "intent_table.py"), str(path)], check=True,
                   capture_output=True)
    text = (tmp_path / "t_diagnostics.md").read_text()
    # veli_dt: mean 0.115 vs control 0.100 (+15.0 %), vs backbone 0.105 (+9.5 %); recall@3 mean of 0.5 and 0.6
    row = next(line for line in text.splitlines() if line.startswith("| veli_dt |"))
    assert "+15.0%" in row and "+9.5%" in row and "| 0.550 | 0.300 | 3.000 | 0.000 |" in row
    assert "| veli_nointent |" in text and "control" in text
    assert (tmp_path / "t_diagnostics.png").stat().st_size > 0
