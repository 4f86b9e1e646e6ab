"""Offline (sentence-embedding) backend for the Stage-1 generator: deterministic, no network, and NOT an LLM.

It answers the same three tasks as an LLM backend (``complete(task, payload, messages) -> Reply``), ignoring
``messages`` (the rendered prompt), so the whole P&C pipeline can run and be tested without an API. Every answer
comes from all-MiniLM-L6-v2 title embeddings (``text_embed.TextEncoder``) and fixed rules; token counts are 0.

``refine`` (P1)
    Returns the title cleaned (HTML entities decoded, whitespace collapsed) and otherwise unchanged: there is no
    model to rewrite item features offline.
``pool`` (P2, Global Intent Pool init)
    Mines intent phrases from the item titles instead of asking an LLM about the domain:
    1. each title is lower-cased and cut into segments at punctuation; inside a segment, tokens that are stopwords,
       size/unit words (oz, ml, count, ...), single letters, contain a digit, or are brand-ish break the phrase;
    2. brand-ish tokens are learned from the titles: a token whose occurrences are mostly (>= 60%) at the start of
       a title, or right after such a brand prefix (Amazon titles lead with the brand: "Maybelline New York ...");
    3. candidates are the 1-3-grams of the remaining runs with document frequency >= 2; a phrase is dropped when a
       one-word-longer phrase containing it covers >= 60% of its titles (it is mostly a fragment of that phrase), or
       when >= 80% of its titles share one brand (a product line, not an intent);
    4. score = min(df, cap) * (1 + 0.75 * (words - 1)), cap = 2% of the titles: the cap keeps a few very generic
       words from outranking everything, the bonus favours specific phrases ("eye shadow" over "eye");
    5. walking down the ranking, a phrase is merged into an earlier one when their cosine similarity is > 0.85
       (e.g. "moisturizer" / "moisturizing") or they differ only by a plural "s" or a hyphen ("nails", "anti-aging");
       the first ``n`` survivors form the pool. Ties break alphabetically, so the pool is deterministic.
``pnc`` (P3, predict-and-correct)
    session vector s = mean of its title embeddings (re-normalised); the pool entries are ranked by cosine to s and
    the intents are the top ones (up to 3) above a threshold, at least 1. The predicted item is the candidate with
    the highest cosine to s + mean(chosen intent vectors). The verbal feedback of failed ``tries`` is honoured by
    (a) never predicting an item that was already predicted wrongly and (b) refining the intents: for each failed
    try, its intent most aligned with the wrongly predicted item is dropped and the next best pool entry moves up.
    It never invents intents outside the given pool (an LLM may; this backend cannot name new concepts).
"""

from __future__ import annotations

import html
import json
import logging
import math
import re
from collections import Counter, defaultdict

import numpy as np

from recbole_intent.generate.common.text_embed import TextEncoder

try:
    from recbole_intent.generate.common.backends import Reply
except ImportError:  # backends.py not there yet (or mid-import, if it imports us): same shape, duck-type compatible
    from typing import NamedTuple

    class Reply(NamedTuple):
        text: str
        prompt_tokens: int
        completion_tokens: int


logger = logging.getLogger(__name__)

BACKEND_NAME = "offline (sentence-embedding) backend"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOPWORDS = _words(
    "a about after all also an and any are as at be been but by can do does each for from has have in into is it its "
    "more most new no not of off on one only or our out over per so than that the their these this those through to "
    "too two up use very was we what when which while with without you your"
)
# Size, unit and listing words: they describe the package, never why someone buys it.
_UNITS = _words(
    "oz ounce ounces fl fluid ml millilitre milliliter liter litre gram grams mg kg lb lbs pound pounds inch inches "
    "cm mm count ct pack packs pcs pc piece pieces pair pairs size sizes qty quantity value bonus sale best "
    "guarantee money tm each total x"
)
# Colours, packaging and marketing words: fine inside a phrase ("dry skin", "paraben free", "brush set") but too vague
# to be an intent on their own, so they never form a one-word candidate.
_WEAK_ALONE = _words(
    "black white pink red blue green purple brown gold silver clear nude grey gray orange yellow beige light dark deep "
    "pure natural professional pro premium original classic ultra super extra daily dry free top plus soft fresh "
    "set kit case bottle collection system tools tips image women men woman man girls formula style series line "
    "travel mini large small long soak false back liquid cosmetic cosmetics tool color colors studio"
)
_SEGMENT_SPLIT = re.compile(r"[,;:/()\[\]{}|+&!?*\"]|\s[-\u2013\u2014]\s")
_TOKEN = re.compile(r"[a-z0-9]+(?:['\-][a-z0-9]+)*")


