"""``--backend batch``: the P&C loop through request/response files in the OpenAI Batch API format (a provider's
batch API, a cluster job, an LLM run elsewhere). User's guide: docs/batch.md. The design in short:

- Each invocation replays the run from the cache, imports the responses files of --batch_dir, then writes the
  requests of the first unfinished round and stops (exit 3), or writes the outputs and the report.
- Round 0: refinement P1 (custom_id ``item:<id>``) and pool P2 (``pool``). Round k: try k of every open session
  (custom_id = session id) with the pool as of the end of round k-1; a round's accepted sessions are committed in
  session order once it is all answered. Requests and scoring are the live code's (refine.py, gip.py, Conversation).
- ``round_<k>_requests.jsonl`` is never rewritten (it records what its responses answer); what is still unanswered
  after they came back goes into ``round_<k>_retry<j>_requests.jsonl``. A response is imported only if its request
  (its custom_id's line in the paired file) hashes to a request due now, else it is refused as stale.
- Provider errors cost no try: sent again. A 4xx that refuses the request itself is a failed try (``transport``).
  A line with a ``response`` is classified by its status code, ``error`` alone is a provider error (batch_lines.py).
- Line problems are noted per invocation (``batch.line_problems``) and for the whole run
  (``batch.line_problems_run``, kept in ``<batch_dir>/line_problems.json``); the log warns about each line once.
- Answers are cached under the openai backend's keys (the same chat request): batch and live runs share them.
"""

import glob
import hashlib
import json
import logging
import os
import sys
import time
from collections import Counter

from recbole_intent.generate.common import data
from recbole_intent.generate.common.backends import Reply, TransportError
from recbole_intent.generate.common.cache import ReplyCache, request_key
from recbole_intent.generate.common.llm_client import call_key
from recbole_intent.generate.common.report import Stats, build_report, print_table, write_report
from recbole_intent.generate.common.scrub import register_from_env
from recbole_intent.generate.pnc import refine
from recbole_intent.generate.pnc.batch_lines import load_json, parse_response, read_jsonl, run_problems
from recbole_intent.generate.pnc.dry_run import dry_run
from recbole_intent.generate.pnc.gip import init_pool
from recbole_intent.generate.pnc.pnc_loop import Conversation, build_tasks
from recbole_intent.generate.pnc.selection import select_sessions

logger = logging.getLogger("recbole_intent.generate")
URL = "/v1/chat/completions"
STALE = "stale", "answers a request we would not send now (settings changed?)"



class Pending(Exception):
    """No answer yet. ``n``: which sending of this request it is (a transport failure sends the same one again)."""

    def __init__(self, task, messages, key, n):
        self.task, self.messages, self.key, self.n = task, messages, key, n


def _failure_key(key, n):
    return request_key({"batch_failure": key, "occurrence": n})  # never a key the live client looks up


def _line_key(line):
    """Cache key of a request line, from the line itself (model, temperature, messages), not from today's cfg."""
    cid, body = line["custom_id"], line["body"]
    task = "pool" if cid == "pool" else "refine" if cid.startswith("item:") else "pnc"
    identity = {"backend": "openai", "llm_model": body["model"], "temperature": body.get("temperature")}
    return call_key(identity, task, body["messages"])


def _responses(requests_path):
    return requests_path[: -len("requests.jsonl")] + "responses.jsonl"


