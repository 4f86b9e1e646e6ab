"""Run named configurations on a dataset, several seeds, and tabulate the test results (full ranking).

    python benchmarks/compare.py --runs sasrec veli_offline veli_llm --seeds 2020 --jobs 2 --out results/beauty_main

Each run is a subprocess (``objective_function``), ``--jobs`` at a time, each with ``--threads`` torch threads
(1 thread per job is much faster on a 2-core machine than oversubscribing). Early stopping on validation NDCG@20,
the test split reported. Prints and writes ``<out>.md`` / ``<out>.json``: Hit/NDCG@5/10/20 (mean +- std over seeds),
epochs, seconds per training epoch, the relative gain over the reference run and, with >= 2 seeds, a paired t-test
over seeds (scipy), starred at p < 0.05.
"""

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name -> (model, config overrides). "LLM" = the real-LLM intent set imported from ../shared (intent_set: llm);
# "offline" = the default set written by the offline sentence-embedding backend (not an LLM).
RUNS = {
    "sasrec": ("SASRec", {}),
    # SASRec with the backbone settings of the VELI YAML (papers' B.1 dropout grid) instead of RecBole's 0.5
    "sasrec_p": ("SASRec", {"hidden_dropout_prob": 0.2, "attn_dropout_prob": 0.2}),
    "sasrec_bpr": ("SASRec", {"loss_type": "BPR", "train_neg_sample_args": {"distribution": "uniform",
                                                                             "sample_num": 1}}),
    "veli_offline": ("VELI_SASRec", {}),
    "veli_offline_ce": ("VELI_SASRec", {"rec_loss": "ce"}),
    "veli_llm": ("VELI_SASRec", {"intent_set": "llm"}),
    "veli_llm_ce": ("VELI_SASRec", {"intent_set": "llm", "rec_loss": "ce"}),
    "veli_llm_noenrich": ("VELI_SASRec", {"intent_set": "llm", "enrich_mode": "none"}),
    "veli_llm_ce_noenrich": ("VELI_SASRec", {"intent_set": "llm", "rec_loss": "ce", "enrich_mode": "none"}),
    "veli_llm_ce_keep": ("VELI_SASRec", {"intent_set": "llm", "rec_loss": "ce", "enrich_keep_llm_labels": True}),
    "veli_llm_ce_nointent": ("VELI_SASRec", {"intent_set": "llm", "rec_loss": "ce", "lambda_intent": 0.0,
                                             "enrich_mode": "none"}),
    # lambda_intent large enough that the predictor actually follows the LLM's labels (see intent_diagnostics.py)
    "veli_llm_ce_lam01": ("VELI_SASRec", {"intent_set": "llm", "rec_loss": "ce", "lambda_intent": 0.1}),
    "veli_llm_ce_lam1_noenrich": ("VELI_SASRec", {"intent_set": "llm", "rec_loss": "ce", "lambda_intent": 1.0,
                                                  "enrich_mode": "none"}),
    "veli_offline_ce_lam1_noenrich": ("VELI_SASRec", {"rec_loss": "ce", "lambda_intent": 1.0, "enrich_mode": "none"}),
    "veli_llm_ce_p05": ("VELI_SASRec", {"intent_set": "llm", "rec_loss": "ce", "hidden_dropout_prob": 0.5,
                                        "attn_dropout_prob": 0.5}),
    # VELI with the backbone dropout of RecBole's SASRec.yaml (0.5) instead of the papers' grid value 0.2
    "veli_offline_ce_p05": ("VELI_SASRec", {"rec_loss": "ce", "hidden_dropout_prob": 0.5, "attn_dropout_prob": 0.5}),
    "veli_llm_ce_p05_nointent": ("VELI_SASRec", {"intent_set": "llm", "rec_loss": "ce", "hidden_dropout_prob": 0.5,
                                                 "attn_dropout_prob": 0.5, "lambda_intent": 0.0,
                                                 "enrich_mode": "none"}),
    "sprint_offline_ce": ("SPRINT_SASRec", {"rec_loss": "ce"}),
    "veli_offline_le_ce": ("VELI_SASRec", {"rec_loss": "ce", "use_text_emb": True, "hidden_size": 32,
                                           "inner_size": 128}),
    # Table 2 rows (LLM intents, CE, RecBole's SASRec dropout 0.5): SPRINT = in-batch neighbours; +LE = frozen
    # MiniLM item text embeddings beside a half-size ID embedding (papers' parity: 32 + 32 = 64)
    "sprint_llm_ce_p05": ("SPRINT_SASRec", {"intent_set": "llm", "rec_loss": "ce", "hidden_dropout_prob": 0.5,
                                            "attn_dropout_prob": 0.5}),
    "veli_llm_le_ce_p05": ("VELI_SASRec", {"intent_set": "llm", "rec_loss": "ce", "hidden_dropout_prob": 0.5,
                                           "attn_dropout_prob": 0.5, "use_text_emb": True, "hidden_size": 32,
                                           "inner_size": 128}),
    # LLM4SBR / LLM-DMsRec (issue 5) against their backbone and VELI on it, all with the papers' SR-GNN training
    # settings (d = 100, batch 100, Adam lr 1e-3, L2 1e-5: LLM4SBR §5.1.3, LLM-DMsRec §5.1.2)
    "srgnn_p": ("SRGNN", {"embedding_size": 100, "train_batch_size": 100, "weight_decay": 1e-5}),
    "veli_srgnn_llm_ce_p": ("VELI_SRGNN", {"embedding_size": 100, "train_batch_size": 100, "weight_decay": 1e-5,
                                           "intent_set": "llm", "rec_loss": "ce"}),
    "llm4sbr_srgnn": ("LLM4SBR_SRGNN", {}),  # views: the offline backend (no LLM), see dataset/beauty/README.md
    "llmdmsrec_srgnn": ("LLMDMsRec_SRGNN", {}),
    # +LE without any intent (lambda_intent = 0, no enrichment): what the text embeddings give on their own
    "veli_llm_le_ce_p05_nointent": ("VELI_SASRec", {"intent_set": "llm", "rec_loss": "ce", "hidden_dropout_prob": 0.5,
                                                    "attn_dropout_prob": 0.5, "use_text_emb": True, "hidden_size": 32,
                                                    "inner_size": 128, "lambda_intent": 0.0, "enrich_mode": "none"}),
    # Protocol-neutral rows of Table 2 (issue 12): run with --protocol papers|strong, which sets the loss,
    # dropout and L2 of backbones and intent models alike (properties/protocol/*.yaml). Intent sets as each paper
    # labels: VELI4SBR every training session (llm_all: real LLM answers for all 7,819), SPRINT the 10 % its
    # uncertainty selection picks (llm_sel: the same answers for those sessions only)
    "veli": ("VELI_SASRec", {"intent_set": "llm_all"}),
    "veli_nointent": ("VELI_SASRec", {"intent_set": "llm_all", "lambda_intent": 0.0, "enrich_mode": "none"}),
    "sprint": ("SPRINT_SASRec", {"intent_set": "llm_sel"}),
    "veli_le": ("VELI_SASRec", {"intent_set": "llm_all", "use_text_emb": True, "hidden_size": 32,
                                "inner_size": 128}),
    "veli_gru4rec": ("VELI_GRU4Rec", {"intent_set": "llm_all"}),
    # the same without any intent: is a VELI_GRU4Rec gain the intents' or the fusion block's (Eq. 11's residual)?
    "veli_gru4rec_nointent": ("VELI_GRU4Rec", {"intent_set": "llm_all", "lambda_intent": 0.0, "enrich_mode": "none"}),
    "veli_bert4rec": ("VELI_BERT4Rec", {"intent_set": "llm_all"}),
    # Issue 13: the intent head made to learn the LLM's labels (detach: L_rec does not reach y_hat through phi;
    # topm: the 3 most relevant intents fused, not tau = 0.5 against a ~2 % base rate; prior: y_hat starts at each
    # intent's base rate), lambda_intent 1e-2 (papers' grid); by label coverage: all sessions, 10 % random, 10 %
    # uncertainty-selected (SPRINT's setting with real answers)
    "veli_dt": ("VELI_SASRec", {"intent_set": "llm_all", "intent_fusion_grad": "detach", "intent_fusion_rule": "topm",
                                "intent_init": "prior", "lambda_intent": 0.01}),
    "veli_dt_llm10": ("VELI_SASRec", {"intent_set": "llm", "intent_fusion_grad": "detach",
                                      "intent_fusion_rule": "topm", "intent_init": "prior", "lambda_intent": 0.01}),
    "veli_dt_sel10": ("VELI_SASRec", {"intent_set": "llm_sel", "intent_fusion_grad": "detach",
                                      "intent_fusion_rule": "topm", "intent_init": "prior", "lambda_intent": 0.01}),
    # Issue 15 (any dataset): the default intent set of the dataset (beauty and ml1m: the offline backend,
    # uncertainty-selected 10 %), and the SR-GNN family with the settings of LLM4SBR / LLM-DMsRec (d = 100, batch 100,
    # Adam lr 1e-3, L2 1e-5) and their released codes' StepLR (x0.1 every 3 epochs), backbone and VELI alike
    "veli_off": ("VELI_SASRec", {}),
    "sprint_off": ("SPRINT_SASRec", {}),
    "veli_le_off": ("VELI_SASRec", {"use_text_emb": True, "hidden_size": 32, "inner_size": 128}),
    "srgnn_pd": ("SRGNN", {"embedding_size": 100, "train_batch_size": 100, "weight_decay": 1e-5, "lr_decay_step": 3}),
    "veli_srgnn_pd": ("VELI_SRGNN", {"embedding_size": 100, "train_batch_size": 100, "weight_decay": 1e-5,
                                     "lr_decay_step": 3, "rec_loss": "ce"}),
    "llmdmsrec_srgnn_rel": ("LLMDMsRec_SRGNN", {"sigma_from": "released"}),
    # without the released codes' StepLR: does the decay (x0.1 every 3 epochs) starve the plain backbone?
    "llm4sbr_srgnn_nodecay": ("LLM4SBR_SRGNN", {"lr_decay_step": None}),
    "gru4rec": ("GRU4Rec", {}),
    "veli_gru4rec_llm_ce": ("VELI_GRU4Rec", {"intent_set": "llm", "rec_loss": "ce"}),
    # the same without any intent (lambda_intent = 0, no enrichment): is VELI_GRU4Rec's gain the intents' or the
    # fusion block's (a LayerNorm'd residual, Eq. 11, on a GRU output that has none)?
    "veli_gru4rec_llm_ce_nointent": ("VELI_GRU4Rec", {"intent_set": "llm", "rec_loss": "ce", "lambda_intent": 0.0,
                                                      "enrich_mode": "none"}),
    "bert4rec": ("BERT4Rec", {}),
    "veli_bert4rec_llm_ce": ("VELI_BERT4Rec", {"intent_set": "llm", "rec_loss": "ce"}),
    "veli_bert4rec_llm_ce_nointent": ("VELI_BERT4Rec", {"intent_set": "llm", "rec_loss": "ce", "lambda_intent": 0.0,
                                                        "enrich_mode": "none"}),
}
METRICS = [f"{m}@{k}" for m in ("hit", "ndcg") for k in (5, 10, 20)]

