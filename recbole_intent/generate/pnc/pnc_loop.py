"""The predict-and-correct loop (VELI4SBR §4.1.2 and Algorithm 1; SPRINT §4.1.2).

Per selected session S: hold out the last item i_N, draw M out-of-session candidates, shuffle them with i_N
(I_S), then for t = 1..T ask P3 (Eq. 6). A correct prediction accepts that try's intents; a wrong one is recorded as
a hard negative and the verbal feedback R^(t) is appended to the conversation (Eq. 7). New intents enter the pool
only when their session is accepted (Eq. 5).

Concurrency and pool growth. Sessions run on a thread pool (``concurrency`` calls in flight), in rounds of
``pool_sync`` sessions taken in selection order. Every session of a round sees the same pool snapshot, taken when
the round starts; when the whole round has finished, the new intents of its accepted sessions are committed in
session order. Pool growth is therefore a function of the answers only: not of thread timing, and not of
--concurrency (1 and 8 give identical files). A resumed run rebuilds the same snapshots from the cached answers,
so it re-sends exactly the same prompts and they are all cache hits. ``pool_sync 1`` is the papers' strictly
sequential growth (no concurrency then); the reference answers in shared/data were collected round-wise as well.
``--backend batch`` (batch.py) runs the same Conversation steps with rounds of tries instead: try k of every open
session, against the pool as it stood after round k-1.
"""

import logging
import random
from dataclasses import dataclass, field

from recbole_intent.generate.common import prompts
from recbole_intent.generate.common.backends import FatalBackendError, TransportError
from recbole_intent.generate.common.llm_client import BudgetExhausted
from recbole_intent.generate.common.validate import validate_pnc

logger = logging.getLogger("recbole_intent.generate")
MAX_ECHO_CHARS = 4000  # the assistant turn replayed in the history is cut: a runaway answer must not grow every try


@dataclass(frozen=True)
class PncTask:
    session_id: str
    context: tuple  # S_{1:N-1}, shown to the LLM
    heldout: str  # i_N, never shown as such
    candidates: tuple  # I_S = {i_N, i_out_1..M}, shuffled


@dataclass
class Outcome:
    session_id: str
    status: str = "unprocessed"  # accepted | failed | unprocessed
    tries: int = 0
    intents: list = field(default_factory=list)  # accepted intent names (C_S^LLM)
    new_intents: list = field(default_factory=list)
    intent_ids: list = field(default_factory=list)  # pool ids, set at commit
    hard_negatives: list = field(default_factory=list)
    reasons: list = field(default_factory=list)  # one per failed try


def build_tasks(selected, train_sessions, cfg):
    """One validation task I_S per selected session. Candidates come from the items of the training split only and
    are drawn with an RNG seeded by (seed, session id), so a resumed or re-ordered run draws the same ones; rejection
    sampling from the sorted item list avoids building the complement of every session."""
    universe = sorted({item for s in train_sessions for item in s.items})
    universe_set = set(universe)
    tasks = []
    for session in selected:
        in_session = set(session.items)
        rng = random.Random(f"{cfg['seed']}:{session.session_id}")
        wanted = min(int(cfg["candidates"]), len(universe) - len(in_session & universe_set))
        outs = []
        while len(outs) < wanted:
            item = universe[rng.randrange(len(universe))]
            if item not in in_session and item not in outs:
                outs.append(item)
        candidates = outs + [session.items[-1]]
        rng.shuffle(candidates)
        tasks.append(PncTask(session.session_id, tuple(session.items[:-1]), session.items[-1], tuple(candidates)))
    return tasks


