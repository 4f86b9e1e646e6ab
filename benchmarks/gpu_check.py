"""One-command device check (issue 18): the intent models against their backbones, with and without AMP.

    python benchmarks/gpu_check.py                  # beauty on the first GPU: under 5 minutes on one GPU
    python benchmarks/gpu_check.py --small          # tiny synthetic data and enrichment sizes: CPU, seconds

For each model (SASRec, VELI_SASRec, SPRINT_SASRec, VELI_SASRec +LE, SRGNN, LLM4SBR_SRGNN), RecBole's ``enable_amp``
off and on: --epochs epochs of training with validation, then full-sort evaluation of the test split. Reported:
seconds per epoch (intent models: plus one enrichment pass amortised over rho epochs, VELI4SBR Algorithm 2), the
inference time of the test split, both as ratios to the backbone under the same AMP setting, peak GPU memory and
NDCG@20. Then enrichment alone (Eq. 14-16) on synthetic session representations at --enrich_sizes sessions, and,
with 2+ GPUs (or --ranks 2 on CPU, gloo), VELI_SASRec on 2 ranks against 1. A failed run is reported, not fatal;
the exit status is 1 if any failed. Writes <out>.md and <out>.json (results/gpu_check, --small:
results/gpu_check_small) naming the device.
"""

import argparse
import json
import os
import platform
import socket
import sys
import tempfile
import time
import traceback
from datetime import date

import torch
from recbole.data import data_preparation
from recbole.utils import init_seed

from recbole_intent.config import Config, without_cmd_line
from recbole_intent.model.enrichment import enrich_labels, topk_neighbours
from recbole_intent.quick_start import objective_function
from recbole_intent.utils import create_dataset, get_trainer, model_class

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# (row name, model, overrides, backbone row)
RUNS = [("SASRec", "SASRec", {}, None), ("VELI_SASRec", "VELI_SASRec", {}, "SASRec"),
        ("SPRINT_SASRec", "SPRINT_SASRec", {}, "SASRec"),
        ("VELI_SASRec+LE", "VELI_SASRec", {"use_text_emb": True}, "SASRec"),
        ("SRGNN", "SRGNN", {}, None), ("LLM4SBR_SRGNN", "LLM4SBR_SRGNN", {}, "SRGNN")]
N_INTENTS, DIM = 1000, 64  # synthetic enrichment: |G| and d of the session representations


def device_name():
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} x{torch.cuda.device_count()} (CUDA {torch.version.cuda})"
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def peak_mb():
    return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None


def reset_peak():
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def small_dataset(root):
    """The tests' tiny dataset (tests/tiny_data.py) with intents, item text embeddings and LLM4SBR views."""
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from test_llm4sbr import LLM4SBR_FIELDS, localised, write_views
    from tiny_data import write_tiny_dataset

    config, _ = write_tiny_dataset(root, text_emb_dim=8)
    write_views(os.path.join(root, "tiny"), "tiny", "llm4sbr", LLM4SBR_FIELDS, localised)
    return "tiny", config


def train_pair(name, model_name, overrides, args, settings):
    """Build the data once, then train and evaluate the model with AMP off and on: two result rows."""
    config = Config(model=model_name, dataset=args.dataset, config_dict={**settings, **overrides})
    train, valid, test = data_preparation(config, create_dataset(config))
    rows = []
    for amp in (False, True):
        row = {"run": name, "model": model_name, "amp": amp}
        try:
            row.update(measure(config, amp, train, valid, test))
        except Exception as err:  # a check reports what fails and goes on
            row["error"] = f"{type(err).__name__}: {err}"
            traceback.print_exc()
        rows.append(row)
    return rows


