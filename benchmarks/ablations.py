"""Ablation sweeps of VELI_SASRec on a dataset (VELI4SBR Table 4, SPRINT Table 5 / Figures 4-5): one table and one
figure per sweep, every point a full training run (early stopping on valid NDCG@20, test split, full ranking).

    python benchmarks/ablations.py --sweeps all --seeds 2020 --out results/ablations

Each sweep changes one setting of the base configuration ``veli_llm_ce_p05`` (real-LLM intents, CE loss, dropout
0.5, enrichment 'both', K = 10, lambda_intent = lambda_ortho = 1e-3, every LLM label used); the SASRec row of the
same seeds is drawn as the reference line. Runs go through ``compare.py``'s per-run cache, so a point shared by two
sweeps (or with the accuracy table) trains once. Writes ``<out>_<sweep>.md`` and ``<out>_<sweep>.png``.
"""

import argparse
import json
import os
import sys
from datetime import date

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import METRICS, RUNS, add_run_args, fmt_spread, run_all, spread, variant  # noqa: E402

BASE = "veli_llm_ce_p05"
REFERENCE = "sasrec"


def _variant(name, **delta):
    return variant(name, BASE, **delta)


# sweep -> (x-axis title, [(x label, run name)]); the base point is BASE itself so it is trained once
SWEEPS = {
    "components": ("intent components (Table 4)", [
        ("no intents", "veli_llm_ce_p05_nointent"),  # fusion block only: lambda_intent = 0, no enrichment
        ("LLM intents only", _variant("abl_enrich_none", enrich_mode="none")),
        ("+ self", _variant("abl_enrich_self", enrich_mode="self")),
        ("+ nbr", _variant("abl_enrich_nbr", enrich_mode="nbr")),
        ("+ self + nbr", BASE),
    ]),
    # Stage 1 (VELI4SBR Table 4, SPRINT Table 5 (B)): the same 800 real-LLM sessions, intents of the first try
    # unvalidated (import_answers --first_try) vs those the P&C loop validated (+ its hard negatives)
    "pnc": ("P&C loop", [
        ("first try, unvalidated", _variant("abl_first_try", intent_set="llm_first_try")),
        ("P&C validated", BASE),
    ]),
    # same offline backend, 10 % of the training sessions each: SPRINT's uncertainty ranking vs a random draw
    "selection": ("session selection (offline intents)", [
        ("random", _variant("abl_select_random", intent_set="offline_random")),
        ("uncertainty", "veli_offline_ce_p05"),
    ]),
    # Eq. 12's second negative: a P&C-mispredicted item or another random one. Only the papers' BCE loss (rec_loss
    # bce) uses negatives at all; CE, the base here, scores every item. The papers do not ablate this.
    "hard_negatives": ("Eq. 12 negatives (rec_loss bce)", [
        ("random + random", _variant("abl_bce_random_neg", rec_loss="bce", use_hard_negatives=False)),
        ("random + hard", _variant("abl_bce_hard_neg", rec_loss="bce")),
    ]),
    "ratio": ("intent supervision ratio (SPRINT Fig. 5)", [
        ("0%", _variant("abl_ratio_0", intent_ratio=0.0)),
        ("25%", _variant("abl_ratio_25", intent_ratio=0.25)),
        ("50%", _variant("abl_ratio_50", intent_ratio=0.5)),
        ("75%", _variant("abl_ratio_75", intent_ratio=0.75)),
        ("100%", BASE),
    ]),
    # K = 0 has no neighbours: Eq. 16 reduces to the session's own prediction, i.e. enrich_mode 'self'
    "k": ("K neighbour sessions", [
        ("0", "abl_enrich_self"),
        ("5", _variant("abl_k5", enrich_k=5)),
        ("10", BASE),
        ("20", _variant("abl_k20", enrich_k=20)),
    ]),
    "lambda_intent": ("lambda_intent", [
        ("0", _variant("abl_lam_intent_0", lambda_intent=0.0)),
        ("1e-4", _variant("abl_lam_intent_1e-4", lambda_intent=1e-4)),
        ("1e-3", BASE),
        ("1e-2", _variant("abl_lam_intent_1e-2", lambda_intent=1e-2)),
    ]),
    "lambda_ortho": ("lambda_ortho", [
        ("0", _variant("abl_lam_ortho_0", lambda_ortho=0.0)),
        ("1e-4", _variant("abl_lam_ortho_1e-4", lambda_ortho=1e-4)),
        ("1e-3", BASE),
        ("1e-2", _variant("abl_lam_ortho_1e-2", lambda_ortho=1e-2)),
    ]),
}


