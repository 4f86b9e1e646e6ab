"""How collaborative intent enrichment (Eq. 14-16) scales with the number of training sessions.

    python benchmarks/bench_enrichment_scale.py [--sizes 10000 100000 1000000] [--threads 2]

Synthetic session representations (d=64, clustered like real sessions), |pool|=128, K=10. For each size and search
method, one fresh subprocess measures the wall time of the neighbour search plus the label update and its peak
resident memory (ru_maxrss, which includes the ~0.3 GB of the Python/torch runtime). The IVF search falls back to
the exact one below 16,384 sessions. The exact global search is O(N^2 d): it is run up to --exact_max and otherwise
reported as skipped. The recall of the IVF search against the exact one is measured where both ran.
Writes results/enrichment_scale.{md,json}.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date

CHILD = r"""
import json, resource, sys, time, torch
from recbole_intent.model.enrichment import enrich_labels, topk_neighbours
n, method, threads = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
torch.set_num_threads(threads)
g = torch.Generator().manual_seed(0)
centers = torch.randn(max(n // 500, 20), 64, generator=g)
h = centers[torch.randint(0, centers.size(0), (n,), generator=g)] + 0.7 * torch.randn(n, 64, generator=g)
y = torch.rand(n, 128, generator=g)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
scope, search = ("batch", "exact") if method == "batch" else ("global", method)
idx, sim = topk_neighbours(h, 10, scope=scope, search=search, batch_size=2048, generator=g)
labels = enrich_labels(y, idx, sim, "both")
seconds = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if len(sys.argv) > 4:
    torch.save(idx, sys.argv[4])
print(json.dumps({"seconds": seconds, "peak_rss_gb": peak / 2**20, "inputs_rss_gb": base / 2**20}))
"""


def run_child(n, method, threads, save=None):
    cmd = [sys.executable, "-c", CHILD, str(n), method, str(threads)] + ([save] if save else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000, 300_000, 1_000_000])
    parser.add_argument("--methods", nargs="+", default=["exact", "ivf", "batch"])
    parser.add_argument("--exact_max", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="results/enrichment_scale")
    args = parser.parse_args()
    import torch  # only for the recall check

    rows = []
    for n in args.sizes:
        saved = {}
        for method in args.methods:
            if method == "exact" and n > args.exact_max:
                rows.append({"sessions": n, "method": method, "skipped": f"O(N^2): > --exact_max {args.exact_max}"})
                continue
            path = f"/tmp/enrich_{method}_{n}.pt" if method in ("exact", "ivf") else None
            res = run_child(n, method, args.threads, path)
            if path:
                saved[method] = path
            rows.append({"sessions": n, "method": method, **res})
            print(rows[-1], flush=True)
        if "exact" in saved and "ivf" in saved:
            exact, approx = torch.load(saved["exact"]), torch.load(saved["ivf"])
            recall = (exact.unsqueeze(2) == approx.unsqueeze(1)).any(2).float().mean().item()
            next(r for r in rows if r["sessions"] == n and r["method"] == "ivf")["recall_at_10"] = recall
        for path in saved.values():
            os.remove(path)

    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    command = "python benchmarks/bench_enrichment_scale.py " + " ".join(sys.argv[1:])
    meta = {"date": str(date.today()), "command": command.strip(), "threads": args.threads, "d": 64, "K": 10,
            "pool": 128, "cpu_count": os.cpu_count()}
    with open(args.out + ".json", "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=2)
    lines = [f"# Enrichment scale ({meta['date']})", "", f"`{meta['command']}` — d=64, K=10, |pool|=128, "
             f"{args.threads} threads on a {os.cpu_count()}-core machine. Peak RSS includes the Python/torch runtime.",
             "", "| sessions | search | seconds | peak RSS (GB) | recall@10 vs exact |", "|---|---|---|---|---|"]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['sessions']:,} | {r['method']} | skipped ({r['skipped']}) | | |")
        else:
            recall = f"{r['recall_at_10']:.3f}" if "recall_at_10" in r else ""
            cells = [f"{r['sessions']:,}", r["method"], f"{r['seconds']:.1f}", f"{r['peak_rss_gb']:.2f}", recall]
            lines.append("| " + " | ".join(cells) + " |")
    with open(args.out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    t0 = time.time()
    main()
    print(f"total {time.time() - t0:.0f} s")
