"""Append-only JSONL cache of completed LLM calls: request hash -> reply.

Each answer is appended, flushed and fsynced as soon as it arrives, so a run killed at any moment loses at most the
calls that were in flight. Rerunning the same command replays every completed call from here (no paid call is
repeated) and, since pool growth depends only on the answers (see pnc_loop.py), ends with the same outputs.
A last line cut short by a kill (no newline, or not valid JSON) is ignored and the next append starts a new line.
The request hashed is (backend, model, temperature, task, messages): never the API key, which is not stored.
"""

import hashlib
import json
import os
import threading

from recbole_intent.generate.common.scrub import scrub

CACHE_FILE = "llm_calls.jsonl"


def request_key(request):
    blob = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ReplyCache:
    def __init__(self, cache_dir):
        self.path = os.path.join(cache_dir, CACHE_FILE)
        self._lock = threading.Lock()
        self._entries = {}
        self.bad_lines = 0
        self._needs_newline = False
        self._fh = None
        self._load()

    def _load(self):
        if not os.path.exists(self.path):
            return
        with open(self.path, "rb") as fh:
            data = fh.read()
        self._needs_newline = bool(data) and not data.endswith(b"\n")
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                self._entries[record["key"]] = record
            except (ValueError, KeyError, TypeError):
                self.bad_lines += 1  # a torn write from a killed run: that call simply is not cached

    def __len__(self):
        return len(self._entries)

    def get(self, key):
        with self._lock:
            return self._entries.get(key)

    def put(self, key, record):
        record = {"key": key, **{k: scrub(v) for k, v in record.items()}}  # a server may echo the API key
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            if self._fh is None:
                os.makedirs(os.path.dirname(self.path), exist_ok=True)
                self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (kept open for the run, closed in close())
            if self._needs_newline:
                self._fh.write("\n")  # terminate a torn last line so it stays one bad line, not two
                self._needs_newline = False
            self._fh.write(line)
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._entries[key] = record

    def close(self):
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None
