"""Training and inference cost of the VELI models against their backbones (VELI4SBR Table 3 / SPRINT Figure 3).

    OMP_NUM_THREADS=2 python benchmarks/bench_efficiency.py [--dataset beauty] [--intent_set llm] [--epochs 3]

In ONE process, each (backbone, VELI) pair is built on the same data and alternately trained for --epochs epochs;
we report seconds per training epoch (VELI: plus its enrichment pass amortised over rho epochs, Algorithm 2) and the
wall time of full-ranking inference over the whole test split, each as a ratio to the backbone. Peak memory is the
peak RSS of a separate subprocess per model (one model per process, so the numbers do not mix). Also: the papers'
20-candidate protocol (the target plus the 19 best-scored other items of a SASRec trained here), Hit/NDCG@5/10, for
comparison with LLM-as-recommender numbers. Writes results/efficiency.{md,json}.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import date

import torch
from recbole.data import data_preparation
from recbole.utils import init_seed

from recbole_intent.config import Config
from recbole_intent.utils import create_dataset, get_model, get_trainer

PAIRS = [("SASRec", "VELI_SASRec"), ("GRU4Rec", "VELI_GRU4Rec"), ("BERT4Rec", "VELI_BERT4Rec")]


def build(model_name, args):
    config = Config(model=model_name, dataset=args.dataset, config_dict={
        "state": "ERROR", "show_progress": False, "intent_set": args.intent_set, "checkpoint_dir": "/tmp/bench_eff"})
    init_seed(config["seed"], True)
    train, valid, test = data_preparation(config, create_dataset(config))
    model = get_model(model_name)(config, train._dataset).to(config["device"])
    return config, model, get_trainer(config["MODEL_TYPE"], model_name)(config, model), train, test


def measure(model_name, args):
    config, model, trainer, train, test = build(model_name, args)
    epochs = []
    for epoch in range(args.epochs):
        start = time.perf_counter()
        trainer._train_epoch(train, epoch)  # includes our per-epoch hook (enrichment when (epoch+1) % rho == 0)
        epochs.append(time.perf_counter() - start)
    enrich = 0.0
    if hasattr(model, "enrich_intent_labels") and model.enrich_mode != "none":
        start = time.perf_counter()
        model.enrich_intent_labels()
        enrich = (time.perf_counter() - start) / model.enrich_rho
    start = time.perf_counter()
    result = trainer.evaluate(test, load_best_model=False)
    infer = time.perf_counter() - start
    scores = full_scores(model, test)
    return {"epoch_s": sum(epochs) / len(epochs) + enrich, "enrich_per_epoch_s": enrich, "infer_s": infer,
            "params": sum(p.numel() for p in model.parameters()), "test": dict(result)}, scores


@torch.no_grad()
def full_scores(model, test):
    model.eval()
    out = []
    for interaction, _, _, positive_i in test:
        s = model.full_sort_predict(interaction)
        s[:, 0] = -float("inf")
        out.append((s, positive_i))
    return out


def twenty_candidates(scores, reference):
    """Hit/NDCG@5/10 of the target among itself + the 19 items a pretrained SASRec ranks highest (Table 3)."""
    hits = {5: 0.0, 10: 0.0}
    ndcg = {5: 0.0, 10: 0.0}
    n = 0
    for (s, target), (ref, _) in zip(scores, reference, strict=True):
        ref = ref.clone()
        ref[torch.arange(len(target)), target] = -float("inf")
        cand = torch.cat([target.unsqueeze(1), ref.topk(19, dim=1).indices], dim=1)
        cs = s.gather(1, cand)
        rank = (cs[:, 1:] > cs[:, :1]).sum(1)  # 0 = the target is first
        for k in (5, 10):
            hits[k] += (rank < k).float().sum().item()
            ndcg[k] += ((rank < k).float() / torch.log2(rank.float() + 2)).sum().item()
        n += len(target)
    return {f"hit@{k}": hits[k] / n for k in (5, 10)} | {f"ndcg@{k}": ndcg[k] / n for k in (5, 10)}


def peak_rss(model_name, args):
    code = (f"import sys; sys.argv=['x']; sys.path.insert(0, {os.path.dirname(__file__)!r}); import resource; "
            f"import bench_efficiency as b, argparse; a=argparse.Namespace(**{vars(args)!r}); a.epochs=1; "
            f"b.measure({model_name!r}, a); print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 2**20


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="beauty")
    parser.add_argument("--intent_set", default=None)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--memory", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--out", default="results/efficiency")
    args = parser.parse_args()
    rows, reference = [], None
    for backbone, veli in PAIRS:
        base, base_scores = measure(backbone, args)
        ours, our_scores = measure(veli, args)
        if backbone == "SASRec":
            reference = base_scores
        for name, res, scores in ((backbone, base, base_scores), (veli, ours, our_scores)):
            res["twenty"] = twenty_candidates(scores, reference)
            res["peak_rss_gb"] = peak_rss(name, args) if args.memory else None
        rows.append({"backbone": backbone, "veli": veli, "base": base, "ours": ours,
                     "train_ratio": ours["epoch_s"] / base["epoch_s"],
                     "infer_ratio": ours["infer_s"] / base["infer_s"]})
        print(json.dumps(rows[-1], default=float), flush=True)
    write(rows, args)


def write(rows, args):
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    command = "python benchmarks/bench_efficiency.py " + " ".join(sys.argv[1:])
    threads = torch.get_num_threads()
    with open(args.out + ".json", "w") as f:
        json.dump({"date": str(date.today()), "command": command, "threads": threads, "rows": rows}, f, indent=2,
                  default=float)
    lines = [f"# Efficiency ({date.today()})", "", f"`{command.strip()}`, dataset {args.dataset}, intent set "
             f"{args.intent_set or 'default'}, {threads} torch threads, CPU. Targets: training <= 1.3x, inference "
             "<= 1.2x the backbone. The 20-candidate columns are after --epochs epochs of training (not converged): "
             "they check the protocol, not accuracy.", "",
             "| model | s / epoch | train ratio | test inference s | infer ratio | peak RSS GB | params | "
             "20-cand H@5 | 20-cand N@10 |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for key, name in (("base", r["backbone"]), ("ours", r["veli"])):
            res = r[key]
            tr = f"{r['train_ratio']:.2f}x" if key == "ours" else ""
            ir = f"{r['infer_ratio']:.2f}x" if key == "ours" else ""
            rss = f"{res['peak_rss_gb']:.2f}" if res["peak_rss_gb"] else ""
            lines.append(f"| {name} | {res['epoch_s']:.1f} | {tr} | {res['infer_s']:.2f} | {ir} | {rss} | "
                         f"{res['params']:,} | {res['twenty']['hit@5']:.4f} | {res['twenty']['ndcg@10']:.4f} |")
    with open(args.out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"driver peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB")


if __name__ == "__main__":
    main()
