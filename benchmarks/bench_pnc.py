"""Benchmark of Stage 1 (not a test): P&C throughput against a local fake OpenAI server, and the time of the
uncertainty-aware hard-session selection (SPRINT §4.1.1) on the real beauty training split.

    python benchmarks/bench_pnc.py [--sessions 200] [--latency 0.1] [--concurrency 1 8] [--warmup_epochs N]

P&C part: ~``sessions`` synthetic training sessions, a server answering every call after ``latency`` seconds with a
scripted policy (half of the sessions right at the first try, the other half at the second), the real ``openai``
client, --select all --no_refine, one fresh cache per run. Reported per concurrency: sessions/s of the P&C stage,
the share of its wall time with at least one call in flight ("server busy"), and the summed call latency over
(wall x concurrency) ("worker wait": how much of the workers' time is spent waiting on the server), both over the
P&C stage only.
Selection part: skipped with a message when dataset/beauty/beauty.train.inter is absent.
Writes results/bench_pnc.md and results/bench_pnc.json.
"""

import argparse
import io
import json
import os
import sys
import tempfile
import time
import warnings

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from recbole_intent.generate.common import data  # noqa: E402
from recbole_intent.generate.common.settings import make_config  # noqa: E402
from recbole_intent.generate.pnc.runner import run  # noqa: E402
from recbole_intent.generate.pnc.selection import select_sessions  # noqa: E402
from recbole_intent.testing.fake_policy import ScriptedPolicy  # noqa: E402
from recbole_intent.testing.fake_server import FakeOpenAIServer  # noqa: E402
from recbole_intent.testing.synthetic import write_dataset  # noqa: E402

KEY_ENV = "BENCH_PNC_FAKE_KEY"
warnings.filterwarnings("ignore", category=FutureWarning)  # RecBole 1.2.1 on pandas 2.x / torch 2.x


def bench_pnc(n_sessions, latency, concurrencies):
    rows, files = [], {}
    os.environ.setdefault(KEY_ENV, "sk-bench-not-a-real-key")
    with tempfile.TemporaryDirectory() as tmp:
        for conc in concurrencies:
            root = os.path.join(tmp, f"c{conc}")
            ds = write_dataset(root, n_sessions=int(n_sessions / 0.8), n_items=400, seed=0)
            with FakeOpenAIServer(ScriptedPolicy(ds["answer_key"]), latency=latency) as server:
                argv = ["--dataset", "tiny", "--data_path", root, "--base_url", server.base_url, "--api_key_env",
                        KEY_ENV, "--select", "all", "--no_refine", "--concurrency", str(conc)]  # fmt: skip
                report = run(make_config(argv), argv, out=io.StringIO())
            pnc_wall = report["stage_time_s"]["pnc"]
            pnc_calls = report["llm_calls_by_task"]["pnc"]
            rows.append(
                {
                    "concurrency": conc,
                    "sessions": report["sessions_processed"],
                    "pnc_calls": pnc_calls,
                    "pnc_wall_s": round(pnc_wall, 2),
                    "sessions_per_s": round(report["sessions_processed"] / pnc_wall, 2),
                    "calls_per_s": round(pnc_calls / pnc_wall, 2),
                    "server_busy_share": round(min(1.0, report["pnc_stage"]["server_busy_s"] / pnc_wall), 3),
                    "worker_wait_share": round(report["pnc_stage"]["server_wait_s"] / (pnc_wall * conc), 3),
                    "total_wall_s": report["wall_time_s"],
                }
            )
            files[conc] = []
            for suffix in ("intent", "user"):
                with open(data.dataset_file({"data_path": root, "dataset": "tiny"}, suffix), encoding="utf-8") as fh:
                    files[conc].append(fh.read())
            print(f"concurrency {conc}: {rows[-1]}", flush=True)
    identical = all(f == files[concurrencies[0]] for f in files.values())
    return rows, identical