CHILD = """
import json, sys, torch
torch.set_num_threads(int(sys.argv[4]))
sys.argv = sys.argv[:1]  # RecBole's Config reads --key=value from sys.argv: pass everything through the dict
from recbole_intent.quick_start import objective_function
model, dataset, cfg = {model!r}, {dataset!r}, json.loads({cfg!r})
r = objective_function(cfg, model=model, dataset=dataset, saved=True)
device = torch.cuda.get_device_name(0) if torch.cuda.is_available() and cfg.get("use_gpu", True) else "CPU"
print("RESULT " + json.dumps({{"test": dict(r["test_result"]), "valid": dict(r["best_valid_result"]),
                              "epochs": r["epochs"], "seconds_per_epoch": r["seconds_per_epoch"],
                              "intent_diagnostics": r.get("intent_diagnostics"), "device": device}}))
"""


def variant(name, base, **delta):
    """Register run ``name`` = run ``base`` with ``delta`` applied to its settings (kept if already registered)."""
    model, settings = RUNS[base]
    RUNS.setdefault(name, (model, dict(settings, **delta)))
    return name


def cache_path(name, seed, args):
    """<cache>/<dataset>[/<protocol>]/<run>_<seed>.json: one file per run, seed and protocol."""
    protocol = getattr(args, "protocol", None) or ""
    return os.path.join(args.cache, args.dataset, protocol, f"{name}_{seed}.json")


