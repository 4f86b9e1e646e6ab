"""Tune SASRec and VELI_SASRec on the validation split, then compare the two selected configurations over seeds.

    python benchmarks/tune_grid.py --tune_seed 2020 --seeds 2020 2021 2022 2023 2024 --out results/tuned_sasrec

Issue 4 asks for rows "tuned on valid, not test", and tuning is one of the reasons the papers' gains might not show
on our data. Every grid point is one training run at ``--tune_seed`` (early stopping on valid NDCG@20); each family's
point with the best validation NDCG@20 is selected, and only then are the two selected configurations trained on
``--seeds`` and compared on the test split (paired t-test over seeds). The test numbers of the grid are printed
for reference but never used to select.

The grid: learning rate {1e-3, 2e-3} x dropout {0.2, 0.5} for both families (the papers' B.1 grid has lr
{1e-3, 1.5e-3, 2e-3} and dropout {0.1, 0.15, 0.2}; 0.5 is RecBole's SASRec default, which beats 0.2 here). VELI also
gets the points of its own hyper-parameters that ``ablations.py`` already trained (K, lambda_intent and lambda_ortho
on the papers' grid values), so VELI is tuned over more points than SASRec: if tuning explains the missing gain,
this grid favours finding it. Runs go through ``compare.py``'s per-run cache and checkpoints.
"""

import argparse
import json
import os
import sys
from datetime import date

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ablations  # noqa: E402, F401  (registers the sweeps' runs, abl_*, in RUNS)
from compare import RUNS, add_run_args, cell, run_all, summarise, variant  # noqa: E402

LR2 = {"learning_rate": 2e-3}


# family -> grid points (run names); existing runs are reused where one has exactly a point's settings
GRID = {
    "SASRec": ["sasrec", "sasrec_p", variant("tune_sasrec_lr2e-3", "sasrec", **LR2),
               variant("tune_sasrec_p_lr2e-3", "sasrec_p", **LR2)],
    # veli_llm_ce: dropout 0.2 from the VELI YAML (the papers' grid), otherwise the same as veli_llm_ce_p05
    "VELI_SASRec": ["veli_llm_ce_p05", "veli_llm_ce", variant("tune_veli_lr2e-3", "veli_llm_ce_p05", **LR2),
                    variant("tune_veli_p02_lr2e-3", "veli_llm_ce", **LR2),
                    "abl_k5", "abl_k20", "abl_lam_intent_1e-4", "abl_lam_intent_1e-2", "abl_lam_ortho_1e-4",
                    "abl_lam_ortho_1e-2"],
}


def select(grid, seed):
    """Each family's point with the best validation NDCG@20 at the tuning seed (the test split is not looked at)."""
    return {family: max(points, key=lambda n: grid[(n, seed)]["valid"]["ndcg@20"]) for family, points in GRID.items()}


def to_markdown(grid, selected, rows, args):
    lines = [f"# {args.dataset}: SASRec vs VELI_SASRec, each tuned on valid ({date.today()})", "",
             f"Command: `python benchmarks/tune_grid.py {' '.join(sys.argv[1:])}`", "",
             f"Grid at seed {args.tune_seed}; selection = best valid NDCG@20 (test shown, not used). Then the selected "
             f"configurations over seeds {args.seeds}: test split, full ranking, gain over the selected SASRec, "
             "* = paired t-test p < 0.05.", "", "## Grid", "",
             "| family | run | settings | valid N@20 | test N@20 | selected |", "|---|---|---|---|---|---|"]
    for family, points in GRID.items():
        for n in points:
            r = grid[(n, args.tune_seed)]
            lines.append(f"| {family} | `{n}` | `{json.dumps(RUNS[n][1])}` | {r['valid']['ndcg@20']:.4f} | "
                         f"{r['test']['ndcg@20']:.4f} | {'**yes**' if selected[family] == n else ''} |")
    lines += ["", "## Selected configurations over seeds", "", "| family | run | H@20 | N@10 | N@20 |",
              "|---|---|---|---|---|"]
    for family, row in zip(GRID, rows, strict=True):
        cells = [cell(row, m, len(args.seeds)) for m in ("hit@20", "ndcg@10", "ndcg@20")]
        lines.append(f"| {family} | `{row['run']}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tune_seed", type=int, default=2020)
    add_run_args(parser, seeds=(2020, 2021, 2022, 2023, 2024))
    args = parser.parse_args()

    grid = run_all([(n, args.tune_seed) for points in GRID.values() for n in points], args)
    selected = select(grid, args.tune_seed)
    names = list(selected.values())
    results = run_all([(n, s) for s in args.seeds for n in names], args)
    rows = summarise(results, names, names[0], args.seeds)
    markdown = to_markdown(grid, selected, rows, args)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out + ".md", "w") as f:
        f.write(markdown)
    with open(args.out + ".json", "w") as f:
        json.dump({"date": str(date.today()), "command": "python benchmarks/tune_grid.py " + " ".join(sys.argv[1:]),
                   "grid": [{"family": fam, "run": n, "settings": RUNS[n][1], **grid[(n, args.tune_seed)]}
                            for fam, points in GRID.items() for n in points],
                   "selected": selected, "rows": rows,
                   "per_seed": [{"run": n, "seed": s, **r} for (n, s), r in results.items()]}, f, indent=1)
    print(markdown)


if __name__ == "__main__":
    main()