def table(sweep, results, seeds, args):
    title, points = SWEEPS[sweep]
    ref = {m: np.mean([results[(REFERENCE, s)]["test"][m] for s in seeds]) for m in METRICS}
    warm = all("warm_ndcg20" in results[(n, s)] for _, n in points for s in seeds)
    if warm:
        ref["warm_ndcg20"] = np.mean([results[(REFERENCE, s)]["warm_ndcg20"] for s in seeds])
    ref_warm = f", warm N@20 {ref['warm_ndcg20']:.4f}" if warm else ""
    lines = [f"# {args.dataset}: ablation over {title} ({date.today()})", "",
             f"Command: `python benchmarks/ablations.py {' '.join(sys.argv[1:])}`", "",
             f"VELI_SASRec, base `{BASE}` = `{json.dumps(RUNS[BASE][1])}`; one setting changed per row. Seeds "
             f"{seeds}; early stopping on valid NDCG@20; test split, full ranking; gain relative to `{REFERENCE}` "
             f"(NDCG@20 {ref['ndcg@20']:.4f}, Hit@20 {ref['hit@20']:.4f}{ref_warm})."
             + (" `warm N@20`: NDCG@20 over the test rows whose target occurs in the training split (--warm)."
                if warm else ""), "",
             f"| {title} | run | " + " | ".join(METRICS) + " | NDCG@20 vs SASRec |"
             + (" warm N@20 |" if warm else "") + " valid NDCG@20 | epochs |",
             "|" + "---|" * (len(METRICS) + 5 + warm)]
    rows = []
    for label, name in points:
        vals = {m: np.array([results[(name, s)]["test"][m] for s in seeds]) for m in METRICS}
        if warm:
            vals["warm_ndcg20"] = np.array([results[(name, s)]["warm_ndcg20"] for s in seeds])
        cells = [fmt_spread(*spread(v), len(seeds)) for v in vals.values()]
        cells.insert(len(METRICS), f"{vals['ndcg@20'].mean() / ref['ndcg@20'] - 1:+.1%}")
        epochs = np.mean([results[(name, s)]["epochs"] for s in seeds])
        valid = np.mean([results[(name, s)]["valid"]["ndcg@20"] for s in seeds])  # what a tuner may look at
        lines.append(f"| {label} | `{name}` | " + " | ".join(cells) + f" | {valid:.4f} | {epochs:.0f} |")
        rows.append({"label": label, "run": name, "settings": RUNS[name][1],
                     **{m: [float(x) for x in v] for m, v in vals.items()}})
    return "\n".join(lines) + "\n", rows, ref


def add_warm(results, args):
    """Full-ranking NDCG@20 over the warm test rows of every run, from compare.py's best-on-valid checkpoints (a
    missing checkpoint is trained again): on beauty the cold rows flip single-seed test numbers (README, Results)."""
    from eval_protocols import full_metrics, scores_of

    for name, seed in results:
        scores, seen = scores_of(name, seed, args)
        results[(name, seed)] = dict(results[(name, seed)], warm_ndcg20=full_metrics(scores, seen)["warm_ndcg20"])


def figure(sweep, rows, ref, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = ("ndcg@20", "hit@20", "warm_ndcg20") if "warm_ndcg20" in rows[0] else ("ndcg@20", "hit@20")
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.4))
    x = np.arange(len(rows))
    for ax, metric in zip(axes, metrics, strict=True):
        means, stds = zip(*(spread(np.array(r[metric])) for r in rows), strict=True)
        ax.errorbar(x, means, yerr=stds, marker="o", capsize=3, label="VELI_SASRec")
        ax.axhline(ref[metric], color="grey", linestyle="--", label=REFERENCE)
        ax.set_xticks(x, [r["label"] for r in rows], rotation=15 if sweep == "components" else 0, fontsize=8)
        ax.set_ylabel({"ndcg@20": "NDCG@20", "hit@20": "Hit@20", "warm_ndcg20": "NDCG@20, warm targets"}[metric])
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(SWEEPS[sweep][0])
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sweeps", nargs="+", default=["all"], choices=["all", *SWEEPS])
    parser.add_argument("--warm", action="store_true", help="add NDCG@20 over the warm test targets (checkpoints)")
    add_run_args(parser)
    args = parser.parse_args()
    sweeps = list(SWEEPS) if "all" in args.sweeps else args.sweeps
    names = list(dict.fromkeys([REFERENCE] + [n for s in sweeps for _, n in SWEEPS[s][1]]))
    results = run_all([(n, s) for s in args.seeds for n in names], args)
    if args.warm:
        add_warm(results, args)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    for sweep in sweeps:
        markdown, rows, ref = table(sweep, results, args.seeds, args)
        figure(sweep, rows, ref, f"{args.out}_{sweep}.png")
        with open(f"{args.out}_{sweep}.md", "w") as f:
            f.write(markdown + f"\n![{sweep}]({os.path.basename(args.out)}_{sweep}.png)\n")
        with open(f"{args.out}_{sweep}.json", "w") as f:
            json.dump({"date": str(date.today()), "command": "python benchmarks/ablations.py " + " ".join(sys.argv[1:]),
                       "reference": {m: float(v) for m, v in ref.items()}, "rows": rows}, f, indent=1)
        print(markdown)


if __name__ == "__main__":
    main()
