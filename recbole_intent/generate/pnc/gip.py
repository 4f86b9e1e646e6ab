"""The Global Intent Pool G (VELI4SBR §4.1.2, SPRINT §4.1.2): initialised once by P2, grown only by validated
intents (Eq. 5: G <- G ∪ {c'} when the session that introduced c' is accepted).

Intents are identified by ``validate.intent_key`` (case, spacing and punctuation ignored), so a known intent written
differently maps to the existing entry and never becomes a second one. Ids are positions: initial intents first,
then the new ones in the order they were committed.
"""

import logging
import threading
from dataclasses import dataclass

from recbole_intent.generate.common import prompts
from recbole_intent.generate.common.backends import ServerUnreachable, TransportError
from recbole_intent.generate.common.validate import check_intent, intent_key, validate_pool

logger = logging.getLogger("recbole_intent.generate")


@dataclass(frozen=True)
class PoolSnapshot:
    names: tuple
    index: dict  # intent_key -> pool name


class IntentPool:
    def __init__(self, names=()):
        self._lock = threading.Lock()
        self._names = []
        self._ids = {}  # intent_key -> id
        for name in names:
            self.add(name)

    def __len__(self):
        return len(self._names)

    @property
    def names(self):
        with self._lock:
            return list(self._names)

    def add(self, name):
        """Id of ``name``; appended when no entry has the same key."""
        key = intent_key(name)
        with self._lock:
            if key not in self._ids:
                self._ids[key] = len(self._names)
                self._names.append(name)
            return self._ids[key]

    def snapshot(self):
        with self._lock:
            return PoolSnapshot(tuple(self._names), {intent_key(n): n for n in self._names})

    def commit(self, intents):
        """Pool ids of an accepted intent set, adding the new ones (Eq. 5)."""
        return [self.add(name) for name in intents]


def read_pool_file(path, cfg):
    names = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            cleaned, bad = check_intent(line, cfg)
            if line.strip() and not bad:
                names.append(cleaned)
    return names


def init_pool(cfg, client, stats, titles=()):
    """G = LLM(P2(D)) (Eq. 4 / SPRINT Eq. 5), or the lines of --pool_file. Invalid answers are retried with
    feedback up to max_tries; a pool that cannot be built stops the run (nothing can be generated without it)."""
    if cfg.get("pool_file"):
        names = read_pool_file(cfg["pool_file"], cfg)
        if not names:
            raise RuntimeError(f"--pool_file {cfg['pool_file']} holds no valid intent")
        return IntentPool(names)
    messages = prompts.pool_messages(cfg)
    # titles/n are for backends that build the pool from the catalogue (offline.py); P2 itself asks only the domain.
    payload = {"domain": cfg["domain"], "titles": list(titles), "n": int(cfg["pool_n"])}
    reason, transport = None, []
    for _ in range(int(cfg["max_tries"])):
        try:
            reply = client.call("pool", payload, messages)
        except TransportError as err:
            stats.count("pool_failures", "transport")
            transport.append(str(err))
            continue
        names, reason, dropped = validate_pool(reply.text, messages, cfg)
        if dropped:
            stats.count("pool_dropped", "entries", dropped)
        if names:
            return IntentPool(names)
        stats.count("pool_failures", reason)
        messages = messages + [
            {"role": "assistant", "content": reply.text[:4000]},
            {"role": "user", "content": f'Invalid answer ({reason}). Output one JSON object {{"intents": [...]}}.'},
        ]
    if len(transport) == int(cfg["max_tries"]):  # the server, not the answers: rerun when it is back (exit 3)
        raise ServerUnreachable(f"the global intent pool (P2): all {len(transport)} tries failed in transport, the "
                                f"last with {transport[-1]}")
    raise RuntimeError(f"could not initialise the global intent pool after {cfg['max_tries']} tries (last invalid "
                       f"answer: {reason})")
