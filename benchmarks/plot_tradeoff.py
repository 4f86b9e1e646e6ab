"""Accuracy vs training time (SPRINT Figure 3) from the tables compare.py wrote: one point per run (mean over its
seeds), x = seconds per epoch x epochs to early stopping, y = test NDCG@20, error bars = std over seeds.

    python benchmarks/plot_tradeoff.py results/table2_sasrec.json results/table2_gru4rec.json --out results/tradeoff.png
"""

import argparse
import json
import os
import sys

import numpy as np


def points(paths):
    out = []
    for path in paths:
        with open(path) as f:
            table = json.load(f)
        for row in table["rows"]:
            runs = [r for r in table["per_seed"] if r["run"] == row["run"]]
            minutes = [r["epochs"] * r["seconds_per_epoch"] / 60 for r in runs]
            out.append({"run": row["run"], "model": row["model"], "minutes": float(np.mean(minutes)),
                        "ndcg@20": row["ndcg@20"][0], "std": row["ndcg@20"][1], "seeds": len(runs)})
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("tables", nargs="+", help="results/<name>.json files written by compare.py")
    parser.add_argument("--skip", nargs="*", default=[], help="runs of those tables to leave out")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in points(args.tables) if r["run"] not in args.skip]
    # numbered points and a key beside the axes: run names overlap where runs cost about the same
    fig, ax = plt.subplots(figsize=(10, 4.8))
    for i, r in enumerate(rows, 1):
        ours = r["model"].startswith(("VELI", "SPRINT", "LLM"))
        ax.errorbar(r["minutes"], r["ndcg@20"], yerr=r["std"], marker="o" if ours else "s", capsize=3,
                    color="tab:blue" if ours else "tab:grey")
        ax.annotate(str(i), (r["minutes"], r["ndcg@20"]), fontsize=7, xytext=(4, 3), textcoords="offset points")
    key = "\n".join(f"{i:>2}  {r['run']} ({r['seeds']} seeds)" for i, r in enumerate(rows, 1))
    ax.text(1.02, 1.0, key, transform=ax.transAxes, fontsize=7, family="monospace", va="top")
    ax.set_xlabel("training time to early stop (min, 1 CPU thread)")
    ax.set_ylabel("test NDCG@20 (full ranking)")
    ax.set_title("accuracy vs training time (grey: RecBole backbones)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    fig.savefig(args.out, dpi=120)
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump({"command": "python benchmarks/plot_tradeoff.py " + " ".join(sys.argv[1:]), "points": rows}, f,
                  indent=1)
    for r in rows:
        line = f"{r['run']:<28} {r['minutes']:6.1f} min  NDCG@20 {r['ndcg@20']:.4f} ± {r['std']:.4f}"
        print(line + f"  {r['seeds']} seed(s)")


if __name__ == "__main__":
    main()