@dataclass
class Conversation:
    """One session's Algorithm 1 between tries: its outcome so far, the turns after the data message (the model's
    answers and our feedback) and the same tries in structured form. The live loop (run_session) and the file-based
    batch mode (batch.py) both build every request and score every answer through this class, so the two modes send
    the same messages for the same pool and score the same reply the same way."""

    task: PncTask
    out: Outcome = None
    turns: list = field(default_factory=list)
    tries: list = field(default_factory=list)

    def __post_init__(self):
        self.out = self.out or Outcome(self.task.session_id)

    def request(self, snapshot, texts, cfg):
        """(payload, messages) of the next try, V_S^(t): the data message shows ``snapshot``, then the history."""
        task = self.task
        messages = prompts.pnc_messages(cfg, snapshot.names, task.context, task.candidates, texts) + self.turns
        # The structured request, for backends that do not read the chat (offline.py): same content as ``messages``.
        payload = {
            "domain": cfg["domain"],
            "pool": list(snapshot.names),
            "session": [{"id": i, "title": texts.get(i, "")} for i in task.context],
            "candidates": [{"id": i, "title": texts.get(i, "")} for i in task.candidates],
            "tries": list(self.tries),
        }
        return payload, messages

    def score(self, text, messages, snapshot, cfg):
        """Validate one answered try: accept it (True) or record the failure and append the feedback R^(t)."""
        out, task = self.out, self.task
        answer = validate_pnc(text, messages, task.candidates, snapshot.index, cfg)
        wrong = answer.next_item is not None and answer.next_item != task.heldout
        if wrong and answer.next_item not in out.hard_negatives:
            out.hard_negatives.append(answer.next_item)  # a candidate the LLM wrongly preferred: a hard negative
        if answer.ok and answer.next_item == task.heldout:
            out.status, out.intents, out.new_intents = "accepted", answer.intents, answer.new_intents
            return True
        reason = answer.reason or "wrong_item"
        out.reasons.append(reason)
        note = prompts.feedback(answer, reason)
        tried = {"intents": answer.intents, "next_item": answer.next_item, "correct": False, "reason": reason}
        self.tries.append({**tried, "feedback": note})
        self.turns += [{"role": "assistant", "content": text[:MAX_ECHO_CHARS]}, {"role": "user", "content": note}]
        return False


def run_session(task, snapshot, texts, client, cfg):
    """Algorithm 1 for one session against a fixed pool snapshot. Raises BudgetExhausted / FatalBackendError."""
    conv = Conversation(task)
    for t in range(int(cfg["max_tries"])):
        conv.out.tries = t + 1
        payload, messages = conv.request(snapshot, texts, cfg)
        try:
            reply = client.call("pnc", payload, messages)
        except TransportError as err:
            conv.out.reasons.append("transport")
            logger.debug("session %s try %d: %s", task.session_id, t + 1, err)
            continue  # no answer for R^(t) to refer to: the same conversation is sent again
        if conv.score(reply.text, messages, snapshot, cfg):
            return conv.out
    conv.out.status = "failed"
    return conv.out


def run_pnc(tasks, pool, texts, client, cfg, executor, stop, progress=None):
    """All sessions, round by round (see the module docstring). ``stop`` is a threading.Event: set when the call
    budget runs out or the backend is unusable; sessions not finished by then stay ``unprocessed``.
    Returns (outcomes in task order, the stop reason or None, the pool size before and after every round)."""
    outcomes = []
    size = int(cfg["pool_sync"])
    stop_reason = []
    pool_sizes = [len(pool)]  # the pool size at the start and after every round (the report's growth curve)

    def guarded(task, snapshot):
        if stop.is_set():
            return Outcome(task.session_id)
        try:
            return run_session(task, snapshot, texts, client, cfg)
        except (BudgetExhausted, FatalBackendError) as err:
            if not stop.is_set():
                stop_reason.append(f"{type(err).__name__}: {err}")
            stop.set()
            return Outcome(task.session_id)

    for start in range(0, len(tasks), size):
        batch = tasks[start : start + size]
        snapshot = pool.snapshot()
        results = [f.result() for f in [executor.submit(guarded, task, snapshot) for task in batch]]
        for out in results:  # session order, whatever order the threads finished in
            if out.status == "accepted":
                out.intent_ids = pool.commit(out.intents)
        outcomes.extend(results)
        pool_sizes.append(len(pool))
        if progress:
            progress(outcomes, len(tasks))
    return outcomes, (stop_reason[0] if stop_reason else None), pool_sizes
