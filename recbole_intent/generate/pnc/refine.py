"""Item-level feature refinement (VELI4SBR §4.1.1, Eq. 3): x~_i = LLM(P1(x_i)), one cached call per item.

Only the items that some prompt will show are refined (the selected sessions' items and their candidates): x~_i
is used nowhere else, so refining the rest would only cost calls. An invalid answer or a transport failure keeps
the raw title for that item (counted in the report as a refine fallback); an item without a title is not sent.
"""

import logging

from recbole_intent.generate.common import prompts
from recbole_intent.generate.common.backends import TransportError
from recbole_intent.generate.common.progress import Progress
from recbole_intent.generate.common.validate import validate_refine

logger = logging.getLogger("recbole_intent.generate")


def _refine_one(cfg, client, stats, item, title):
    if not title:
        return title
    messages = prompts.refine_messages(cfg, item, title)
    try:
        reply = client.call("refine", {"item_id": item, "title": title, "domain": cfg["domain"]}, messages)
    except TransportError:
        stats.count("refine_fallback", "transport")
        return title
    text, reason = validate_refine(reply.text, messages, cfg)
    if reason:
        stats.count("refine_fallback", reason)
        return title
    return text


def refine_items(cfg, client, stats, items, titles, executor):
    """item -> text shown in the prompts (the refined text, or the title with --no_refine)."""
    items = sorted(set(items))
    if not cfg["refine"]:
        return {item: titles.get(item, "") for item in items}
    futures = [executor.submit(_refine_one, cfg, client, stats, item, titles.get(item, "")) for item in items]
    texts, progress = {}, Progress("P1 refinement", len(items), "items", every_s=30.0)
    for done, (item, future) in enumerate(zip(items, futures, strict=True), start=1):
        texts[item] = future.result()  # re-raises BudgetExhausted / FatalBackendError: the run stops
        progress.step(done)
    return texts
