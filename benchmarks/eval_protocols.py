"""Two more evaluation protocols on CONVERGED models. (1) The papers' 20-candidate protocol (SPRINT Table 4, after
PO4ISR): per test row, the target plus the 19 items a pretrained SASRec scores highest (the target excluded);
Hit/NDCG@5/10 of the target among them. (2) Full ranking split by warm / cold targets (below).

    python benchmarks/eval_protocols.py --runs sasrec veli_llm_ce_p05 sprint_llm_ce_p05 veli_llm_le_ce_p05 \
        --seeds 2020 2021 2022 --out results/eval_protocols

The models are the best-on-valid checkpoints that ``benchmarks/compare.py`` saves under ``/tmp/compare/<run>_<seed>``
(a run whose result is cached but whose checkpoint is gone is trained again, without touching the cache). The
candidate generator for seed s is the ``sasrec`` run of seed s, so SASRec itself is scored on its own hardest
negatives: its row is the protocol's floor, as in the papers. Also prints each model's full-ranking NDCG@10 from the
same checkpoint, which must equal compare.py's number (a check that the right file was loaded), and NDCG@20 split by
whether the test target occurs in the training split (warm) or not (cold: 29 % of beauty's test rows).
"""

import argparse
import glob
import json
import os
import sys
import types
from datetime import date

import numpy as np
import torch
from recbole.data.utils import create_samplers, get_dataloader

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ablations  # noqa: E402, F401  (registers the sweeps' runs, abl_*, in RUNS)
from bench_efficiency import full_scores, twenty_candidates  # noqa: E402
from compare import RUNS, fmt_gain, fmt_spread, paired_gain, run_one, spread  # noqa: E402

from recbole_intent.explain.load import load_model  # noqa: E402

REFERENCE = "sasrec"
METRICS = ["hit@5", "hit@10", "ndcg@5", "ndcg@10"]


def checkpoint(name, seed, args):
    folder = os.path.join(args.checkpoint_root, f"{name}_{seed}")
    files = sorted(glob.glob(os.path.join(folder, "*.pth")), key=os.path.getmtime)
    if not files:
        print(f"{name} seed {seed}: no checkpoint in {folder}, training it", flush=True)
        # ablations.py --warm passes its own args: its --extra must reach the retrained run too
        run_one(name, seed, types.SimpleNamespace(dataset=args.dataset, extra=getattr(args, "extra", "{}"), cache="",
                                                  threads=args.threads, checkpoint_root=args.checkpoint_root))
        files = sorted(glob.glob(os.path.join(folder, "*.pth")), key=os.path.getmtime)
    return files[-1]


@torch.no_grad()
def scores_of(name, seed, args):
    """Full-ranking scores of the test split, and the item ids that occur anywhere in the training split."""
    loaded = load_model(checkpoint(name, seed, args), extra={"state": "ERROR", "show_progress": False},
                        intent_models_only=False)
    built = list(loaded.splits.values())  # train, valid, test, already built by load_model
    test_sampler = create_samplers(loaded.config, loaded.dataset, built)[2]
    test = get_dataloader(loaded.config, "test")(loaded.config, built[2], test_sampler, shuffle=False)
    train = built[0].inter_feat
    seen = torch.zeros(loaded.dataset.item_num, dtype=torch.bool)
    seen[train[loaded.model.ITEM_ID]] = True
    seen[train[loaded.model.ITEM_SEQ].flatten()] = True
    seen[0] = False  # [PAD]
    return full_scores(loaded.model, test), seen


def target_ranks(scores):
    """0-based full-ranking position of every test target, computed once per model."""
    targets = torch.cat([t for _, t in scores])
    ranks = torch.cat([(s > s.gather(1, t.unsqueeze(1))).sum(1) for s, t in scores]).float()
    return ranks, targets


def ndcg(ranks, k):
    return float(((ranks < k).float() / torch.log2(ranks + 2)).mean()) if ranks.numel() else 0.0