def measure(config, amp, train, valid, test):
    config["enable_amp"] = config["enable_scaler"] = amp
    reset_peak()
    init_seed(config["seed"], config["reproducibility"])
    model = model_class(config)(config, train._dataset).to(config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    trainer.fit(train, valid, verbose=False, saved=False, show_progress=False)
    epoch_s = sum(trainer.epoch_seconds) / len(trainer.epoch_seconds)
    enrich_s = 0.0
    if getattr(model, "enrich_mode", "none") != "none":
        sync()
        start = time.perf_counter()
        model.enrich_intent_labels()
        sync()
        enrich_s = time.perf_counter() - start
        epoch_s += enrich_s / model.enrich_rho
    sync()
    start = time.perf_counter()
    result = trainer.evaluate(test, load_best_model=False)
    sync()
    return {"epoch_s": epoch_s, "enrich_s": enrich_s, "infer_s": time.perf_counter() - start,
            "peak_gpu_mb": peak_mb(), "ndcg@20": result["ndcg@20"]}


def add_ratios(rows):
    base = {(r["run"], r["amp"]): r for r in rows}
    for row in rows:
        backbone = base.get((dict((n, b) for n, _, _, b in RUNS).get(row["run"]), row["amp"]))
        if backbone and "error" not in row and "error" not in backbone:
            row["epoch_ratio"] = row["epoch_s"] / backbone["epoch_s"]
            row["infer_ratio"] = row["infer_s"] / backbone["infer_s"]


def enrichment_rows(args, device):
    """Eq. 14-16 alone on clustered synthetic representations [N, 64] and predictions [N, |G|]."""
    rows = []
    for n in args.enrich_sizes:
        g = torch.Generator().manual_seed(0)
        centers = torch.randn(max(n // 500, 20), DIM, generator=g)
        h = (centers[torch.randint(0, centers.size(0), (n,), generator=g)] + 0.7 * torch.randn(n, DIM, generator=g))
        y_hat = torch.rand(n, N_INTENTS, generator=g)
        h, y_hat = h.to(device), y_hat.to(device)
        for scope, search in (("global", "exact"), ("global", "ivf"), ("batch", "exact")):
            row = {"sessions": n, "scope": scope, "search": search}
            if scope == "global" and search == "exact" and n > args.exact_max:
                rows.append({**row, "skipped": f"exact search above --exact_max={args.exact_max}"})
                continue
            reset_peak()
            base = torch.cuda.memory_allocated() if torch.cuda.is_available() else 0
            sync()
            start = time.perf_counter()
            idx, sim = topk_neighbours(h, 10, scope=scope, search=search, batch_size=2048, generator=g)
            enrich_labels(y_hat, idx, sim, "both")
            sync()
            row["seconds"] = time.perf_counter() - start
            row["peak_gpu_mb"] = (peak_mb() - base / 2**20) if torch.cuda.is_available() else None
            rows.append(row)
            del idx, sim
    return rows


def ranks_rows(args, settings):
    """VELI_SASRec on 1 and on ``args.ranks`` ranks (RecBole's DDP: nccl on GPU, gloo on CPU)."""
    rows = []
    for nproc in (1, args.ranks):
        extra = {"nproc": nproc, "port": free_port()} if nproc > 1 else {}
        if nproc > 1 and torch.cuda.is_available():
            extra["gpu_id"] = ",".join(map(str, range(nproc)))
        start = time.perf_counter()
        result = objective_function({**settings, **extra}, saved=False, model="VELI_SASRec", dataset=args.dataset)
        rows.append({"ranks": nproc, "epoch_s": result["seconds_per_epoch"], "wall_s": time.perf_counter() - start,
                     "ndcg@20": result["test_result"]["ndcg@20"]})
    return rows


def free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def fmt(value, spec=".3f"):
    return "n/a" if value is None else format(value, spec)


def to_markdown(report):
    lines = [f"# GPU check ({report['date']})", "", f"Device: **{report['device']}**; dataset {report['dataset']}, "
             f"{report['epochs']} epochs, full-sort evaluation; command: `{report['command']}`", "",
             "| run | AMP | s / epoch | x backbone | inference s | x backbone | peak GPU MB | NDCG@20 |",
             "|---|---|---|---|---|---|---|---|"]
    for r in report["models"]:
        if "error" in r:
            lines.append(f"| {r['run']} | {'on' if r['amp'] else 'off'} | FAILED: {r['error'][:150]} |||||| ")
            continue
        lines.append(f"| {r['run']} | {'on' if r['amp'] else 'off'} | {fmt(r['epoch_s'])} | "
                     f"{fmt(r.get('epoch_ratio'), '.2f')} | {fmt(r['infer_s'])} | {fmt(r.get('infer_ratio'), '.2f')} "
                     f"| {fmt(r['peak_gpu_mb'], '.0f')} | {r['ndcg@20']:.4f} |")
    lines += ["", f"Enrichment alone (Eq. 14-16): synthetic h [N, {DIM}], |G| = {N_INTENTS}, K = 10.", "",
              "| sessions | scope | search | seconds | peak GPU MB |", "|---|---|---|---|---|"]
    for r in report["enrichment"]:
        tail = (f"skipped: {r['skipped']} |" if "skipped" in r
                else f"{fmt(r['seconds'])} | {fmt(r['peak_gpu_mb'], '.0f')}")
        lines.append(f"| {r['sessions']:,} | {r['scope']} | {r['search']} | {tail} |")
    if report["ranks"]:
        lines += ["", "| ranks | s / epoch (rank 0) | wall s | NDCG@20 |", "|---|---|---|---|"]
        lines += [f"| {r['ranks']} | {fmt(r['epoch_s'])} | {fmt(r['wall_s'], '.1f')} | {r['ndcg@20']:.4f} |"
                  for r in report["ranks"]]
    else:
        lines += ["", "Ranks: not measured (fewer than 2 GPUs and no --ranks)."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="tiny synthetic dataset and enrichment sizes (CPU)")
    parser.add_argument("--dataset", default=None, help="default: beauty (--small: a tiny synthetic one)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--runs", nargs="+", default=[name for name, _, _, _ in RUNS],
                        choices=[name for name, _, _, _ in RUNS])
    parser.add_argument("--enrich_sizes", type=int, nargs="+", default=None,
                        help="default 100000 1000000 (--small: 2000 20000)")
    parser.add_argument("--exact_max", type=int, default=100_000, help="largest N for the exact global search")
    parser.add_argument("--ranks", type=int, default=None, help="default 2 with 2+ GPUs, else 0 (not measured)")
    parser.add_argument("--out", default=None, help="default results/gpu_check (--small: results/gpu_check_small)")
    args = parser.parse_args(argv)
    args.enrich_sizes = args.enrich_sizes or ([2000, 20000] if args.small else [100_000, 1_000_000])
    args.out = args.out or os.path.join(ROOT, "results", "gpu_check_small" if args.small else "gpu_check")
    args.ranks = args.ranks if args.ranks is not None else (2 if torch.cuda.device_count() >= 2 else 0)
    work = tempfile.mkdtemp(prefix="gpu_check_")
    settings = {"epochs": args.epochs, "state": "ERROR", "show_progress": False, "checkpoint_dir": work,
                "threads": 0 if torch.cuda.is_available() else 1}
    if args.small and args.dataset is None:
        args.dataset, data = small_dataset(work)
        settings.update(data, epochs=args.epochs)
    args.dataset = args.dataset or "beauty"
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    report = {"date": str(date.today()), "device": device_name(), "dataset": args.dataset, "epochs": args.epochs,
              "command": " ".join(["python benchmarks/gpu_check.py", *(argv if argv is not None else sys.argv[1:])]),
              "torch": torch.__version__, "models": [], "enrichment": [], "ranks": []}
    with without_cmd_line():  # our flags are not RecBole settings (nor are they for the ranks, which inherit argv)
        for name, model_name, overrides, _ in RUNS:
            if name in args.runs:
                report["models"] += train_pair(name, model_name, overrides, args, settings)
                print(f"{name}: done", flush=True)
        add_ratios(report["models"])
        report["enrichment"] = enrichment_rows(args, device)
        if args.ranks > 1:
            report["ranks"] = ranks_rows(args, settings)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out + ".json", "w") as f:
        json.dump(report, f, indent=1)
    with open(args.out + ".md", "w") as f:
        f.write(to_markdown(report))
    print(to_markdown(report))
    return 1 if any("error" in r for r in report["models"]) else 0


if __name__ == "__main__":
    sys.exit(main())
