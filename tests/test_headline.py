"""benchmarks/headline.py: the README's headline table from compare.py's JSON tables."""

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _table(path, protocol, veli_n20):
    rows = [{"run": "sasrec", "hit@20": [0.2, 0.0], "ndcg@20": [0.1, 0.0]},
            {"run": "veli", "hit@20": [0.22, 0.0], "ndcg@20": [veli_n20, 0.0], "hit@20_gain": 0.1,
             "hit@20_p": 0.01, "ndcg@20_gain": veli_n20 / 0.1 - 1, "ndcg@20_p": 0.5},
            {"run": "sprint", "hit@20": [0.18, 0.0], "ndcg@20": [0.09, 0.0], "hit@20_gain": -0.1, "hit@20_p": 0.2,
             "ndcg@20_gain": -0.1, "ndcg@20_p": 0.04}]
    path.write_text(json.dumps({"protocol": protocol, "seeds": [1, 2, 3], "rows": rows}))
    return str(path)


def test_headline_puts_each_protocol_beside_the_papers(tmp_path):
    tables = [_table(tmp_path / "p.json", "papers", 0.105), _table(tmp_path / "s.json", "strong", 0.095)]
    out = tmp_path / "headline"
    subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "headline.py"), "--tables", *tables,
                    "--out", str(out)], check=True, capture_output=True)
    text = (tmp_path / "headline.md").read_text()
    assert "0.0274 (+35.0%)" in text and "0.0316 (+55.7%)" in text  # the papers' N@20 gains, 0.0274 / 0.0203 - 1
    assert "| papers | 3 | 0.2000 / 0.1000 | 0.2200 (+10.0%, p = 0.01) | 0.1050 (+5.0%, p = 0.50) |" in text
    assert "0.0950 (-5.0%, p = 0.50)" in text
    assert json.loads((tmp_path / "headline.json").read_text())["ours"][1]["protocol"] == "strong"


def test_a_table_without_sprint_is_one_error_line(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"protocol": "strong", "seeds": [1], "rows": [{"run": "sasrec"}, {"run": "veli"}]}))
    run = subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "headline.py"), "--tables", str(path),
                          "--out", str(tmp_path / "h")], capture_output=True, text=True)
    assert run.returncode == 1 and "has no run ['sprint']" in run.stderr and "Traceback" not in run.stderr


def test_tuned_rows_follow_the_untuned_ones(tmp_path):
    tables = [_table(tmp_path / "p.json", "papers", 0.105)]
    rows = [{"run": "tune_sasrec_x", "hit@20": [0.3, 0.0], "ndcg@20": [0.2, 0.0], "machines": {"1": "GPU", "2": "CPU"}},
            {"run": "tune_veli_y", "hit@20": [0.33, 0.0], "ndcg@20": [0.19, 0.0], "hit@20_gain": 0.1, "hit@20_p": 0.2,
             "ndcg@20_gain": -0.05, "ndcg@20_p": 0.03, "machines": {"1": "GPU", "2": "CPU"}}]
    tuned = tmp_path / "tuned.json"
    tuned.write_text(json.dumps({"protocols": {"strong": {"selected": {"SASRec": "tune_sasrec_x",
                                                                       "VELI_SASRec": "tune_veli_y"}, "rows": rows}}}))
    subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "headline.py"), "--tables", *tables,
                    "--tuned", str(tuned), "--out", str(tmp_path / "h")], check=True, capture_output=True)
    last = (tmp_path / "h.md").read_text().strip().splitlines()[-1]
    assert last == ("| ours, tuned on valid, `tuned.json` | strong | 2 | 0.3000 / 0.2000 | 0.3300 (+10.0%, p = 0.20) | "
                    "0.1900 (-5.0%, p = 0.03) | not tuned | not tuned |")