def full_metrics(scores, seen):
    """Full-ranking NDCG@10 over all test rows; NDCG@20 over the warm / cold ones (target seen / never seen in
    training); the median rank of the cold targets."""
    ranks, targets = target_ranks(scores)
    warm = seen[targets]
    cold = ranks[~warm]
    return {"full_ndcg10": ndcg(ranks, 10), "warm_ndcg20": ndcg(ranks[warm], 20), "cold_ndcg20": ndcg(cold, 20),
            "cold_median_rank": float(cold.median()) if cold.numel() else float("nan")}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", nargs="+", required=True, choices=sorted(RUNS))
    parser.add_argument("--dataset", default="beauty")
    parser.add_argument("--seeds", type=int, nargs="+", default=[2020])
    parser.add_argument("--checkpoint_root", default="/tmp/compare")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--gain_over", default=None, help="run the warm N@20 gain is computed against (default: first)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gain_over = args.gain_over or args.runs[0]
    per_seed = {}
    for seed in args.seeds:
        reference, seen = scores_of(REFERENCE, seed, args)
        for name in args.runs:
            scores = reference if name == REFERENCE else scores_of(name, seed, args)[0]
            per_seed[(name, seed)] = {**twenty_candidates(scores, reference), **full_metrics(scores, seen)}
            print(name, seed, json.dumps(per_seed[(name, seed)]), flush=True)
    lines = [f"# {args.dataset}: 20-candidate protocol, warm / cold targets, converged models ({date.today()})", "",
             f"Command: `python benchmarks/eval_protocols.py {' '.join(sys.argv[1:])}`", "",
             f"Seeds {args.seeds}. Candidates per test row: the target + the 19 items the `{REFERENCE}` run of the "
             "same seed scores highest. Models: the best-on-valid checkpoints of `benchmarks/compare.py`. `full N@10`: "
             "full-ranking NDCG@10 from the same checkpoint; `warm` / `cold N@20`: full-ranking NDCG@20 over the test "
             "rows whose target does / does not occur anywhere in the training split; `cold median rank`: the median "
             "0-based position of those cold targets among all items. Warm N@20 gain is relative to "
             f"`{gain_over}`" + ("; * = paired t-test p < 0.05 over seeds." if len(args.seeds) > 1 else "."), "",
             "| run | model | " + " | ".join(f"20-cand {m}" for m in METRICS)
             + " | full N@10 | warm N@20 | cold N@20 | cold median rank |",
             "|" + "---|" * (len(METRICS) + 6)]
    rows = []
    for name in args.runs:
        columns = [*METRICS, "full_ndcg10", "warm_ndcg20", "cold_ndcg20", "cold_median_rank"]
        vals = {m: np.array([per_seed[(name, s)][m] for s in args.seeds]) for m in columns}
        cells = [fmt_spread(*spread(v), len(args.seeds)) for v in vals.values()]
        row = {"run": name, "model": RUNS[name][0], **{m: v.tolist() for m, v in vals.items()}}
        if name != gain_over:  # the papers' setting is the warm one (their split has no unseen items)
            ref = np.array([per_seed[(gain_over, s)]["warm_ndcg20"] for s in args.seeds])
            row["warm_ndcg20_gain"], row["warm_ndcg20_p"] = paired_gain(vals["warm_ndcg20"], ref)
            if row["warm_ndcg20_gain"] is not None:
                cells[columns.index("warm_ndcg20")] += fmt_gain(row["warm_ndcg20_gain"], row["warm_ndcg20_p"])
        lines.append(f"| {name} | {RUNS[name][0]} | " + " | ".join(cells) + " |")
        rows.append(row)
    markdown = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out + ".md", "w") as f:
        f.write(markdown)
    with open(args.out + ".json", "w") as f:
        command = "python benchmarks/eval_protocols.py " + " ".join(sys.argv[1:])
        json.dump({"date": str(date.today()), "command": command, "seeds": args.seeds, "rows": rows}, f, indent=1)
    print(markdown)


if __name__ == "__main__":
    main()
