"""Importing externally collected P&C answers (e.g. the real-LLM answers for beauty) as an intent set."""

import json
import os

from recbole_intent.data.intent_files import read_atomic
from recbole_intent.generate.pnc.import_answers import import_answers

HEADER = "session_id:token\titem_id_list:token_seq\titem_id:token\n"


def _write_split(folder, split, sessions):
    with open(os.path.join(folder, f"mini.{split}.inter"), "w") as f:
        f.write(HEADER)
        for sid, items in sessions.items():
            f.writelines(f"{sid}\t{' '.join(items[:k])}\t{items[k]}\n" for k in range(1, len(items)))


def _answer(reviewer, ts, seg, items, intents, accepted=True, negatives=()):
    return {"reviewerID": reviewer, "timestamp": ts, "segment": seg, "context": items[:-1], "heldout": items[-1],
            "candidates": [items[-1], *negatives], "tries": [], "intents": intents, "accepted": accepted,
            "hard_negatives": list(negatives)}


def test_import_matches_sessions_checks_items_and_grows_pool(tmp_path):
    folder = tmp_path / "mini"
    folder.mkdir()
    train = {"R1_100_0": ["a", "b", "c"], "R2_100_0": ["b", "c", "d"], "R3_200_1": ["a", "d", "e"]}
    _write_split(folder, "train", train)
    _write_split(folder, "valid", {"R4_300_0": ["c", "d", "x"]})
    _write_split(folder, "test", {"R5_400_0": ["a", "b", "e"]})
    pool = tmp_path / "pool.txt"
    pool.write_text("Anti-Aging\nfragrance free\n")
    answers = tmp_path / "answers.jsonl"
    rows = [
        _answer("R1", 100, 0, ["a", "b", "c"], ["anti aging", "Gift  Giving"], negatives=["d", "zz"]),
        _answer("R2", 100, 0, ["b", "c", "d"], [], accepted=False, negatives=["a", "a", "e"]),
        _answer("R3", 200, 1, ["a", "e", "d"], ["fragrance-free"]),  # items in another order: refused
        _answer("R4", 300, 0, ["c", "d", "x"], ["anti-aging"]),  # a validation session: refused
    ]
    answers.write_text("".join(json.dumps(r) + "\n" for r in rows))

    report = import_answers(str(tmp_path), "mini", str(answers), str(pool), "llm")

    assert report["matched"] == 2 and report["items_disagree"] == 1 and report["not_a_training_session"] == 1
    assert report["accepted"] == 1 and report["failed"] == 1
    assert report["pool_added"] == 1 and report["pool_size"] == 3
    assert report["hard_negatives_dropped"] == 1  # "zz" is not an item of the dataset
    out = folder / "llm"
    pool_rows = read_atomic(out / "mini.intent", {"intent_id": "token", "intent_name": "token_seq"})
    assert pool_rows["intent_id"] == ["0", "1", "2"] and pool_rows["intent_name"][2] == ["Gift", "Giving"]
    user = read_atomic(out / "mini.user", {"session_id": "token", "intent_ids": "token_seq",
                                           "hard_negatives": "token_seq"})
    assert user["session_id"] == ["R1_100_0", "R2_100_0"]
    assert user["intent_ids"] == [["0", "2"], []]  # case/punctuation map to the pool; failures have no intents
    assert user["hard_negatives"] == [["d"], ["a", "e"]]
    assert not [name for name in os.listdir(out) if name.startswith(".tmp-")]


def test_first_try_keeps_unvalidated_first_answers_without_hard_negatives(tmp_path):
    folder = tmp_path / "mini"
    folder.mkdir()
    _write_split(folder, "train", {"R1_100_0": ["a", "b", "c"], "R2_100_0": ["b", "c", "d"]})
    _write_split(folder, "valid", {})
    _write_split(folder, "test", {})
    pool = tmp_path / "pool.txt"
    pool.write_text("anti-aging\nfragrance free\n")
    wrong_then_right = dict(_answer("R1", 100, 0, ["a", "b", "c"], ["fragrance free"], negatives=["d"]),
                            tries=[{"intents": ["anti-aging"], "next_item": "d", "correct": False},
                                   {"intents": ["fragrance free"], "next_item": "c", "correct": True}])
    failed = dict(_answer("R2", 100, 0, ["b", "c", "d"], [], accepted=False, negatives=["a"]),
                  tries=[{"intents": ["night routine"], "next_item": "a", "correct": False}])
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps(r) + "\n" for r in (wrong_then_right, failed)))

    report = import_answers(str(tmp_path), "mini", str(answers), str(pool), "first", first_try=True)

    assert report["first_try"] and report["accepted"] == 2 and report["pool_added"] == 1
    user = read_atomic(folder / "first" / "mini.user", {"session_id": "token", "intent_ids": "token_seq",
                                                        "hard_negatives": "token_seq"})
    assert user["intent_ids"] == [["0"], ["2"]]  # the first try's intents, wrong prediction or not
    assert user["hard_negatives"] == [[], []]
