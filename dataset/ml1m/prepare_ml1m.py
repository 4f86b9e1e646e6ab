"""Build the session-based MovieLens-1M dataset (``ml1m``) as RecBole atomic files.

Sessions as LLM4SBR's published preprocessing builds them (tsinghua-fib-lab/LLM4SBR, Data/ml-1m/Handle_Data_Prompt.py;
the paper's Table 2): a session is one user's ratings inside one 10-minute clock bucket (``floor(ts / 600)``, pandas'
``floor('10T')``), in time order (ties in file order); a session is dropped if it is shorter than 2 or holds an item
rated fewer than 5 times, counted over every rating of the file given (on a user subset, over that subset).
Then our protocol: sessions split 8:1:1 by their end time (the time of their last rating: <= 80th percentile, <= 90th
percentile, rest), and the conventional SBR filter (SR-GNN's preprocess.py): items never seen in the training split
are removed from validation and test sessions, then sessions left shorter than 2 are dropped.

Rows: one per session (``--rows last``, the default), items[:-1] -> items[-1], as both released codes build their
training and test rows (LLM4SBR ``process_sequences``; LLM-DMsRec ``construct_train_val_text``; LLM4SBR §5.6: "this
dataset does not use the data enhancement method of sequence segmentation"). ``--rows prefix`` writes every prefix,
as our beauty files do (about 17 times more rows).

Item text (``ml1m.item``, ``title:token_seq``): the latin-1 title with its year, then the genres, in LLM4SBR's
``"{movie_name} -- {genres}"`` (Data/ml-1m/Handle_Data_Prompt.py, ``load_movie_names``).

Works unchanged on the GroupLens download (``ratings.dat``, ``movies.dat``) and on gzipped copies
(``ratings*.dat.gz``, ``movies.dat.gz``). Writes ml1m.{train,valid,test}.inter, ml1m.item and stats.json.
Usage: python dataset/ml1m/prepare_ml1m.py --raw_dir DIR [--out_dir DIR] [--rows last|prefix]
"""

import argparse
import gzip
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

BUCKET_SECONDS, MIN_LENGTH, ITEM_MIN_COUNT = 600, 2, 5
SPLITS = ("train", "valid", "test")
INTER_HEADER = "session_id:token\titem_id_list:token_seq\titem_id:token"
ITEM_HEADER = "item_id:token\ttitle:token_seq"
# LLM4SBR Table 2 and LLM-DMsRec Table 1, ML-1M (all 6,040 users): train / test sessions, clicks, items, Avg.len.
# LLM4SBR's Avg.len is the mean input length (session length - 1: 987,610 / 53,121 - 1 = 17.59); LLM-DMsRec's is the
# mean session length, and its "clicks" are all ratings of items rated >= 5 times (its notebook's output).
PAPER_STATS = {
    "LLM4SBR Table 2": {"train": 47808, "test": 5313, "clicks": 987610, "items": 3416, "avg_len": 17.59},
    "LLM-DMsRec Table 1": {"train": 69906, "test": 7768, "clicks": 999611, "items": 3416, "avg_len": 12.79},
}


def parse_args(argv=None):
    """Command line: where the GroupLens files are, where the atomic files go, which rows."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw_dir", type=Path, required=True,
                        help="folder with ratings.dat (or ratings*.dat.gz) and movies.dat (or movies.dat.gz)")
    parser.add_argument("--out_dir", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--rows", choices=("last", "prefix"), default="last",
                        help="one row per session (last item is the target; the papers) or one per prefix")
    return parser.parse_args(argv)


def find_raw_file(raw_dir, name):
    """``name``.dat, else the single ``name``*.dat.gz in raw_dir; exits with one message when absent or ambiguous."""
    plain = raw_dir / f"{name}.dat"
    if plain.is_file():
        return plain
    zipped = sorted(raw_dir.glob(f"{name}*.dat.gz"))
    if len(zipped) == 1:
        return zipped[0]
    found = ", ".join(path.name for path in zipped) or "none"
    sys.exit(f"error: {raw_dir} needs {name}.dat or exactly one {name}*.dat.gz (found: {found})")


def read_lines(path):
    """The decoded lines of a (possibly gzipped) latin-1 GroupLens file; latin-1 decodes every byte."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        return handle.read().decode("latin-1").splitlines()


