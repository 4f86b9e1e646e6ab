"""Scripted answers for the fake server (tests and benchmark): a deterministic function of the request content,
so a rerun gets the same answers (what the resume test relies on) and every kind of bad answer can be ordered.

``plan(context, try_index) -> kind`` picks the answer of each try. Kinds: correct, wrong, fenced (correct inside a
```json fence), case_variant (correct, a pool intent in other case/punctuation), new (correct, with a novel
intent), not_json, bad_schema, unknown_item, too_many, long_intent, empty_intent, echo.
"""

import json

from recbole_intent.testing.fake_server import FakeResponse, request_data, request_task, stable_hash, try_index

DEFAULT_POOL = ["budget-friendly", "trendy", "popular", "gift giving", "anti-aging", "deep hydration", "nail care"]


def second_try_half(context, t):
    """Half of the sessions are right at the first try, the other half at the second."""
    return "correct" if t >= stable_hash(*context) % 2 else "wrong"


class ScriptedPolicy:
    def __init__(self, answer_key, plan=second_try_half, pool=None, novel_every=3):
        self.answer_key = answer_key  # tuple(context item ids) -> held-out item id
        self.plan = plan
        self.pool = list(pool or DEFAULT_POOL)
        self.novel_every = novel_every  # every n-th session (by hash) proposes one novel intent

    def intents(self, context, pool_names):
        h = stable_hash(*context)
        chosen = [pool_names[h % len(pool_names)]] if pool_names else []
        if self.novel_every and h % self.novel_every == 0:
            chosen.append(f"novel theme {h % 5}")
        return chosen or ["novel theme 0"]

    def __call__(self, body, server):
        task = request_task(body)
        data = request_data(body)
        if task == "pool":
            return FakeResponse(json.dumps({"intents": self.pool}))
        if task == "refine":
            return FakeResponse(json.dumps({"text": f"{data['title']} (refined)"}))
        context = tuple(item["id"] for item in data["session_items"])
        candidates = [item["id"] for item in data["candidate_items"]]
        heldout = self.answer_key[context]
        t = try_index(body)
        wrong = [c for c in candidates if c != heldout]
        wrong_item = wrong[(stable_hash(*context) + t) % len(wrong)]
        return FakeResponse(self.answer(self.plan(context, t), context, data, heldout, wrong_item, body))

    def answer(self, kind, context, data, heldout, wrong_item, body):
        pool_names = data["global_intent_pool"]
        intents = self.intents(context, pool_names)
        ok = {"intents": intents, "next_item": heldout, "reason": "scripted"}
        if kind == "correct":
            return json.dumps(ok)
        if kind == "wrong":
            return json.dumps({**ok, "next_item": wrong_item})
        if kind == "fenced":
            return "```json\n" + json.dumps(ok) + "\n```"
        if kind == "case_variant":
            return json.dumps({**ok, "intents": [pool_names[0].upper().replace("-", " ") + "!"]})
        if kind == "new":
            return json.dumps({**ok, "intents": [f"novel theme {stable_hash(*context) % 5}"]})
        if kind == "not_json":
            return "I think the user wants the second item."
        if kind == "bad_schema":
            return json.dumps({"intent": intents, "item": heldout})
        if kind == "unknown_item":
            return json.dumps({**ok, "next_item": "no-such-item"})
        if kind == "too_many":
            return json.dumps({**ok, "intents": [f"intent {i}" for i in range(9)]})
        if kind == "long_intent":
            return json.dumps({**ok, "intents": ["a very long intent " * 5]})
        if kind == "empty_intent":
            return json.dumps({**ok, "intents": ["   "]})
        if kind == "echo":
            return "\n".join(m["content"] for m in body["messages"][:2])
        raise ValueError(f"unknown answer kind {kind!r}")