def run_one(name, seed, args):
    """One training run; its result is kept under ``--cache`` with the exact model and settings, so adding seeds
    or rows to a table never retrains a run that already exists (a changed RUNS entry or --extra retrains)."""
    model, overrides = RUNS[name]
    settings = {**overrides, **json.loads(args.extra), "seed": seed}
    if args.protocol:
        settings["protocol"] = args.protocol
    path = cache_path(name, seed, args)
    if args.cache and os.path.exists(path):
        with open(path) as f:
            kept = json.load(f)
        if kept["model"] == model and kept["settings"] == settings:
            print(f"{name} seed {seed}: cached ({path})", flush=True)
            return name, seed, kept["result"]
    if getattr(args, "cached_only", False):
        raise SystemExit(f"{path}: not in the cache, and --cached_only forbids training it here")
    cfg = dict(settings, state="ERROR", show_progress=False,
               checkpoint_dir=os.path.join(args.checkpoint_root, f"{name}_{seed}"))
    code = CHILD.format(model=model, dataset=args.dataset, cfg=json.dumps(cfg))
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    out = subprocess.run([sys.executable, "-c", code, "", "", "", str(args.threads)], capture_output=True, text=True,
                         env=env, cwd="/tmp")
    line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
    if out.returncode != 0 or not line:
        raise RuntimeError(f"{name} seed {seed} failed:\n{out.stderr[-3000:]}")
    result = json.loads(line[-1][len("RESULT "):])
    result["machine"] = machine(result.get("device", "CPU"), args)
    print(f"{name} seed {seed}: " + " ".join(f"{k}={result['test'][k]:.4f}" for k in METRICS)
          + f" epochs={result['epochs']} s/epoch={result['seconds_per_epoch']:.1f}", flush=True)
    if args.cache:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump({"model": model, "settings": settings, "date": str(date.today()), "result": result}, f, indent=1)
    return name, seed, result