def read_ratings(path):
    """[(user, item, timestamp)] in file order from ``UserID::MovieID::Rating::Timestamp`` lines."""
    ratings = []
    for number, line in enumerate(read_lines(path), start=1):
        fields = line.split("::")
        if len(fields) != 4 or not all(field.strip().isdigit() for field in fields):
            sys.exit(f"error: {path}:{number}: expected UserID::MovieID::Rating::Timestamp, got {line[:80]!r}")
        ratings.append((fields[0], fields[1], int(fields[3])))
    return ratings


def read_titles(path):
    """{MovieID: "Title (Year) -- Genre|Genre"} from ``MovieID::Title::Genres`` lines (LLM4SBR's item text)."""
    titles = {}
    for number, line in enumerate(read_lines(path), start=1):
        fields = line.split("::")
        if len(fields) != 3:
            sys.exit(f"error: {path}:{number}: expected MovieID::Title::Genres, got {line[:80]!r}")
        titles[fields[0]] = " ".join(f"{fields[1]} -- {fields[2]}".split())
    return titles


def build_sessions(ratings):
    """LLM4SBR's sessions: ratings grouped by (user, 10-minute clock bucket), each in time order (stable on file order).

    Returns ({(user, bucket_start): [item, ...]}, {key: end time}), buckets as epoch seconds (UTC).
    """
    grouped = {}
    for line, (user, item, ts) in enumerate(ratings):
        grouped.setdefault((user, ts - ts % BUCKET_SECONDS), []).append((ts, line, item))
    sessions = {key: [item for _, _, item in sorted(events)] for key, events in grouped.items()}
    ends = {key: max(ts for ts, _, _ in events) for key, events in grouped.items()}
    return sessions, ends


def filter_sessions(sessions, item_counts):
    """LLM4SBR's ``filter_sessions``: keep sessions of length >= 2 whose every item has >= 5 ratings."""
    return {key: items for key, items in sessions.items()
            if len(items) >= MIN_LENGTH and all(item_counts[item] >= ITEM_MIN_COUNT for item in items)}


def session_id(key):
    """Readable unique token: user_bucketStart (epoch seconds of the 10-minute bucket)."""
    return f"{key[0]}_{key[1]}"


def split_by_end_time(sessions, ends):
    """Train / valid / test = end time <= p80, <= p90, later (``numpy.percentile``); ties go to the earlier split.

    Returns ({split: [keys sorted by end time, then session id]}, (p80, p90)).
    """
    keys = sorted(sessions, key=lambda key: (ends[key], session_id(key)))
    p80, p90 = np.percentile([ends[key] for key in keys], [80, 90])
    splits = {
        "train": [key for key in keys if ends[key] <= p80],
        "valid": [key for key in keys if p80 < ends[key] <= p90],
        "test": [key for key in keys if ends[key] > p90],
    }
    return splits, (float(p80), float(p90))


def drop_unseen_in_train(sessions, splits):
    """The conventional filter: remove valid/test items absent from the training split, then drop the sessions left
    shorter than 2. Returns the new (sessions, splits, removed counts); train sessions are unchanged."""
    train_items = {item for key in splits["train"] for item in sessions[key]}
    kept, new_splits = {key: sessions[key] for key in splits["train"]}, {"train": list(splits["train"])}
    removed = {}
    for name in ("valid", "test"):
        new_splits[name], n_items = [], 0
        for key in splits[name]:
            items = [item for item in sessions[key] if item in train_items]
            n_items += len(sessions[key]) - len(items)
            if len(items) >= MIN_LENGTH:
                kept[key] = items
                new_splits[name].append(key)
        removed[name] = {"ratings": n_items, "sessions": len(splits[name]) - len(new_splits[name])}
    return kept, new_splits, removed


def session_rows(items, rows):
    """(prefix, target) pairs of one session: the last item only, or every prefix."""
    starts = range(1, len(items)) if rows == "prefix" else [len(items) - 1]
    return [(items[:k], items[k]) for k in starts]


