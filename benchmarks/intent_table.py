"""Issue 13's table and figure: does an intent setting beat the same model without intents, and does its intent
head follow the LLM? From one ``compare.py`` table (its JSON), cached runs only.

    python benchmarks/compare.py --protocol strong --runs sasrec veli_nointent veli veli_dt ... --seeds 2020 2021 2022 \
        --extra '{"stopping_step": 5}' --out results/beauty_intents
    python benchmarks/intent_table.py results/beauty_intents.json --control veli_nointent --backbone sasrec

Per run: H@20 and N@20 (mean ± std over seeds), the N@20 gain over the fusion-only control and over the backbone with
paired t-tests, and the intent diagnostics of every run's best model (``intent_diagnostics``: precision@3 / recall@3
of y_hat against held-out LLM labels, intents fused per test row, share of rows where phi passes nothing), averaged
over seeds. Writes ``<table>_diagnostics.md`` and ``<table>_diagnostics.png`` beside the table.
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import fmt_spread, paired_gain, spread  # noqa: E402

DIAGNOSTICS = ("recall@3", "precision@3", "fused_per_session", "share_nothing_fused")


def per_seed(table, run, metric):
    rows = sorted((r for r in table["per_seed"] if r["run"] == run), key=lambda r: r["seed"])
    return np.array([r["test"][metric] for r in rows])


def mean_diagnostics(table, run):
    values = [r.get("intent_diagnostics") for r in table["per_seed"] if r["run"] == run]
    values = [v for v in values if v]
    if not values:
        return {}
    return {k: float(np.mean([v[k] for v in values])) for k in DIAGNOSTICS if k in values[0]}


def gain_text(vals, ref):
    gain, p = paired_gain(vals, ref)
    return f"{gain:+.1%} (p = {p:.2f})" if p is not None else f"{gain:+.1%}"


def build(table, control, backbone):
    runs = [r["run"] for r in table["rows"]]
    n = len(table["seeds"])
    lines = ["| run | H@20 | N@20 | N@20 vs control | N@20 vs backbone | recall@3 | precision@3 | fused / row |"
             " nothing fused |", "|---|---|---|---|---|---|---|---|---|"]
    summary = []
    for run in runs:
        n20, h20 = per_seed(table, run, "ndcg@20"), per_seed(table, run, "hit@20")
        diag = mean_diagnostics(table, run)
        vs_control = gain_text(n20, per_seed(table, control, "ndcg@20")) if run != control else "control"
        vs_backbone = gain_text(n20, per_seed(table, backbone, "ndcg@20")) if run != backbone else "backbone"
        cells = [f"{diag[k]:.3f}" if k in diag else "-" for k in DIAGNOSTICS]
        lines.append(f"| {run} | {fmt_spread(*spread(h20), n)} | {fmt_spread(*spread(n20), n)} | {vs_control} | "
                     f"{vs_backbone} | " + " | ".join(cells) + " |")
        summary.append({"run": run, "ndcg@20": spread(n20), "hit@20": spread(h20), "diagnostics": diag})
    return lines, summary


def plot(summary, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    names = [s["run"] for s in summary]
    x = np.arange(len(names))
    left.bar(x, [s["ndcg@20"][0] for s in summary], yerr=[s["ndcg@20"][1] for s in summary], color="#4c72b0")
    lows = [s["ndcg@20"][0] - s["ndcg@20"][1] for s in summary]
    left.set_ylim(min(lows) * 0.97, max(s["ndcg@20"][0] + s["ndcg@20"][1] for s in summary) * 1.01)
    left.set_ylabel("test NDCG@20")
    recall = [s["diagnostics"].get("recall@3", 0.0) for s in summary]
    right.bar(x, recall, color="#dd8452")
    right.set_ylabel("recall@3 vs held-out LLM labels")
    for axis in (left, right):
        axis.set_xticks(x, names, rotation=30, ha="right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("table", help="a compare.py JSON file")
    parser.add_argument("--control", default="veli_nointent", help="the same model without intents")
    parser.add_argument("--backbone", default="sasrec")
    args = parser.parse_args()
    with open(args.table) as f:
        table = json.load(f)
    missing = {args.control, args.backbone} - {r["run"] for r in table["rows"]}
    if missing:
        sys.exit(f"error: {args.table} has no run {sorted(missing)}")
    lines, summary = build(table, args.control, args.backbone)
    stem = os.path.splitext(args.table)[0] + "_diagnostics"
    title = f"# Intents vs no intents: {table['dataset']}, protocol {table['protocol']}, seeds {table['seeds']}"
    text = "\n".join([f"{title} ({table['date']})", "", f"Table: `{table['command']}`", "",
                      f"This page: `python benchmarks/intent_table.py {' '.join(sys.argv[1:])}`", "",
                      "Gains: paired t-test over seeds. Diagnostics: mean over seeds of each best model's predictor "
                      "against the LLM labels of its held-out 10 % of labelled sessions (recall@3 by chance: 3 / |G|); "
                      "fused / row and nothing fused over the test rows.", "", *lines]) + "\n"
    with open(stem + ".md", "w") as f:
        f.write(text)
    plot(summary, stem + ".png")
    print(text)


if __name__ == "__main__":
    main()