def machine(device, args):
    """Where a run trained, for its table: the device, how many runs shared the machine, threads per run."""
    where = f"one {device} GPU" if device != "CPU" else "CPU"
    return (f"{where}, {args.jobs} run(s) at a time, {args.threads} torch thread(s) each, "
            f"{os.cpu_count()}-core machine")


def run_all(jobs, args):
    """(run, seed) -> result for every job, ``args.jobs`` training subprocesses at a time."""
    with ThreadPoolExecutor(args.jobs) as pool:
        return {(n, s): r for n, s, r in pool.map(lambda job: run_one(*job, args), jobs)}


def add_run_args(parser, seeds=(2020,)):
    """The flags every script that trains through ``run_one`` shares."""
    parser.add_argument("--dataset", default="beauty")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(seeds))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--extra", default="{}", help="JSON dict of overrides applied to every run")
    parser.add_argument("--protocol", choices=["papers", "strong"], default=None,
                        help="training protocol of every run (properties/protocol/<name>.yaml); default: its YAML")
    parser.add_argument("--cache", default=os.path.join(ROOT, "results", "runs"),
                        help="folder of per-run results reused across tables ('' = always train)")
    parser.add_argument("--cached_only", action="store_true",
                        help="build the table from --cache alone; a run missing there is an error, never trained here")
    parser.add_argument("--checkpoint_root", default="/tmp/compare", help="best-on-valid models: <root>/<run>_<seed>")
    parser.add_argument("--out", required=True)


def spread(vals):
    """(mean, sample std) of per-seed values; std 0 for one seed."""
    return float(vals.mean()), float(vals.std(ddof=1)) if len(vals) > 1 else 0.0


def paired_gain(vals, ref):
    """Relative gain of the per-seed ``vals`` over ``ref`` (same seeds) and the paired t-test's p (None: one seed)."""
    from scipy import stats

    gain = float(vals.mean() / ref.mean() - 1) if ref.mean() else None
    return gain, float(stats.ttest_rel(vals, ref).pvalue) if len(vals) > 1 else None