class BatchRun:
    """The replay of one batch run; also the LLM client (``call``) that refine.py, gip.py and the loop talk to."""

    def __init__(self, cfg, cache, tasks, titles):
        self.cfg, self.cache, self.tasks, self.titles = cfg, cache, tasks, titles
        self.key_cfg = {**cfg, "backend": "openai"}
        self.items = sorted({i for t in tasks for i in t.context + t.candidates})

    def call(self, task, payload, messages):
        """``LLMClient.call`` from the cache: the answer, a cached refusal (TransportError), or Pending."""
        key = call_key(self.key_cfg, task, messages)
        n, self.sent[key] = self.sent[key], self.sent[key] + 1
        refused = self.cache.get(_failure_key(key, n))
        if refused:  # looked up first: a later sending of the same request may have an answer
            self.stats.count("calls_failed", task)
            raise TransportError(refused["error"])
        hit = self.cache.get(key)
        if hit is None:
            raise Pending(task, messages, key, n)
        reply = Reply(hit["text"], int(hit.get("prompt_tokens", 0)), int(hit.get("completion_tokens", 0)))
        if hit.get("source") == "batch":  # paid through the files, in any invocation: the report covers the whole run
            self.stats.count("calls", task)
            self.stats.add_tokens(reply.prompt_tokens, reply.completion_tokens)
        else:
            self.stats.count("cache_hits", task)  # answered by a live run
        return reply

    def replay(self):
        """As far as the cache goes. Sets round (None: all done), pending [(custom_id, Pending)], outcomes, pool."""
        cfg, tries, self.stats, self.sent = self.cfg, int(self.cfg["max_tries"]), Stats(), Counter()
        self.pending, self.pool, self.sizes, self.round = [], None, [], 0
        convs = [Conversation(t) for t in self.tasks]
        self.outcomes = [c.out for c in convs]
        texts = {i: self.titles.get(i, "") for i in self.items}
        for item in self.items if cfg["refine"] else ():
            try:
                texts[item] = refine._refine_one(cfg, self, self.stats, item, self.titles.get(item, ""))
            except Pending as p:
                self.pending.append((f"item:{item}", p))
        try:
            self.pool = init_pool(cfg, self, self.stats)
        except Pending as p:
            self.pending.append(("pool", p))
        if self.pending:
            return
        self.sizes = [len(self.pool)]
        for k in range(1, tries + 1):
            self.round, snapshot = k, self.pool.snapshot()
            asked = [c for c in convs if c.out.status == "unprocessed"]
            for c in asked:
                c.out.tries = k
                payload, messages = c.request(snapshot, texts, cfg)
                try:
                    reply = self.call("pnc", payload, messages)
                except Pending as p:
                    self.pending.append((c.task.session_id, p))
                    continue
                except TransportError:
                    c.out.reasons.append("transport")  # as run_session: the next try sends the same conversation
                else:
                    if c.score(reply.text, messages, snapshot, cfg):
                        continue
                if k == tries:
                    c.out.status = "failed"
            if self.pending:
                return
            for c in asked:  # the whole round is answered: commit in session order (deterministic pool ids)
                if c.out.status == "accepted":
                    c.out.intent_ids = self.pool.commit(c.out.intents)
            self.sizes.append(len(self.pool))
        self.round = None

    def import_pass(self, notes):
        """Import every response a pending request waits for; returns how many cache records were added. Problems
        are noted only for the current round's files (an older round's were reported while it was current)."""
        waiting = {p.key: p for _, p in reversed(self.pending)}  # a key pending twice: its first sending
        added = 0
        for req_path in sorted(glob.glob(os.path.join(self.cfg["batch_dir"], "round_*_requests.jsonl"))):
            resp_path = _responses(req_path)
            if not os.path.exists(resp_path):
                continue
            current = os.path.basename(req_path).startswith(f"round_{self.round}_")
            sent = {line["custom_id"]: line for _, line in read_jsonl(req_path) if isinstance(line, dict)}
            first = {}  # custom_id -> its first line in this file
            for n, rec in read_jsonl(resp_path):
                where, cid = f"{os.path.basename(resp_path)}:{n}", rec.get("custom_id") if isinstance(rec, dict) else 0
                if not isinstance(cid, str):
                    problem = "malformed", "not a JSON object with a custom_id"
                elif cid not in sent:
                    problem = "unknown_custom_id", f"{cid[:60]!r} is not in {os.path.basename(req_path)}"
                elif cid in first:
                    problem = self._duplicate(_line_key(sent[cid]), rec, cid, first[cid])
                    if problem is None:
                        continue  # the same answer twice: nothing lost
                else:
                    first[cid] = n
                    key, rid = _line_key(sent[cid]), str(rec.get("id") or where)
                    if self.cache.get(key) is not None or self._refused(key, rid):
                        continue  # imported by an earlier pass or invocation
                    problem = self._import(waiting[key], rec, rid) if key in waiting else STALE
                    added += problem is None or problem[0] == "refused_request"
                if problem is None:
                    notes.pop(where, None)  # stale in an earlier pass: the request it answers became due
                elif current:
                    notes[where] = problem
        return added

    def _duplicate(self, key, rec, cid, first_line):
        """A second line for ``cid`` in one file: a problem when its answer differs from the one imported."""
        kind, value = parse_response(rec)
        hit = self.cache.get(key)
        if kind == "answer" and hit is not None and hit.get("text") == value[0]:
            return None
        return "duplicate_custom_id", f"{cid[:60]!r} answered again, differently; line {first_line}'s answer was kept"

    def _refused(self, key, rid):
        m = 0
        while (refused := self.cache.get(_failure_key(key, m))) and refused.get("response_id") != rid:
            m += 1
        return refused is not None

    def _import(self, p, rec, rid):
        """Caches the answer (None) or the refusal of one response line; returns the line's problem otherwise."""
        kind, value = parse_response(rec)
        if kind == "answer":
            record = {"task": p.task, "text": value[0], **value[1], "source": "batch", "response_id": rid}
            self.cache.put(p.key, {**record, "custom_id": rec["custom_id"]})
            return None
        detail = value[:160]
        if kind == "resend":
            return "provider_error", f"{detail}; sent again"
        failure = {"task": "batch_failure", "text": "", "error": detail, "response_id": rid}
        self.cache.put(_failure_key(p.key, p.n), failure)
        return "refused_request", f"{detail}; a failed try (transport)"

    def write_requests(self):
        """Every pending request into a requests file still without responses (a new one if need be); the files."""
        k, j, files = self.round, 0, {}
        while os.path.exists(path := self._name(k, j)):
            if not os.path.exists(_responses(path)):
                files[path] = {_line_key(line) for _, line in read_jsonl(path) if line}
            j += 1
        covered, new = set().union(*files.values()), {}
        for cid, p in self.pending:
            if p.key not in covered and p.key not in new:  # one request per key: duplicate sessions are paid once
                new[p.key] = {"custom_id": cid, "method": "POST", "url": URL, "body": self._body(p.messages)}
        if new:
            text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in new.values())
            data.write_atomic_text(self._name(k, j), text)
            files[self._name(k, j)] = set(new)
        return [path for path, keys in files.items() if keys & {p.key for _, p in self.pending}]

    def _name(self, k, j):
        return os.path.join(self.cfg["batch_dir"], f"round_{k}{f'_retry{j}' if j else ''}_requests.jsonl")

    def _body(self, messages):
        body = {"model": self.cfg["llm_model"], "messages": messages, "response_format": {"type": "json_object"}}
        if self.cfg.get("temperature") is not None:  # as OpenAIBackend._create
            body["temperature"] = self.cfg["temperature"]
        return body


