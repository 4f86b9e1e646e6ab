"""``python -m recbole_intent.explain``: a session's inferred intents and recommendations from a trained model."""

import argparse
import json
import sys

from recbole_intent.explain.load import ExplainError, load_model
from recbole_intent.explain.session import explain_session, find_session, llm_intents


def add_model_arguments(parser):
    """Options shared with ``recbole_intent.plot intents``."""
    parser.add_argument("--model_file", required=True, help="a checkpoint written by recbole-intent (saved/*.pth)")
    parser.add_argument("--model", help="expected model name; an error if the checkpoint holds another")
    parser.add_argument("--dataset", help="expected dataset name; an error if the checkpoint was trained on another")
    parser.add_argument("--data_path", help="folder holding <dataset>/ when it moved since training")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--session_id", help="a session of any split (default: the first session of the last split)")
    group.add_argument("--items", help='raw item tokens, oldest first, e.g. "B000050B6U B000052WYD"')
    parser.add_argument("--intents", type=int, default=5, help="how many of the top intents to list")


def resolve_session(loaded, args):
    """(item tokens, target token or None, where it came from) for --items, --session_id or the default session."""
    if args.items is not None:
        return args.items.split(), None, {"id": None, "split": None}
    session_id = args.session_id
    if session_id is None:  # the first session of the last split: a held-out session with a known next item
        split = list(loaded.splits.values())[-1]
        uid = loaded.dataset.uid_field
        session_id = str(loaded.dataset.id2token(uid, int(split.inter_feat[uid][0])))
    split_name, tokens, target = find_session(loaded.dataset, loaded.splits, session_id)
    session = {"id": session_id, "split": split_name}
    labels = llm_intents(loaded.dataset, session_id)
    if labels:  # only training sessions have them; shown next to the model's own intents as in the papers
        session["llm_intents"] = labels
    return tokens, target, session


def explain_from_args(args):
    loaded = load_model(args.model_file, model=args.model, dataset=args.dataset, data_path=args.data_path)
    tokens, target, session = resolve_session(loaded, args)
    result = explain_session(loaded.model, loaded.dataset, tokens, topk=args.topk, n_intents=args.intents,
                             target=target)
    return loaded, {"model_file": loaded.model_file, "session": session, **result}


def _title(entry):
    return f"  {entry['title']}" if entry.get("title") else ""


def format_text(r):
    lines = [f"{r['model']} on '{r['dataset']}'  ({r['model_file']})", ""]
    s = r["session"]
    where = f"session {s['id']} ({s['split']} split; its longest prefix)" if s["id"] else "session given by --items"
    cut = "; truncated to the most recent items" if r["truncated"] else ""
    lines.append(f"{where}: {len(r['items'])} items, the model's input{cut}")
    lines += [f"  {k + 1:>3}. {it['id']}{_title(it)}" for k, it in enumerate(r["items"])]
    if "target" in r:
        t = r["target"]
        lines.append(f"  held-out next item: {t['id']}{_title(t)}  (rank {t['rank']} of {r['n_items']})")
    lines += ["", f"intents: y_Sc (Eq. 9), top {len(r['intents'])} of {r['n_intents']}; tau = {r['tau']:g}; "
                  f"fused (y_Sc > tau, Eq. 11): {r['n_fused']} of {r['n_intents']}"]
    for k, it in enumerate(r["intents"]):
        mark = "fused" if it["fused"] else "-"
        lines.append(f"  {k + 1:>3}. {it['score']:.4f}  {mark:<5}  [{it['id']}] {it['name']}")
    if s.get("llm_intents"):
        names = ", ".join(f"[{it['id']}] {it['name']}" for it in s["llm_intents"])
        lines.append(f"  the LLM's validated intents for this training session (its label): {names}")
    lines += ["", f"recommendations: top {r['topk']} of {r['n_items']} items (score = h~_S . e_i)"]
    for it in r["recommendations"]:
        seen = "  (in session)" if it["in_session"] else ""
        lines.append(f"  {it['rank']:>3}. {it['score']:8.4f}  {it['id']}{_title(it)}{seen}")
    return "\n".join(lines)


def parser():
    p = argparse.ArgumentParser(prog="python -m recbole_intent.explain", description=__doc__)
    add_model_arguments(p)
    p.add_argument("--topk", type=int, default=10, help="how many recommended items to list")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    if args.topk < 1:
        print("error: --topk must be at least 1", file=sys.stderr)
        return 2
    try:
        _, result = explain_from_args(args)
    except ExplainError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(result, ensure_ascii=False) if args.json else format_text(result))
    return 0
