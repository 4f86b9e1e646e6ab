"""--dry_run: print the prompts the run would send (the first few in full) and how many calls it would make.

Makes no call and writes nothing. Where a prompt depends on an answer not yet known (the refined item texts, the
pool from P2), the cached answer is used if there is one and a placeholder otherwise; a placeholder is marked.
Cache look-ups use the chat only, so for non-LLM backends (whose key also holds the payload) the counts are upper
bounds.
"""

import os

from recbole_intent.generate.common import prompts
from recbole_intent.generate.common.cache import ReplyCache
from recbole_intent.generate.common.llm_client import call_key
from recbole_intent.generate.common.validate import validate_pool, validate_refine

POOL_PLACEHOLDER = "<the pool that P2 will return>"


def dry_run(cfg, tasks, titles, out):
    cache = ReplyCache(cfg["cache_dir"]) if os.path.isdir(cfg["cache_dir"]) else None

    def cached(task, messages):
        return cache.get(call_key(cfg, task, messages)) if cache else None

    shown = 0
    limit = int(cfg["dry_run_show"])

    def show(title, messages):
        nonlocal shown
        if shown < limit:
            print(f"===== prompt {shown + 1}: {title} =====\n{prompts.render(messages)}\n", file=out)
            shown += 1

    items = sorted({i for t in tasks for i in t.context + t.candidates})
    texts = {i: titles.get(i, "") for i in items}
    refine_calls = 0
    if cfg["refine"]:
        for item in items:
            if not titles.get(item):
                continue
            messages = prompts.refine_messages(cfg, item, titles[item])
            hit = cached("refine", messages)
            if hit is None:
                refine_calls += 1
                show(f"P1 refine item {item}", messages)
            else:
                text, reason = validate_refine(hit["text"], messages, cfg)
                texts[item] = text if not reason else texts[item]
    pool_calls = 0
    pool_names = [POOL_PLACEHOLDER]
    if cfg.get("pool_file"):
        from recbole_intent.generate.pnc.gip import read_pool_file

        pool_names = read_pool_file(cfg["pool_file"], cfg)
    else:
        messages = prompts.pool_messages(cfg)
        hit = cached("pool", messages)
        if hit is None:
            pool_calls = 1
            show("P2 global intent pool", messages)
        else:
            pool_names = validate_pool(hit["text"], messages, cfg)[0] or pool_names
    for task in tasks:
        if shown >= limit:
            break
        messages = prompts.pnc_messages(cfg, pool_names, task.context, task.candidates, texts)
        show(f"P3 predict-and-correct, session {task.session_id}, try 1", messages)
    lo, hi = len(tasks), len(tasks) * int(cfg["max_tries"])
    summary = {
        "sessions_selected": len(tasks),
        "refine_calls": refine_calls,
        "pool_calls": pool_calls,
        "pnc_calls_min": lo,
        "pnc_calls_max": hi,
        "cached_answers": len(cache) if cache else 0,
    }
    print(
        f"dry run: {len(tasks)} sessions selected; would make {refine_calls} refine + {pool_calls} pool calls "
        f"+ {lo}..{hi} P&C calls (T={cfg['max_tries']}; P&C answers already cached are not counted out); "
        f"cache holds {summary['cached_answers']} answers. No call was made.",
        file=out,
    )
    return summary
