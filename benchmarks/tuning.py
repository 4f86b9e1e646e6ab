"""Tune groups of a ``run_queue.py`` plan: their grid points, the selection on validation, and the tuned tables.

    python benchmarks/tuning.py --plan benchmarks/plans/gpu_2026-11-30.json --dataset beauty \
        --cache results/runs_queue --out results/beauty_tuned

A tune group (see ``run_queue.py``) names a family, a base run, a grid and seeds. Every grid point is one training
at ``tune_seed`` (early stopping on valid NDCG@20); the point with the best *validation* NDCG@20 is selected, and
only that configuration is trained on the seeds and reported on the test split, once. The grid's test numbers are
printed for reference, never used to select. This script trains nothing: it reads the run cache and stops with an
error naming the first run that is missing there.

Output, per protocol of the plan's tune groups on ``--dataset``: the grid (valid and test NDCG@20 and the machine
of each point) and the selected configurations over the seeds, with the gain over the first family (SASRec) and a
paired t-test over seeds (``compare.summarise``).
"""

import argparse
import json
import os
import sys
from datetime import date
from types import SimpleNamespace

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import METRICS, RUNS, cache_path, cell, run_one, summarise, variant  # noqa: E402

# a grid key that stands for several config keys: one dropout for Transformer and RNN backbones alike
ALIASES = {"dropout": ("hidden_dropout_prob", "attn_dropout_prob", "dropout_prob")}
SHORT = {"learning_rate": "lr", "weight_decay": "wd", "dropout": "do", "enrich_k": "k", "lambda_intent": "li",
         "lambda_ortho": "lo"}


def _point(base, delta):
    """Register (and name) the run ``base`` with the grid values ``delta``."""
    name = f"tune_{base}_" + "_".join(f"{SHORT.get(k, k)}{v:g}" for k, v in delta.items())
    settings = {}
    for key, value in delta.items():
        settings.update(dict.fromkeys(ALIASES.get(key, (key,)), value))
    return variant(name, base, **settings)


def points(group):
    """The run names of a plan's tune group (``run_queue.py``): every combination of ``grid`` (its first values are
    the base's own), then each ``also`` delta applied to the grid's first point."""
    keys = list(group["grid"])
    combos = [{}]
    for key in keys:
        combos = [dict(c, **{key: v}) for c in combos for v in group["grid"][key]]
    first = combos[0]
    return [_point(group["base"], c) for c in combos] + [_point(group["base"], dict(first, **a))
                                                          for a in group.get("also", [])]


def select_point(group, cache):
    """The point of a tune group with the best validation NDCG@20 at its tune_seed, read from the run cache."""
    args = group_namespace(group, cache)

    def valid(name):
        path = cache_path(name, group["tune_seed"], args)
        if not os.path.exists(path):
            return float("-inf")  # failed or never trained: never selected
        with open(path) as f:
            return json.load(f)["result"]["valid"]["ndcg@20"]

    return max(points(group), key=valid)


def group_namespace(group, cache, threads=1, jobs=1, checkpoint_root="/tmp/tuning", cached_only=True):
    """What ``compare.run_one`` reads, for a group's runs (by default: cached results only)."""
    return SimpleNamespace(dataset=group["dataset"], protocol=group.get("protocol"), extra=json.dumps(
        group.get("extra", {})), cache=cache, threads=threads, jobs=jobs, checkpoint_root=checkpoint_root,
        cached_only=cached_only)


def where(result):
    """'GPU' or 'CPU': the machine a cached run trained on (runs cached before machines were recorded: CPU)."""
    return "GPU" if "GPU" in result.get("machine", "CPU") else "CPU"


