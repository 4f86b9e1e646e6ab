"""Train every run of a plan (many tables, datasets and protocols) through one pool, in priority order.

    python benchmarks/run_queue.py --plan benchmarks/plans/gpu_2026-11-30.json --jobs 15 --cache results/runs_queue \
        --deadline 480 --hard 540 --pack /tmp/runs_queue.tar.gz

Made for a lent GPU machine, where minutes are few and one command must do everything: ``--jobs`` trainings at a
time (each a ``compare.py`` subprocess, so every result lands in the same per-run cache that ``compare.py`` and
``tuning.py`` build their tables from, with ``--cached_only``). It runs as well on a CPU machine.

A plan is a JSON list of groups, most important first:

    {"dataset": "ml1m", "protocol": "strong", "runs": ["sasrec", "veli_off"], "seeds": [2020, 2021, 2022],
     "extra": {"stopping_step": 5}}
    {"tune": "SASRec", "dataset": "beauty", "protocol": "papers", "base": "sasrec", "tune_seed": 2020,
     "grid": {"learning_rate": [0.001, 0.002], "dropout": [0.2, 0.5]}, "also": [{"enrich_k": 5}],
     "seeds": [2020, 2021], "extra": {"stopping_step": 5}}

``protocol`` may be null (each model's own YAML). A ``tune`` group trains the grid's points (``tuning.points``)
at ``tune_seed``; once all have finished, the point with the best *validation* NDCG@20 is trained on ``seeds`` (the
test split is never looked at to select), with the group's priority. Jobs are queued seed-major, so a queue cut
short still leaves whole seeds. ``--deadline``: no job starts after that many seconds; ``--hard``: the time the
command will be killed, so a job that should end later (the slowest finished run of its model and dataset, times
1.1) is skipped for one that fits; ``--pack``: after every
finished job, the cache (results, failures, selections) is written again to that tar.gz (what a lent machine sends
back even when its command is killed).
"""

import argparse
import json
import os
import sys
import tarfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import run_one  # noqa: E402
from tuning import group_namespace, points, select_point  # noqa: E402


def group_args(group, cli):
    """The argparse-like namespace ``compare.run_one`` reads, for one group of the plan (it trains what is missing)."""
    return group_namespace(group, cli.cache, cli.threads, cli.jobs, cli.checkpoint_root, cached_only=False)


class Queue:
    """Queued jobs (priority, order, run, seed, group), taken most important first by a pool of worker threads."""

    def __init__(self, plan, cli):
        self.cli, self.jobs, self.lock, self.order = cli, [], threading.Lock(), 0
        self.start, self.done, self.failed = time.time(), 0, 0
        kept = os.path.join(cli.cache, "selections.json")  # earlier queues' selections stay on record
        self.selections = {}
        if os.path.exists(kept):
            with open(kept) as f:
                self.selections = json.load(f)
        self.pending = {}  # tune group index -> grid points still running or queued
        self.took = {}  # dataset and (dataset, run) -> seconds of each finished job
        for priority, group in enumerate(plan):
            if "tune" in group:
                names = points(group)
                self.pending[priority] = set(names)
                self.push(priority, names, [group["tune_seed"]], group)
            else:
                self.push(priority, group["runs"], group["seeds"], group)

    def push(self, priority, names, seeds, group):
        for seed in seeds:
            for name in names:
                self.jobs.append((priority, self.order, name, seed, group))
                self.order += 1

    def estimate(self, name, group):
        """Seconds a job should take: the slowest finished run of the same model on the same dataset, else of any
        model on that dataset, else 0 (nothing known yet: start it)."""
        same = self.took.get((group["dataset"], name), [])
        return max(same or self.took.get(group["dataset"], [0]))

    def take(self):
        """The most important queued job that should still finish before ``--hard`` (the command's kill time)."""
        with self.lock:
            elapsed = time.time() - self.start
            if elapsed > self.cli.deadline:
                return None
            for job in sorted(self.jobs):
                if elapsed + 1.1 * self.estimate(job[2], job[4]) < self.cli.hard:
                    self.jobs.remove(job)
                    return job
            return None

    def finish(self, job, ok, seconds):
        priority, _, name, seed, group = job
        with self.lock:
            if ok:
                for key in (group["dataset"], (group["dataset"], name)):
                    self.took.setdefault(key, []).append(seconds)
            self.done += 1
            self.failed += not ok
            left = self.pending.get(priority)
            if left is not None and name in left and seed == group["tune_seed"]:
                left.discard(name)
                if not left:  # every grid point trained: select on valid, then queue the seeds
                    chosen = select_point(group, self.cli.cache)
                    self.selections[f"{group['dataset']}/{group.get('protocol')}/{group['tune']}"] = chosen
                    self.push(priority, [chosen], group["seeds"], group)
            self.pack()

    def pack(self):
        os.makedirs(self.cli.cache, exist_ok=True)
        with open(os.path.join(self.cli.cache, "selections.json"), "w") as f:
            json.dump(self.selections, f, indent=1)
        if self.cli.pack:
            tmp = self.cli.pack + ".tmp"
            with tarfile.open(tmp, "w:gz") as tar:
                tar.add(self.cli.cache, arcname=os.path.basename(os.path.normpath(self.cli.cache)))
            os.replace(tmp, self.cli.pack)

    def worker(self):
        while (job := self.take()) is not None:
            _, _, name, seed, group = job
            args = group_args(group, self.cli)
            began = time.time()
            try:
                run_one(name, seed, args)
                ok = True
            except Exception as err:  # a failed run is reported and kept, never fatal to the queue
                ok = False
                where = os.path.join(self.cli.cache, "_failed")
                os.makedirs(where, exist_ok=True)
                with open(os.path.join(where, f"{group['dataset']}_{group.get('protocol')}_{name}_{seed}.txt"),
                          "w") as f:
                    f.write(str(err))
            seconds = time.time() - began
            print(f"[{time.time() - self.start:6.0f}s] {'ok  ' if ok else 'FAIL'} {group['dataset']}/"
                  f"{group.get('protocol')}/{name}/{seed} in {seconds:.0f}s "
                  f"({self.done + 1} done, {len(self.jobs)} queued)", flush=True)
            self.finish(job, ok, seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--plan", required=True)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cache", default="results/runs")
    parser.add_argument("--checkpoint_root", default="/tmp/queue")
    parser.add_argument("--deadline", type=float, default=float("inf"), help="seconds after which no job starts")
    parser.add_argument("--hard", type=float, default=float("inf"),
                        help="seconds after which the command is killed: a job expected to end later is not started")
    parser.add_argument("--pack", default=None, help="tar.gz of the cache, rewritten after every finished job")
    cli = parser.parse_args()
    with open(cli.plan) as f:
        plan = json.load(f)
    queue = Queue(plan, cli)
    print(f"{len(queue.jobs)} jobs queued, {cli.jobs} at a time", flush=True)
    threads = [threading.Thread(target=queue.worker) for _ in range(cli.jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queue.pack()
    print(f"done: {queue.done} finished ({queue.failed} failed), {len(queue.jobs)} never started; "
          f"{time.time() - queue.start:.0f}s", flush=True)


if __name__ == "__main__":
    main()