def summarise(results, runs, reference, seeds):
    rows = []
    for name in runs:
        per_seed = [results[(name, s)] for s in seeds]
        row = {"run": name, "model": RUNS[name][0], "config": RUNS[name][1]}
        for m in METRICS:
            vals = np.array([r["test"][m] for r in per_seed])
            row[m] = spread(vals)
            if reference and name != reference:
                ref = np.array([results[(reference, s)]["test"][m] for s in seeds])
                row[m + "_gain"], row[m + "_p"] = paired_gain(vals, ref)
        row["epochs"] = float(np.mean([r["epochs"] for r in per_seed]))
        row["seconds_per_epoch"] = float(np.mean([r["seconds_per_epoch"] for r in per_seed]))
        rows.append(row)
    return rows


def fmt_spread(mean, std, n_seeds):
    return f"{mean:.4f}" + (f" ± {std:.4f}" if n_seeds > 1 else "")


def fmt_gain(gain, p):
    """' (+x.x%)', starred at p < 0.05."""
    return f" ({gain:+.1%}{'*' if p is not None and p < 0.05 else ''})"


def cell(row, metric, n_seeds):
    """'mean ± std (gain*)' of one summarised row (``summarise``); no std with one seed, no gain for the reference."""
    text = fmt_spread(*row[metric], n_seeds)
    if row.get(metric + "_gain") is not None:
        text += fmt_gain(row[metric + "_gain"], row.get(metric + "_p"))
    return text


def machines_text(results, args):
    """The machines a table's runs trained on (runs cached before this was recorded: the CPU machine of then)."""
    default = machine("CPU", args)
    found = sorted({r.get("machine", default) for r in results.values()}) if results else [default]
    return "; ".join(found)


def to_markdown(rows, args, reference, results=None):
    head = "| run | model | " + " | ".join(METRICS) + " | epochs | s/epoch |"
    protocol = getattr(args, "protocol", None) or "none (each model's YAML)"
    lines = [f"# {args.dataset}: {', '.join(args.runs)} ({date.today()})", "", f"Protocol: **{protocol}**", "",
             f"Command: `python benchmarks/compare.py {' '.join(sys.argv[1:])}`", "",
             f"Seeds {args.seeds}; trained on: {machines_text(results or {}, args)}; early stopping on valid "
             "NDCG@20; test split, full ranking. "
             f"Gain is relative to `{reference}`" + ("; * = paired t-test p < 0.05 over seeds." if len(args.seeds) > 1
                                                      else "; one seed, so no significance test."), "",
             head, "|" + "---|" * (len(METRICS) + 4)]
    for r in rows:
        cells = [cell(r, m, len(args.seeds)) for m in METRICS]
        lines.append(f"| {r['run']} | {r['model']} | " + " | ".join(cells) + f" | {r['epochs']:.0f} | "
                     f"{r['seconds_per_epoch']:.1f} |")
    lines += ["", "Runs:", *[f"- `{r['run']}`: `{r['model']}` with `{json.dumps(r['config'])}`" for r in rows]]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", nargs="+", required=True, choices=sorted(RUNS))
    parser.add_argument("--reference", default=None, help="run the gains are computed against (default: the first)")
    add_run_args(parser)
    args = parser.parse_args()
    reference = args.reference or args.runs[0]
    results = run_all([(name, seed) for seed in args.seeds for name in args.runs], args)
    rows = summarise(results, args.runs, reference, args.seeds)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out + ".json", "w") as f:
        json.dump({"date": str(date.today()), "command": "python benchmarks/compare.py " + " ".join(sys.argv[1:]),
                   "protocol": args.protocol, "seeds": args.seeds, "dataset": args.dataset,
                   "rows": rows, "per_seed": [{"run": n, "seed": s, **r} for (n, s), r in results.items()]}, f,
                  indent=2)
    markdown = to_markdown(rows, args, reference, results)
    with open(args.out + ".md", "w") as f:
        f.write(markdown)
    print(markdown)


if __name__ == "__main__":
    main()
