"""Validate LLM answers. A bad answer is a failed try with a named reason, never a crash and never accepted.

Reasons (counted in the run report): ``echo`` (the prompt came back), ``not_json``, ``bad_schema`` (wrong or
missing keys / types), ``too_many_intents``, ``empty_intent``, ``intent_too_long``, ``unknown_item`` (next_item is
not a candidate). A well-formed answer that predicts the wrong candidate is a failed try with ``wrong_item``.
"""

import json
import re
import unicodedata
from dataclasses import dataclass, field

_FENCE = re.compile(r"^```[a-zA-Z]*\s*(.*?)\s*```$", re.DOTALL)


@dataclass
class Answer:
    ok: bool
    reason: str | None = None
    detail: str = ""
    intents: list = field(default_factory=list)  # canonical names: the pool entry when known, else the cleaned name
    new_intents: list = field(default_factory=list)  # the subset not in the pool snapshot
    next_item: str | None = None  # set whenever it names a candidate, even if the intents are invalid


def intent_key(name):
    """Identity of an intent: case, spacing and punctuation do not make a new intent ("Anti-Aging" = "anti aging")."""
    text = unicodedata.normalize("NFKC", str(name)).casefold()
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


def clean_name(name):
    """Single line, no tabs, normalised whitespace, no wrapping quotes or trailing punctuation."""
    text = unicodedata.normalize("NFKC", str(name))
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    previous = None
    while text != previous:  # e.g. '"Lip care".' -> 'Lip care', but '"Quoted" glow' keeps its quotes
        previous, text = text, _unquote(text.strip().rstrip(".,;:").strip())
    return text


def _unquote(text):
    """Drop a quote pair around the whole text (not '"a" and "b"'), or a stray quote at one end with no partner."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'`" and text[0] not in text[1:-1]:
        return text[1:-1]
    for quote in "\"'`":
        if text.count(quote) == 1 and (text.startswith(quote) or text.endswith(quote)):
            return text.replace(quote, "")
    return text


def _is_echo(text, messages):
    """The reply repeats our own prompt (system text or the data message) instead of answering it."""
    flat = " ".join(text.split())
    for message in messages[:2]:
        probe = " ".join(message["content"].split())[:80]
        if len(probe) >= 40 and probe in flat:
            return True
    return False


def parse_json_object(text, messages=()):
    """Returns (dict, None) or (None, reason). Strips ```json fences; tolerates prose around one JSON object."""
    if _is_echo(text, messages):
        return None, "echo"
    body = text.strip()
    fence = _FENCE.match(body)
    if fence:
        body = fence.group(1)
    for candidate in (body, body[body.find("{") : body.rfind("}") + 1]):
        try:
            obj = json.loads(candidate)
        except (ValueError, TypeError):
            continue
        return (obj, None) if isinstance(obj, dict) else (None, "bad_schema")
    return None, "not_json"


def check_intent(name, cfg):
    """Returns (cleaned name, None) or (cleaned name, reason)."""
    cleaned = clean_name(name)
    if not cleaned or not intent_key(cleaned):
        return cleaned, "empty_intent"
    if len(cleaned) > cfg["max_intent_chars"] or len(cleaned.split()) > cfg["max_intent_words"]:
        return cleaned, "intent_too_long"
    return cleaned, None


def _as_item_id(value):
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return str(value).strip().strip("\"'<>[]").strip()


def validate_pnc(text, messages, candidates, pool_index, cfg):
    """P3 answer ``{"intents": [...], "next_item": "<candidate id>"}``; ``pool_index`` maps intent_key -> name."""
    obj, reason = parse_json_object(text, messages)
    if reason:
        return Answer(False, reason, "the answer is not one JSON object" if reason == "not_json" else reason)
    intents, raw_item = obj.get("intents"), obj.get("next_item")
    if not isinstance(intents, list) or not all(isinstance(i, str) for i in intents) or raw_item is None:
        return Answer(False, "bad_schema", 'need "intents" (a list of strings) and "next_item"')
    item = _as_item_id(raw_item)
    by_lower = {c.lower(): c for c in candidates}
    next_item = item if item in candidates else by_lower.get((item or "").lower())
    answer = Answer(True, next_item=next_item)
    if item is None:
        answer.ok, answer.reason, answer.detail = False, "bad_schema", "next_item must be a string id"
    elif len(intents) > cfg["max_intents"]:
        answer.ok, answer.reason = False, "too_many_intents"
        answer.detail = f"{len(intents)} intents, at most {cfg['max_intents']}"
    elif not intents:
        answer.ok, answer.reason, answer.detail = False, "empty_intent", "no intent given"
    seen = set()
    for raw in intents if answer.ok else ():
        cleaned, bad = check_intent(raw, cfg)
        if bad:
            answer.ok, answer.reason, answer.detail = False, bad, f"intent {cleaned[:80]!r}"
            break
        key = intent_key(cleaned)
        if key in seen:
            continue
        seen.add(key)
        known = pool_index.get(key)  # same intent as a pool entry in another spelling -> that entry, not a new one
        answer.intents.append(known or cleaned)
        if known is None:
            answer.new_intents.append(cleaned)
    if answer.ok and next_item is None:
        answer.ok, answer.reason = False, "unknown_item"
        answer.detail = f"{str(raw_item)[:40]!r} is not a candidate id"
    if not answer.ok:
        answer.intents, answer.new_intents = [], []
    return answer


def validate_pool(text, messages, cfg):
    """P2 answer ``{"intents": [...]}`` -> (names, reason, dropped). Invalid or duplicate entries are dropped."""
    obj, reason = parse_json_object(text, messages)
    if reason:
        return [], reason, 0
    raw = obj.get("intents")
    if not isinstance(raw, list):
        return [], "bad_schema", 0
    names, seen, dropped = [], set(), 0
    for entry in raw:
        cleaned, bad = check_intent(entry, cfg) if isinstance(entry, str) else ("", "bad_schema")
        if bad or intent_key(cleaned) in seen:
            dropped += 1
            continue
        seen.add(intent_key(cleaned))
        names.append(cleaned)
    return names, (None if names else "empty_intent"), dropped


def validate_refine(text, messages, cfg):
    """P1 answer ``{"text": "..."}`` -> (one-line text, reason). Over-long text is cut, not rejected."""
    obj, reason = parse_json_object(text, messages)
    if reason:
        return "", reason
    value = obj.get("text")
    if not isinstance(value, str):
        return "", "bad_schema"
    cleaned = " ".join(value.split())[: cfg["max_refined_chars"]]
    return (cleaned, None) if cleaned else ("", "empty_text")
