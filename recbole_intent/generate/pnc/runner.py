"""Stage 1 end to end: select sessions, refine items (P1), initialise the pool (P2), run the P&C loop (P3), write
``<d>.intent``, ``<d>.user`` and ``<d>.generate_report.json``.

Stopping early (--max_calls reached, Ctrl-C, the server unreachable while the pool is built, or the backend rejects
the credentials/model): sessions not finished are
``unprocessed``: they get no ``.user`` row (exactly as if not selected) and are listed in the report; rerunning with
a larger budget resumes from the cache. If the stop comes before the pool exists, only the report is written.
"""

import contextlib
import logging
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from recbole_intent.generate.common import data
from recbole_intent.generate.common.backends import FatalBackendError, ServerUnreachable, make_backend
from recbole_intent.generate.common.cache import ReplyCache
from recbole_intent.generate.common.llm_client import BudgetExhausted, LLMClient
from recbole_intent.generate.common.progress import Progress
from recbole_intent.generate.common.report import Stats, build_report, print_table, write_report
from recbole_intent.generate.pnc.dry_run import dry_run
from recbole_intent.generate.pnc.gip import init_pool
from recbole_intent.generate.pnc.pnc_loop import Outcome, build_tasks, run_pnc
from recbole_intent.generate.pnc.refine import refine_items
from recbole_intent.generate.pnc.selection import select_sessions
from recbole_intent.threads import apply_threads

logger = logging.getLogger("recbole_intent.generate")


class _Stage:
    def __init__(self, stats, name):
        self.stats, self.name = stats, name

    def __enter__(self):
        self.t0 = time.perf_counter()
        logger.info("stage %s ...", self.name)

    def __exit__(self, *exc):
        self.stats.add_time(f"stage_{self.name}", time.perf_counter() - self.t0)


def _progress(total):
    """The P&C loop's line after every round of pool_sync sessions, with the time left at the pace so far."""
    progress = Progress("P&C", total, "sessions")

    def step(outcomes, _total):
        accepted = sum(o.status == "accepted" for o in outcomes)
        progress.step(sum(o.status != "unprocessed" for o in outcomes), f" ({accepted} accepted)")

    return step


@contextlib.contextmanager
def _ctrl_c_stops(halt, stop):
    """Ctrl-C sets ``halt`` (no new call: llm_client.Interrupted) and ``stop`` (no new session); the calls in flight
    finish and are cached, then the report is written (status stopped, exit 3). A second Ctrl-C quits at once."""
    if threading.current_thread() is not threading.main_thread():  # signal handlers belong to the main thread
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        halt.set()
        stop.set()
        signal.signal(signal.SIGINT, previous)
        logger.warning("Ctrl-C: no new call; waiting for the calls in flight, then writing the report "
                       "(Ctrl-C again quits at once)")

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run(cfg, argv=None, out=None):
    """Returns the report dict (for --dry_run: the dry-run summary)."""
    apply_threads(cfg["threads"], "--threads")  # before the selection's warm-up and the text encoder
    if cfg["backend"] == "batch":  # request/response files instead of a connection: its own driver (batch.py)
        from recbole_intent.generate.pnc.batch import run_batch

        return run_batch(cfg, argv, out)
    out = out or sys.stdout
    started = time.perf_counter()
    stats = Stats()
    sessions = data.load_train_sessions(cfg)
    titles = data.load_titles(cfg)
    with _Stage(stats, "select"):
        selected, select_info = select_sessions(sessions, cfg)
    tasks = build_tasks(selected, sessions, cfg)
    logger.info("%d training sessions, %d selected (%s)", len(sessions), len(tasks), cfg["select"])
    if cfg["dry_run"]:
        return dry_run(cfg, tasks, titles, out)

    cache = ReplyCache(cfg["cache_dir"])
    stop, halt = threading.Event(), threading.Event()
    executor = ThreadPoolExecutor(max_workers=int(cfg["concurrency"]), thread_name_prefix="pnc")
    with _ctrl_c_stops(halt, stop):
        stop_reason, backend, pool, outcomes, pool_sizes, pnc_time = _calls(
            cfg, stats, cache, sessions, titles, tasks, executor, stop, halt)
    if halt.is_set() and not stop_reason:  # Ctrl-C after the last call had started
        stop_reason = "Interrupted: Ctrl-C"
    pool_initial = pool_sizes[0] if pool_sizes else len(pool) if pool is not None else 0
    if pool is not None:
        with _Stage(stats, "write"):
            data.write_intent_file(cfg, pool.names)
            data.write_user_file(cfg, outcomes)
    extra = {
        "pool_size_per_round": pool_sizes,  # pool_sync sessions per round (pnc_loop.py)
        "selection": select_info,
        "cache_bad_lines": cache.bad_lines,
        "pnc_stage": pnc_time,
    }
    if backend is not None:
        extra["transport_retries"] = getattr(backend, "retries", 0)
        extra["json_mode_fallbacks"] = getattr(backend, "json_mode_fallbacks", 0)
    report = build_report(cfg, argv, outcomes, stats, pool_initial, len(pool) if pool else 0, started, extra)
    if stop_reason:
        report["status"] = "stopped"
        report["stop_reason"] = stop_reason
    write_report(cfg, report)
    print_table(report, out)
    return report


def _calls(cfg, stats, cache, sessions, titles, tasks, executor, stop, halt):
    """Pool (P2), refinement (P1) and the P&C loop (P3): every LLM call of a live run. Returns (stop reason or None,
    backend, pool, outcomes, pool sizes per round, P&C server times)."""
    stop_reason, backend, pool, pool_sizes, pnc_time = None, None, None, [], {}
    outcomes = [Outcome(t.session_id) for t in tasks]
    try:
        backend = make_backend(cfg)
        client = LLMClient(backend, cache, cfg, stats, halt)
        with _Stage(stats, "pool"):
            train_items = sorted({i for s in sessions for i in s.items})
            pool = init_pool(cfg, client, stats, [titles[i] for i in train_items if titles.get(i)])
        with _Stage(stats, "refine"):
            items = {i for t in tasks for i in t.context + t.candidates}
            texts = refine_items(cfg, client, stats, items, titles, executor)
        if hasattr(backend, "warm"):
            backend.warm(sorted(set(texts.values())))  # offline.py: one batched encoding pass instead of many
        before = dict(stats.times)
        with _Stage(stats, "pnc"):
            outcomes, stop_reason, pool_sizes = run_pnc(tasks, pool, texts, client, cfg, executor, stop,
                                                        _progress(len(tasks)))
        pnc_time = {k: round(stats.times[k] - before.get(k, 0.0), 3) for k in ("server_wait_s", "server_busy_s")}
    except (BudgetExhausted, FatalBackendError, ServerUnreachable) as err:  # Interrupted is a BudgetExhausted
        stop_reason = f"{type(err).__name__}: {err}"
    finally:
        executor.shutdown(wait=True)  # the calls in flight finish (and are cached) before the report is written
        cache.close()
    return stop_reason, backend, pool, outcomes, pool_sizes, pnc_time