def protocol_tables(groups, cli):
    """The grid rows, the selections and the summarised tuned rows of the tune groups of one protocol."""
    grid, selected, finals = [], {}, {}
    for group in groups:
        args = group_namespace(group, cli.cache)
        for name in points(group):
            result = run_one(name, group["tune_seed"], args)[2]
            grid.append({"family": group["tune"], "run": name, "settings": RUNS[name][1], "valid": result["valid"],
                         "test": result["test"], "machine": where(result)})
        selected[group["tune"]] = select_point(group, cli.cache)
        for seed in group["seeds"]:
            finals[(selected[group["tune"]], seed)] = run_one(selected[group["tune"]], seed, args)[2]
    names, seeds = list(selected.values()), groups[0]["seeds"]
    rows = summarise(finals, names, names[0], seeds)
    for row in rows:
        row["machines"] = {str(s): where(finals[(row["run"], s)]) for s in seeds}
    return grid, selected, rows


def to_markdown(tables, cli, seeds):
    lines = [f"# {cli.dataset}: each family tuned on validation, then its selection over seeds ({date.today()})", "",
             f"Command: `python benchmarks/tuning.py {' '.join(sys.argv[1:])}`", "",
             f"Plan `{cli.plan}` (trained by `benchmarks/run_queue.py`). Grid points at the tune seed; selection = "
             "best validation NDCG@20 (test shown for reference, never used). The selected configurations over seeds "
             f"{seeds}: test split, full ranking, gain over the tuned SASRec, * = paired t-test p < 0.05. Machine: "
             "GPU = one NVIDIA H200 shared by 15 runs, CPU = this project's 2-core machine, 2 runs at a time, 1 thread "
             "each; a seed's result depends on the machine (non-deterministic kernels), not its expected value.", ""]
    for protocol, (grid, selected, rows) in tables.items():
        lines += [f"## Protocol: {protocol}", "", "| family | run | valid N@20 | test N@20 | machine | selected |",
                  "|---|---|---|---|---|---|"]
        for g in grid:
            lines.append(f"| {g['family']} | `{g['run']}` | {g['valid']['ndcg@20']:.4f} | {g['test']['ndcg@20']:.4f} | "
                         f"{g['machine']} | {'**yes**' if selected[g['family']] == g['run'] else ''} |")
        lines += ["", "| family | selected run | " + " | ".join(METRICS) + " | epochs | machine per seed |",
                  "|---|---|" + "---|" * (len(METRICS) + 2)]
        for family, row in zip(selected, rows, strict=True):
            cells = [cell(row, m, len(row["machines"])) for m in METRICS]
            lines.append(f"| {family} | `{row['run']}` | " + " | ".join(cells) + f" | {row['epochs']:.0f} | "
                         + " ".join(f"{s}:{m}" for s, m in row["machines"].items()) + " |")
        lines += [""] + [f"- `{r['run']}`: `{RUNS[r['run']][0]}` with `{json.dumps(RUNS[r['run']][1])}`" for r in rows]
        lines.append("")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--plan", required=True)
    parser.add_argument("--dataset", default="beauty")
    parser.add_argument("--cache", default="results/runs_queue")
    parser.add_argument("--out", required=True)
    cli = parser.parse_args()
    with open(cli.plan) as f:
        groups = [g for g in json.load(f) if "tune" in g and g["dataset"] == cli.dataset]
    by_protocol = {}
    for group in groups:
        by_protocol.setdefault(group.get("protocol"), []).append(group)
    tables = {p: protocol_tables(gs, cli) for p, gs in by_protocol.items()}
    markdown = to_markdown(tables, cli, groups[0]["seeds"])
    os.makedirs(os.path.dirname(cli.out) or ".", exist_ok=True)
    with open(cli.out + ".md", "w") as f:
        f.write(markdown)
    with open(cli.out + ".json", "w") as f:
        json.dump({"date": str(date.today()), "command": "python benchmarks/tuning.py " + " ".join(sys.argv[1:]),
                   "dataset": cli.dataset, "plan": cli.plan,
                   "protocols": {str(p): {"grid": g, "selected": s, "rows": r} for p, (g, s, r) in tables.items()}},
                  f, indent=1)
    print(markdown)


if __name__ == "__main__":
    main()