def bench_selection(warmup_epochs):
    train = os.path.join(REPO, "dataset", "beauty", "beauty.train.inter")
    if not os.path.exists(train):
        print(f"selection: skipped, {train} does not exist (yet)")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        over = {"data_path": os.path.join(REPO, "dataset"), "cache_dir": tmp}
        if warmup_epochs is not None:
            over["warmup_epochs"] = warmup_epochs
        cfg = make_config(["--dataset", "beauty", "--select", "uncertainty"], over)
        cwd = os.getcwd()
        os.chdir(tmp)  # RecBole's trainer creates log_tensorboard/ in the working directory
        try:
            started = time.perf_counter()
            sessions = data.load_train_sessions(cfg)
            selected, info = select_sessions(sessions, cfg)
            total = time.perf_counter() - started
        finally:
            os.chdir(cwd)
    result = {
        "training_sessions": len(sessions),
        "selected": len(selected),
        "ratio": cfg["ratio"],
        "warmup_epochs": cfg["warmup_epochs"],
        "model": f"SASRec d={cfg['warmup_hidden_size']} L={cfg['warmup_layers']} H={cfg['warmup_heads']}",
        "warmup_s (load + train)": info["warmup_s"],
        "scoring_s": round(info["uncertainty_total_s"] - info["warmup_s"], 3),
        "total_s": round(total, 3),
    }
    print(f"selection: {result}", flush=True)
    return result


def markdown(meta, rows, identical, selection):
    lines = [
        "# Stage-1 benchmark: P&C loop throughput and hard-session selection",
        "",
        f"- command: `{meta['command']}`",
        f"- date: {meta['date']}; machine: {meta['machine']}; load average at start: {meta['load_avg']}",
        f"- P&C: {meta['sessions']} synthetic sessions, fake OpenAI-compatible server on 127.0.0.1 with "
        f"{meta['latency_s'] * 1000:.0f} ms per call, scripted policy (half right at try 1, half at try 2), "
        "real `openai` client, `--select all --no_refine`, fresh cache per run.",
        "",
        "| concurrency | sessions | P&C calls | P&C wall (s) | sessions/s | calls/s | server busy | worker wait |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['concurrency']} | {r['sessions']} | {r['pnc_calls']} | {r['pnc_wall_s']} | {r['sessions_per_s']} "
            f"| {r['calls_per_s']} | {100 * r['server_busy_share']:.1f} % | {100 * r['worker_wait_share']:.1f} % |"
        )
    lines += [
        "",
        "Over the P&C stage: server busy = share of its wall time with at least one call in flight; worker wait = "
        "summed call latency / (wall x concurrency). Outputs (.intent, .user) identical across concurrencies: "
        f"**{'yes' if identical else 'NO'}** (pool growth is committed per round in session order).",
        "",
        "## Uncertainty-aware selection on beauty (SPRINT §4.1.1)",
        "",
    ]
    if selection is None:
        lines.append("Skipped: dataset/beauty/beauty.train.inter does not exist.")
    else:
        lines += ["| " + " | ".join(selection) + " |", "|" + "---|" * len(selection)]
        lines.append("| " + " | ".join(str(v) for v in selection.values()) + " |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--warmup_epochs", type=int, default=None, help="default: generate.yaml's")
    parser.add_argument("--skip_selection", action="store_true")
    args = parser.parse_args()
    meta = {
        "command": " ".join(["python benchmarks/bench_pnc.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": f"{os.cpu_count()} CPUs",
        "load_avg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "sessions": args.sessions,
        "latency_s": args.latency,
    }
    rows, identical = bench_pnc(args.sessions, args.latency, args.concurrency)
    selection = None if args.skip_selection else bench_selection(args.warmup_epochs)
    out_dir = os.path.join(REPO, "results")
    os.makedirs(out_dir, exist_ok=True)
    text = markdown(meta, rows, identical, selection)
    with open(os.path.join(out_dir, "bench_pnc.md"), "w", encoding="utf-8") as fh:
        fh.write(text)
    with open(os.path.join(out_dir, "bench_pnc.json"), "w", encoding="utf-8") as fh:
        json.dump({**meta, "pnc": rows, "outputs_identical": identical, "selection": selection}, fh, indent=2)
    print(text)


if __name__ == "__main__":
    main()
