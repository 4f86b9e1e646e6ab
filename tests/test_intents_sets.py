"""Issue 13: the intent set ``llm_sel`` takes the real answers of only the sessions another set lists
(``import_answers --sessions FILE``), e.g. those our uncertainty selection chose."""

import json

from test_import_answers import _answer, _write_split

from recbole_intent.data.intent_files import read_atomic
from recbole_intent.generate.pnc.import_answers import import_answers


def test_sessions_file_keeps_only_the_listed_sessions_answers(tmp_path):
    folder = tmp_path / "mini"
    folder.mkdir()
    splits = {"train": {"R1_100_0": ["a", "b", "c"], "R2_100_0": ["b", "c", "d"], "R3_200_1": ["a", "d", "e"]},
              "valid": {"R4_300_0": ["c", "d", "x"]}, "test": {}}
    for split, sessions in splits.items():
        _write_split(folder, split, sessions)
    (tmp_path / "pool.txt").write_text("anti-aging\nfragrance free\n")
    rows = [_answer("R1", 100, 0, ["a", "b", "c"], ["anti-aging"]),
            _answer("R2", 100, 0, ["b", "c", "d"], ["fragrance free"]),
            _answer("R3", 200, 1, ["a", "d", "e"], [], accepted=False)]
    (tmp_path / "answers.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    listed = tmp_path / "chosen.user"  # another set's .user file: header, session id first
    listed.write_text("session_id:token\tintent_ids:token_seq\thard_negatives:token_seq\n"
                      "R3_200_1\t1\t\nR1_100_0\t\t\n")

    report = import_answers(str(tmp_path), "mini", str(tmp_path / "answers.jsonl"), str(tmp_path / "pool.txt"),
                            "sel", sessions_path=str(listed))

    assert report["matched"] == 2 and report["not_listed"] == 1 and report["listed_without_answer"] == 0
    assert report["accepted"] == 1 and report["failed"] == 1 and report["sources"]["sessions"] == "chosen.user"
    user = read_atomic(folder / "sel" / "mini.user", {"session_id": "token", "intent_ids": "token_seq",
                                                       "hard_negatives": "token_seq"})
    assert user["session_id"] == ["R1_100_0", "R3_200_1"]
    assert user["intent_ids"] == [["0"], []]  # the answers' own intents, not the listing file's