def _selection(cfg, sessions, write):
    """Frozen in selection.json: uncertainty selection trains SASRec, not to be redone (or differ) between rounds."""
    path, keys = os.path.join(cfg["batch_dir"], "selection.json"), ("dataset", "select", "ratio", "seed", "rrf_k")
    settings = {k: v for k, v in cfg.items() if k in keys or k.startswith("warmup_") and k != "warmup_threads"}
    settings["train_sessions"], by_id = len(sessions), {s.session_id: s for s in sessions}
    if (saved := load_json(path)).get("settings") == settings and all(sid in by_id for sid in saved["session_ids"]):
        return [by_id[sid] for sid in saved["session_ids"]], saved["info"]
    selected, info = select_sessions(sessions, cfg)
    if write:
        frozen = {"settings": settings, "info": info, "session_ids": [s.session_id for s in selected]}
        data.write_atomic_text(path, json.dumps(frozen, indent=1) + "\n")
    return selected, info


def run_batch(cfg, argv=None, out=None):
    """Advances as far as the files allow; returns the report (status "stopped" while a round waits for answers)."""
    out, started = out or sys.stdout, time.perf_counter()
    register_from_env(cfg)  # a provider that echoes the key: scrubbed from the cache and every file (scrub.py)
    sessions = data.load_train_sessions(cfg)
    selected, info = _selection(cfg, sessions, write=not cfg["dry_run"])
    tasks, titles = build_tasks(selected, sessions, cfg), data.load_titles(cfg)
    if cfg["dry_run"]:
        return dry_run({**cfg, "backend": "openai"}, tasks, titles, out)
    cache = ReplyCache(cfg["cache_dir"])
    run, notes, imported, added = BatchRun(cfg, cache, tasks, titles), {}, 0, 1
    try:
        while added:  # an import can finish a round, and the next round's responses may be there already
            run.replay()
            added = run.import_pass(notes)
            imported += added
        files = [] if run.round is None else run.write_requests()
    finally:
        cache.close()
    examples = [f"{where}: {kind}: {detail}" for where, (kind, detail) in notes.items()][:20]
    problems_run = run_problems(cfg, notes)
    batch = {"dir": cfg["batch_dir"], "round": run.round, "pending_requests": len(run.pending), "imported": imported}
    batch.update(line_problems=dict(Counter(kind for kind, _ in notes.values())), line_problem_examples=examples,
                 line_problems_run=dict(Counter(kind for kind, _ in problems_run.values())))
    if run.round is None:
        rows = [(o.session_id, o.status, o.intent_ids, o.hard_negatives) for o in run.outcomes]
        batch["outputs_sha256"] = hashlib.sha256(json.dumps([run.pool.names, rows]).encode()).hexdigest()
        old = load_json(data.output_file(cfg, "generate_report.json"))
        there = all(os.path.exists(data.output_file(cfg, suffix)) for suffix in ("intent", "user"))
        if not imported and there and old.get("batch", {}).get("outputs_sha256") == batch["outputs_sha256"]:
            # a rerun of a finished run: its files already hold this state, leave them (and their dates) alone
            print_table(old, out)
            print("batch: all rounds were already done; nothing imported, nothing written.", file=out)
            return old
        data.write_intent_file(cfg, run.pool.names)
        data.write_user_file(cfg, run.outcomes)
    else:
        what = "item refinement and pool" if run.round == 0 else f"try {run.round} of the open sessions"
        waiting = "1 request waits" if len(run.pending) == 1 else f"{len(run.pending)} requests wait"
        head = f"batch round {run.round} ({what}): {waiting} for answers."
        upload = [f"  upload {f} to the Batch API (endpoint {URL}), save its output as {_responses(f)}" for f in files]
        batch["next_step"] = [head, *upload, "  then run this command again (exit 3: stopped early, rerun to resume)."]
    extra = {"pool_size_per_round": run.sizes, "selection": info, "cache_bad_lines": cache.bad_lines, "batch": batch}
    pools = (run.sizes[0], len(run.pool)) if run.sizes else (0, 0)
    report = build_report(cfg, argv, run.outcomes, run.stats, *pools, started, extra)
    if run.round is not None:
        report["status"] = "stopped"
        report["stop_reason"] = "waiting for " + ", ".join(os.path.basename(_responses(f)) for f in files)
    write_report(cfg, report)
    print_table(report, out)
    return report