def clean_title(title: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(str(title))).strip()


def _lexical_key(phrase: str) -> str:
    """Spelling variants that must count as one intent: "nails"/"nail", "anti-aging"/"anti aging"."""
    words = re.sub(r"[\W_]+", " ", phrase).split()  # punctuation-blind, like validate.intent_key
    return " ".join(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words)


def _cfg(config, key: str, default):
    """Read ``key`` from a dict or a RecBole Config (whose ``[]`` gives None when missing)."""
    try:
        value = config[key] if config is not None else None
    except KeyError:
        value = None
    return default if value is None else value


def _brand_tokens(title_tokens: list[list[str]], df: Counter, lead_frac: float = 0.6, depth: int = 3) -> set[str]:
    """Tokens that mostly sit in the leading brand prefix of a title (brand names, brand-line words)."""
    brand: set[str] = set()
    for level in range(depth):  # level k: the token right after a brand prefix of exactly k tokens
        lead = Counter()
        for toks in title_tokens:
            k = 0
            while k < len(toks) and toks[k] in brand:
                k += 1
            if k == level and k < len(toks):
                lead[toks[k]] += 1
        brand |= {w for w, c in lead.items() if df[w] >= 2 and c / df[w] >= lead_frac}
    return brand


def mine_phrases(titles: list[str], min_df: int = 2, cap_frac: float = 0.02) -> list[tuple[str, float]]:
    """Steps 1-4 of the pool method: ranked ``(phrase, score)`` candidates, best first, before embedding dedup."""
    lowered = [clean_title(t).lower() for t in titles]
    title_tokens = [_TOKEN.findall(t) for t in lowered]
    tok_df = Counter(w for toks in title_tokens for w in set(toks))
    brand = _brand_tokens(title_tokens, tok_df)

    def informative(tok: str) -> bool:
        return (
            len(tok) > 1
            and tok not in _STOPWORDS
            and tok not in _UNITS
            and tok not in brand
            and not any(ch.isdigit() for ch in tok)
        )

    df: Counter = Counter()
    brands_of: dict[str, Counter] = defaultdict(Counter)
    for text, toks in zip(lowered, title_tokens, strict=True):
        key = toks[0] if toks and toks[0] in brand else None
        grams: set[str] = set()
        for segment in _SEGMENT_SPLIT.split(text):
            run: list[str] = []
            for tok in _TOKEN.findall(segment) + [""]:  # "" flushes the last run
                if tok and informative(tok):
                    run.append(tok)
                    continue
                for n in (1, 2, 3):
                    grams.update(" ".join(run[i : i + n]) for i in range(len(run) - n + 1))
                run = []
        df.update(grams)
        for g in grams:
            brands_of[g][key] += 1

    # A phrase needs one word that is not vague on its own: drops "set kit" but keeps "dry skin".
    cands = {g: c for g, c in df.items() if c >= min_df and not all(w in _WEAK_ALONE for w in g.split())}
    longest_super: Counter = Counter()  # df of the most frequent one-word-longer phrase containing g
    for g, c in cands.items():
        words = g.split()
        for sub in (" ".join(words[:-1]), " ".join(words[1:])) if len(words) > 1 else ():
            longest_super[sub] = max(longest_super[sub], c)
    cap = max(min_df, math.ceil(cap_frac * len(titles)))
    ranked = []
    for g, c in cands.items():
        top_brand = max((v for k, v in brands_of[g].items() if k is not None), default=0)
        if longest_super[g] >= 0.6 * c or top_brand >= 0.8 * c:
            continue
        ranked.append((g, min(c, cap) * (1 + 0.75 * (len(g.split()) - 1)), c))
    ranked.sort(key=lambda r: (-r[1], -r[2], r[0]))
    return [(g, s) for g, s, _ in ranked]


