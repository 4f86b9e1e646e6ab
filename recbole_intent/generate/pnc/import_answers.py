"""Import P&C answers collected elsewhere (a JSONL of sessions, tries and accepted intents) as an intent set.

    python -m recbole_intent.generate.import_answers --dataset beauty \
        --answers ../shared/data/beauty2014/llm_pnc_intents.jsonl --pool ../shared/data/beauty2014/llm_gip.txt \
        --intent_set llm

Each answer line names its session by ``reviewerID``, ``timestamp`` and ``segment`` (our session id is
``{reviewerID}_{timestamp}_{segment}``, see dataset/beauty/README.md); it is kept only when that session is a
training session and its items agree with ours (``context`` + ``heldout`` == the session's items, in order).
Accepted intents are mapped to pool ids (case, spacing and punctuation insensitive); an accepted intent missing from
the pool file is appended to the pool, as the P&C loop adds validated new intents (VELI4SBR Eq. 5).
Writes ``<data_path>/<dataset>/<intent_set>/<dataset>.intent`` and ``.user`` (atomically) and an import report.

``--first_try`` builds the "no P&C loop" ablation (VELI4SBR Table 4, SPRINT Table 5 (B)) from the same answers: every
matched session keeps the intents of its FIRST try, whether that try predicted the held-out item or not, and no hard
negatives (they are a product of the loop's corrections).

``--sessions FILE`` keeps only the answers of the sessions listed in the first column of FILE (an atomic file with a
header, e.g. another intent set's ``<dataset>.user``): the set ``llm_sel`` takes the real answers of the sessions our
uncertainty selection chose for the default set (SPRINT's setting with real answers).
"""

import argparse
import json
import os
import re

from recbole_intent.data.intent_files import read_atomic
from recbole_intent.generate.common.data import write_atomic_table


def normalise(name):
    return re.sub(r"[^a-z0-9]+", " ", name.lower()).strip()


def training_sessions(folder, dataset):
    """session id -> full item list, from the longest prefix row of each training session."""
    rows = read_atomic(os.path.join(folder, f"{dataset}.train.inter"),
                       {"session_id": "token", "item_id_list": "token_seq", "item_id": "token"})
    sessions = {}
    for sid, prefix, target in zip(rows["session_id"], rows["item_id_list"], rows["item_id"], strict=True):
        if len(prefix) + 1 > len(sessions.get(sid, ())):
            sessions[sid] = [*prefix, target]
    return sessions


def import_answers(data_path, dataset, answers_path, pool_path, intent_set, first_try=False, sessions_path=None):
    folder = os.path.join(data_path, dataset)
    sessions = training_sessions(folder, dataset)
    chosen = None
    if sessions_path:
        with open(sessions_path, encoding="utf-8") as f:
            chosen = {line.split("\t", 1)[0].strip() for line in list(f)[1:] if line.strip()}
    all_items = {item for items in sessions.values() for item in items}
    for split in ("valid", "test"):
        rows = read_atomic(os.path.join(folder, f"{dataset}.{split}.inter"), {"item_id_list": "token_seq",
                                                                               "item_id": "token"})
        all_items.update(rows["item_id"])
        all_items.update(item for seq in rows["item_id_list"] for item in seq)
    with open(pool_path, encoding="utf-8") as f:
        pool = [" ".join(line.split()) for line in f if line.strip()]
    pool_index = {normalise(name): i for i, name in enumerate(pool)}
    report = {"answers": 0, "matched": 0, "not_a_training_session": 0, "items_disagree": 0, "accepted": 0,
              "failed": 0, "hard_negatives": 0, "hard_negatives_dropped": 0, "pool_file": len(pool), "pool_added": 0,
              "not_listed": 0}
    user_rows = []
    with open(answers_path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            answer = json.loads(line)
            report["answers"] += 1
            sid = f"{answer['reviewerID']}_{answer['timestamp']}_{answer['segment']}"
            if chosen is not None and sid not in chosen:
                report["not_listed"] += 1
                continue
            if sid not in sessions:
                report["not_a_training_session"] += 1
                continue
            if [*answer["context"], answer["heldout"]] != sessions[sid]:
                report["items_disagree"] += 1
                continue
            report["matched"] += 1
            ids = []
            if first_try:  # unvalidated: the first answer, right or wrong
                answer = dict(answer, intents=answer["tries"][0]["intents"] if answer["tries"] else [],
                              accepted=bool(answer["tries"]), hard_negatives=[])
            for name in answer["intents"] if answer["accepted"] else []:
                key = normalise(name)
                if key not in pool_index:  # a validated new intent joins the pool (Eq. 5)
                    pool_index[key] = len(pool)
                    pool.append(" ".join(name.split()))
                    report["pool_added"] += 1
                if str(pool_index[key]) not in ids:
                    ids.append(str(pool_index[key]))
            report["accepted" if answer["accepted"] else "failed"] += 1
            negatives = [item for item in dict.fromkeys(answer["hard_negatives"]) if item in all_items]
            report["hard_negatives"] += len(negatives)
            report["hard_negatives_dropped"] += len(set(answer["hard_negatives"])) - len(negatives)
            user_rows.append((sid, " ".join(ids), " ".join(negatives)))
    out = os.path.join(folder, intent_set) if intent_set else folder
    write_atomic_table(os.path.join(out, f"{dataset}.intent"), ["intent_id:token", "intent_name:token_seq"],
                       [(str(i), name) for i, name in enumerate(pool)])
    write_atomic_table(os.path.join(out, f"{dataset}.user"),
                       ["session_id:token", "intent_ids:token_seq", "hard_negatives:token_seq"], sorted(user_rows))
    report["pool_size"] = len(pool)
    report["sources"] = {"answers": os.path.basename(answers_path), "pool": os.path.basename(pool_path)}
    report["first_try"] = first_try
    if chosen is not None:
        report["sources"]["sessions"] = os.path.basename(sessions_path)
        report["listed_without_answer"] = len(chosen) - report["matched"] - report["items_disagree"] \
            - report["not_a_training_session"]
    with open(os.path.join(out, f"{dataset}.import_report.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    return report


def main(argv=None):  # the entry point is generate/import_answers.py
    parser = argparse.ArgumentParser(prog="python -m recbole_intent.generate.import_answers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="beauty")
    parser.add_argument("--data_path", default="dataset")
    parser.add_argument("--answers", required=True, help="JSONL of P&C answers")
    parser.add_argument("--pool", required=True, help="the Global Intent Pool, one intent a line")
    parser.add_argument("--intent_set", default="llm", help="subfolder of the dataset to write into ('' = the dataset)")
    parser.add_argument("--first_try", action="store_true", help="the no-P&C ablation: first-try intents, unvalidated")
    parser.add_argument("--sessions", default=None, help="keep only the sessions in this file's first column")
    args = parser.parse_args(argv)
    report = import_answers(args.data_path, args.dataset, args.answers, args.pool, args.intent_set, args.first_try,
                            args.sessions)
    print(json.dumps(report, indent=2))
    return 0