def write_inter(path, sessions, keys, rows):
    """One row per session (or per prefix), in split order; returns the number of rows."""
    lines = [INTER_HEADER]
    for key in keys:
        pairs = session_rows(sessions[key], rows)
        lines += [f"{session_id(key)}\t{' '.join(prefix)}\t{target}" for prefix, target in pairs]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines) - 1


def write_items(path, items, titles):
    """One row per kept item, sorted numerically by MovieID."""
    lines = [ITEM_HEADER] + [f"{item}\t{titles.get(item, '')}" for item in sorted(items, key=int)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def describe(sessions, keys, n_rows):
    """Counts of one group of sessions; ``avg_input_len`` is LLM4SBR's Avg.len (length - 1)."""
    lengths = np.array([len(sessions[key]) for key in keys])
    return {
        "sessions": len(keys),
        "items": len({item for key in keys for item in sessions[key]}),
        "clicks": int(lengths.sum()),
        "mean_length": round(float(lengths.mean()), 4),
        "avg_input_len": round(float(lengths.mean()) - 1, 4),
        "max_length": int(lengths.max()),
        "rows": n_rows,
    }


def print_table(stats):
    """Ours per split, then the papers' rows (all users)."""
    print(f"{'':<22} {'sessions':>9} {'rows':>8} {'clicks':>9} {'items':>6} {'mean len':>9} {'len - 1':>8}")
    for name, ours in stats["ours"].items():
        print(f"{stats['name'] + ' ' + name:<22} {ours['sessions']:>9,} {ours['rows']:>8,} {ours['clicks']:>9,}"
              f" {ours['items']:>6,} {ours['mean_length']:>9.2f} {ours['avg_input_len']:>8.2f}")
    for paper, row in PAPER_STATS.items():
        print(f"{paper:<22} train {row['train']:,} / test {row['test']:,}, clicks {row['clicks']:,},"
              f" items {row['items']:,}, Avg.len {row['avg_len']}")


def main(argv=None):
    args = parse_args(argv)
    ratings_path, movies_path = find_raw_file(args.raw_dir, "ratings"), find_raw_file(args.raw_dir, "movies")
    ratings, titles = read_ratings(ratings_path), read_titles(movies_path)
    item_counts = Counter(item for _, item, _ in ratings)
    all_sessions, ends = build_sessions(ratings)
    sessions = filter_sessions(all_sessions, item_counts)
    splits, (p80, p90) = split_by_end_time(sessions, ends)
    before = {name: len(splits[name]) for name in SPLITS}
    sessions, splits, removed = drop_unseen_in_train(sessions, splits)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    n_rows = {name: write_inter(args.out_dir / f"ml1m.{name}.inter", sessions, splits[name], args.rows)
              for name in SPLITS}
    kept_items = {item for keys in splits.values() for key in keys for item in sessions[key]}
    write_items(args.out_dir / "ml1m.item", kept_items, titles)

    users = {user for user, _, _ in ratings}
    ours = {name: describe(sessions, splits[name], n_rows[name]) for name in SPLITS}
    ours["total"] = describe(sessions, [key for name in SPLITS for key in splits[name]], sum(n_rows.values()))
    stats = {
        "name": "ML-1M" if len(ratings) == 1000209 else f"ML-1M, {len(users):,}-user subset",
        "source": {"ratings": ratings_path.name, "lines": len(ratings), "users": len(users),
                   "items_rated": len(item_counts), "items_rated_5_or_more": sum(c >= 5 for c in item_counts.values())},
        "ours": ours,
        "papers": PAPER_STATS,
        "sessions_all": len(all_sessions),
        "sessions_after_llm4sbr_filter": len(sessions) + sum(r["sessions"] for r in removed.values()),
        "sessions_before_unseen_filter": before,
        "removed_by_unseen_filter": removed,
        "split_end_time_thresholds": {"p80": p80, "p90": p90},
        "rows_with_input_longer_than": {str(n): sum(len(sessions[key]) - 1 > n for keys in splits.values()
                                                    for key in keys) for n in (20, 50, 100)},
        "params": {"bucket_seconds": BUCKET_SECONDS, "min_length": MIN_LENGTH, "item_min_count": ITEM_MIN_COUNT,
                   "item_counts_over": "every rating of the file given", "rows": args.rows},
    }
    (args.out_dir / "stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    print_table(stats)
    return stats


if __name__ == "__main__":
    main()
