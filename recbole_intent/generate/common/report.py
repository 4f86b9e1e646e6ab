"""Run accounting and the JSON run report ``<d>.generate_report.json`` (+ a short table on stdout)."""

import json
import sys
import threading
import time
from collections import Counter, defaultdict

from recbole_intent.generate.common.data import output_file, write_atomic_text


class Stats:
    """Thread-safe counters shared by the client, the loop and the stages."""

    def __init__(self):
        self._lock = threading.Lock()
        self.counters = defaultdict(Counter)  # e.g. counters["calls"]["pnc"]
        self.times = Counter()
        self.tokens = Counter()

    def count(self, group, key, n=1):
        with self._lock:
            self.counters[group][key] += n

    def add_time(self, key, seconds):
        with self._lock:
            self.times[key] += seconds

    def add_tokens(self, prompt, completion):
        with self._lock:
            self.tokens["prompt"] += prompt
            self.tokens["completion"] += completion


def summarise_outcomes(outcomes):
    status = Counter(o.status for o in outcomes)
    tries = Counter()
    reasons = Counter()
    for o in outcomes:
        reasons.update(o.reasons)
        if o.status == "accepted":
            tries[str(o.tries)] += 1
        elif o.status == "failed":
            tries["failed"] += 1
    done = status["accepted"] + status["failed"]
    return {
        "sessions_selected": len(outcomes),
        "sessions_processed": done,
        "accepted": status["accepted"],
        "failed": status["failed"],
        "unprocessed": status["unprocessed"],
        "failure_rate": round(status["failed"] / done, 4) if done else None,
        "tries_histogram": dict(sorted(tries.items())),
        "failed_try_reasons": dict(reasons.most_common()),
        "unprocessed_session_ids": [o.session_id for o in outcomes if o.status == "unprocessed"][:1000],
    }


def build_report(cfg, argv, outcomes, stats, pool_initial, pool_final, started, extra=None):
    wall = time.perf_counter() - started
    report = {
        "command": "python -m recbole_intent.generate " + " ".join(argv or []),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "status": "complete",
        **summarise_outcomes(outcomes),
        "pool_initial": pool_initial,
        "pool_final": pool_final,
        "llm_calls": sum(stats.counters["calls"].values()),
        "llm_calls_by_task": dict(stats.counters["calls"]),
        "calls_failed_transport": sum(stats.counters["calls_failed"].values()),
        "cache_hits": sum(stats.counters["cache_hits"].values()),
        "cache_hits_by_task": dict(stats.counters["cache_hits"]),
        "prompt_tokens": stats.tokens["prompt"],
        "completion_tokens": stats.tokens["completion"],
        "refine_fallbacks": dict(stats.counters["refine_fallback"]),
        "wall_time_s": round(wall, 3),
        "server_wait_s": round(stats.times["server_wait_s"], 3),
        "server_busy_s": round(stats.times["server_busy_s"], 3),
        "stage_time_s": {k[6:]: round(v, 3) for k, v in stats.times.items() if k.startswith("stage_")},
        "config": {k: v for k, v in cfg.items()},  # holds api_key_env (a NAME), never the key
    }
    report.update(extra or {})
    return report


def write_report(cfg, report):
    path = output_file(cfg, "generate_report.json")
    write_atomic_text(path, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return path


def print_table(report, out=None):
    out = out or sys.stdout
    hist = report.get("tries_histogram", {})
    rate = report.get("failure_rate")
    rows = [
        ("status", report["status"]),
        ("sessions selected / processed", f"{report['sessions_selected']} / {report['sessions_processed']}"),
        ("accepted / failed / unprocessed", f"{report['accepted']} / {report['failed']} / {report['unprocessed']}"),
        ("failure rate", "-" if rate is None else f"{100 * rate:.1f} %"),
        ("accepted at try 1 / 2 / 3 ...", " / ".join(str(hist[k]) for k in sorted(hist) if k != "failed") or "-"),
        ("pool size initial -> final", f"{report['pool_initial']} -> {report['pool_final']}"),
        ("backend calls / cache hits", f"{report['llm_calls']} / {report['cache_hits']}"),
        ("tokens prompt / completion", f"{report['prompt_tokens']} / {report['completion_tokens']}"),
        ("failed-try reasons", ", ".join(f"{k} {v}" for k, v in report["failed_try_reasons"].items()) or "-"),
        ("wall time", f"{report['wall_time_s']:.1f} s"),
    ]
    if report.get("stop_reason"):
        rows.insert(1, ("stopped because", report["stop_reason"]))
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}", file=out)
    for line in report.get("batch", {}).get("next_step", []):  # --backend batch: which file to upload (batch.py)
        print(line, file=out)