class OfflineBackend:
    """Deterministic stand-in for the LLM backend; see the module docstring for the exact method."""

    name = "offline"
    description = BACKEND_NAME

    def __init__(self, config: dict | None = None, encoder: TextEncoder | None = None):
        self.encoder = encoder or TextEncoder(device=str(_cfg(config, "offline_device", "cpu")))
        # 3 by default, never above the generator's validation limit ``max_intents``.
        self.max_intents = min(int(_cfg(config, "offline_max_intents", 3)), int(_cfg(config, "max_intents", 3)))
        self.intent_threshold = float(_cfg(config, "offline_intent_threshold", 0.3))
        self.dedup_cos = float(_cfg(config, "offline_dedup_cos", 0.85))
        self.min_df = int(_cfg(config, "offline_min_df", 2))
        self.cap_frac = float(_cfg(config, "offline_df_cap_frac", 0.02))
        logger.info("using the %s (all-MiniLM-L6-v2, no LLM, no network)", BACKEND_NAME)

    def warm(self, texts: list[str]) -> None:
        """Encode many titles in one batched pass so later per-session calls only hit the cache."""
        self.encoder.encode([clean_title(t) for t in texts])

    def complete(self, task: str, payload: dict, messages: list[dict] | None = None) -> Reply:
        if task == "refine":
            answer = {"text": clean_title(payload.get("title", ""))}
        elif task == "pool":
            titles, n = payload.get("titles", []), int(payload.get("n", 64))
            self.warm(titles)  # the P&C calls that follow then only read cached title vectors
            answer = {"intents": self.build_pool(titles, n, domain=str(payload.get("domain", "")))}
        elif task == "pnc":
            answer = self.predict(payload)
        else:
            raise ValueError(f"{BACKEND_NAME}: unknown task {task!r}")
        return Reply(text=json.dumps(answer, ensure_ascii=False), prompt_tokens=0, completion_tokens=0)

    def build_pool(self, titles: list[str], n: int = 64, domain: str = "") -> list[str]:
        # The domain's own name ("beauty") says nothing about why a session differs from another one.
        domain_key = _lexical_key(domain.lower().strip())
        ranked = [g for g, _ in mine_phrases(titles, self.min_df, self.cap_frac) if _lexical_key(g) != domain_key]
        ranked = ranked[: max(4 * n, 200)]  # bound the embedding work; the tail never makes the top n anyway
        if not ranked or n <= 0:
            return []
        emb = self.encoder.encode(ranked)
        kept: list[int] = []
        keys: set[str] = set()
        for i, phrase in enumerate(ranked):
            key = _lexical_key(phrase)
            if key in keys or (kept and float(np.max(emb[kept] @ emb[i])) > self.dedup_cos):
                continue
            kept.append(i)
            keys.add(key)
            if len(kept) == n:
                break
        return [ranked[i] for i in kept]

    def _choose_intents(self, pool: list[str], sims: np.ndarray, banned: set[str]) -> list[str]:
        order = sorted(range(len(pool)), key=lambda i: (-float(sims[i]), pool[i]))
        open_ = [i for i in order if pool[i] not in banned] or order  # all banned: fall back to the plain ranking
        chosen = [i for i in open_[: self.max_intents] if sims[i] >= self.intent_threshold] or open_[:1]
        return [pool[i] for i in chosen]

    def predict(self, payload: dict) -> dict:
        session = [clean_title(it.get("title", "")) for it in payload.get("session", [])]
        cands = [(str(c["id"]), clean_title(c.get("title", ""))) for c in payload.get("candidates", [])]
        pool = list(dict.fromkeys(str(p) for p in payload.get("pool", [])))  # dedupe, keep order
        if not cands:
            raise ValueError(f"{BACKEND_NAME}: pnc payload has no candidates")
        cand_ids = [cid for cid, _ in cands]
        self.encoder.encode(session + [t for _, t in cands] + pool)  # one batch for everything not cached yet
        s = self.encoder.encode(session).mean(axis=0) if session else np.zeros(self.encoder.dim, np.float32)
        s = s / max(float(np.linalg.norm(s)), 1e-12)
        cand_emb = self.encoder.encode([t for _, t in cands])

        intents: list[str] = []
        wrong: set[str] = set()
        banned: set[str] = set()
        pool_idx = {p: i for i, p in enumerate(pool)}
        pool_emb = self.encoder.encode(pool) if pool else None
        for t in payload.get("tries", []):
            if t.get("correct"):
                continue
            item = str(t.get("next_item"))
            wrong.add(item)
            used = [p for p in t.get("intents") or [] if p in pool_idx and p not in banned]
            if used and item in cand_ids:  # drop the intent that pulled the query towards the wrong item
                w = cand_emb[cand_ids.index(item)]
                banned.add(max(used, key=lambda p: (float(pool_emb[pool_idx[p]] @ w), p)))
        if pool:
            intents = self._choose_intents(pool, pool_emb @ s, banned)
            q_int = pool_emb[[pool_idx[p] for p in intents]].mean(axis=0)
            q = s + q_int / max(float(np.linalg.norm(q_int)), 1e-12)
        else:
            q = s
        scores = cand_emb @ q
        order = sorted(range(len(cands)), key=lambda i: (-float(scores[i]), cand_ids[i]))
        open_ = [i for i in order if cand_ids[i] not in wrong] or order  # every candidate failed: least bad again
        return {"intents": intents, "next_item": cand_ids[open_[0]]}
