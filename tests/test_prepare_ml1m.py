"""dataset/ml1m/prepare_ml1m.py on a tiny GroupLens-format ratings file written here (never the real ML-1M).

The expected sessions, splits and rows below are worked out by hand from RATINGS (see the comments there).
"""

import gzip
import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "dataset" / "ml1m" / "prepare_ml1m.py"
spec = importlib.util.spec_from_file_location("prepare_ml1m", SCRIPT)
prepare_ml1m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(prepare_ml1m)

# (user, item, timestamp); sessions are (user, floor(ts / 600) * 600).
RATINGS = [
    (1, 3, 20), (1, 1, 10), (1, 2, 20),  # 1_0: time order, tie at 20 kept in file order -> [1, 3, 2], end 20
    (2, 1, 1190), (2, 3, 1195), (2, 2, 1210),  # 20 s apart but across a clock boundary: 2_600 [1, 3]; 2_1200 [2] short
    (3, 9, 3000), (3, 1, 3001),  # 3_3000 holds item 9, rated once: dropped
    (12, 4, 100), (12, 4, 700), (12, 4, 1300), (12, 4, 1900),  # four length-1 sessions: dropped, but item 4 counts 4
    (4, 1, 6000), (4, 2, 6001), (5, 2, 6600), (5, 3, 6601), (6, 3, 7200), (6, 1, 7201),
    (7, 1, 7800), (7, 2, 7801), (8, 2, 8400), (8, 3, 8401), (9, 3, 9000), (9, 1, 9001),
    (13, 1, 9300), (13, 2, 9301),  # 9 training sessions in all (ends 20 .. 9301 <= p80 = 9541.8)
    (10, 1, 9600), (10, 2, 9601), (10, 3, 9602),  # valid (p80 < 9602 <= p90 = 10142)
    (11, 4, 10200), (11, 1, 10201), (11, 2, 10202),  # test; item 4 (6 ratings) never in train: -> [1, 2]
    (14, 4, 10800), (14, 3, 10801),  # test; without item 4 only [3] is left: dropped
]
MOVIES = ["1::Misérables, Les (1995)::Drama|Musical", "2::Heat (1995)::Action|Crime|Thriller",
          "3::Sabrina (1995)::Comedy|Romance", "4::Balto (1995)::Animation|Children's", "9::Nixon (1995)::Drama"]
TRAIN_KEYS = ["1_0", "2_600", "4_6000", "5_6600", "6_7200", "7_7800", "8_8400", "9_9000", "13_9000"]


def write_raw(folder, gz=False, ratings=None):
    folder.mkdir(parents=True, exist_ok=True)
    ratings_text = "".join(f"{u}::{i}::4::{t}\n" for u, i, t in RATINGS) if ratings is None else ratings
    files = {"ratings_complete_users.dat.gz" if gz else "ratings.dat": ratings_text.encode("latin-1"),
             "movies.dat.gz" if gz else "movies.dat": ("\n".join(MOVIES) + "\n").encode("latin-1")}
    for name, data in files.items():
        (folder / name).write_bytes(gzip.compress(data) if gz else data)
    return folder


def read_rows(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "session_id:token\titem_id_list:token_seq\titem_id:token"
    return [tuple(line.split("\t")) for line in lines[1:]]


def run(tmp_path, *extra, gz=False):
    raw, out = write_raw(tmp_path / "raw", gz=gz), tmp_path / "out"
    stats = prepare_ml1m.main(["--raw_dir", str(raw), "--out_dir", str(out), *extra])
    return stats, out


def test_sessions_splits_and_last_item_rows(tmp_path):
    stats, out = run(tmp_path)
    train = read_rows(out / "ml1m.train.inter")
    assert [row[0] for row in train] == TRAIN_KEYS
    assert train[0] == ("1_0", "1 3", "2") and train[1] == ("2_600", "1", "3")
    assert read_rows(out / "ml1m.valid.inter") == [("10_9600", "1 2", "3")]
    assert read_rows(out / "ml1m.test.inter") == [("11_10200", "1", "2")]
    assert stats["sessions_all"] == 18 and stats["sessions_after_llm4sbr_filter"] == 12
    assert stats["sessions_before_unseen_filter"] == {"train": 9, "valid": 1, "test": 2}
    assert stats["removed_by_unseen_filter"]["test"] == {"ratings": 2, "sessions": 1}
    assert stats["split_end_time_thresholds"] == {"p80": pytest.approx(9541.8), "p90": pytest.approx(10142.0)}
    total = stats["ours"]["total"]
    assert (total["sessions"], total["clicks"], total["items"], total["rows"]) == (11, 24, 3, 11)
    assert total["avg_input_len"] == pytest.approx(24 / 11 - 1, abs=1e-4)
    assert stats["name"] == "ML-1M, 14-user subset"


def test_every_prefix_rows(tmp_path):
    stats, out = run(tmp_path, "--rows", "prefix")
    train = read_rows(out / "ml1m.train.inter")
    assert train[:3] == [("1_0", "1", "3"), ("1_0", "1 3", "2"), ("2_600", "1", "3")]
    assert read_rows(out / "ml1m.valid.inter") == [("10_9600", "1", "2"), ("10_9600", "1 2", "3")]
    assert stats["ours"]["train"]["rows"] == 10  # clicks 19 - 9 sessions


def test_item_text_is_latin1_title_year_and_genres(tmp_path):
    _, out = run(tmp_path)
    lines = (out / "ml1m.item").read_text(encoding="utf-8").splitlines()
    assert lines == ["item_id:token\ttitle:token_seq", "1\tMisérables, Les (1995) -- Drama|Musical",
                     "2\tHeat (1995) -- Action|Crime|Thriller", "3\tSabrina (1995) -- Comedy|Romance"]


def test_gzipped_copies_give_the_same_files(tmp_path):
    _, plain = run(tmp_path / "a")
    _, zipped = run(tmp_path / "b", gz=True)
    for name in ("ml1m.train.inter", "ml1m.valid.inter", "ml1m.test.inter", "ml1m.item"):
        assert (plain / name).read_bytes() == (zipped / name).read_bytes()
    assert json.loads((zipped / "stats.json").read_text())["source"]["ratings"] == "ratings_complete_users.dat.gz"


def test_bad_input_names_the_file_and_line(tmp_path):
    raw = write_raw(tmp_path / "raw", ratings="1::1::4::10\n1::2::x::11\n")
    with pytest.raises(SystemExit, match=r"ratings\.dat:2: expected UserID::MovieID::Rating::Timestamp"):
        prepare_ml1m.main(["--raw_dir", str(raw), "--out_dir", str(tmp_path / "out")])
    (raw / "ratings.dat").unlink()
    with pytest.raises(SystemExit, match=r"needs ratings\.dat or exactly one ratings\*\.dat\.gz \(found: none\)"):
        prepare_ml1m.main(["--raw_dir", str(raw), "--out_dir", str(tmp_path / "out")])
