"""Build the session-based Amazon Beauty dataset as RecBole atomic files.

Follows the construction of VELI4SBR and SPRINT (Table 1 of both papers): a session is one reviewer's items of one
day; sessions longer than L_max=20 are cut into non-overlapping pieces of at most 20 items; pieces shorter than
L_min=3 are dropped; items are 5-core filtered, alternating with the L_min check until neither removes anything;
sessions are split 8:1:1 by the time of their last event (80th and 90th percentiles of session end times).
Then the conventional SBR filter the papers follow (SR-GNN's preprocess.py, GRU4Rec's ``np.in1d(test.ItemId,
train.ItemId)``): items never seen in the training split are removed from validation and test sessions, and sessions
that became shorter than L_min are dropped. The training split is not touched by that filter.

``--cold`` skips the filter and writes the ``beauty_cold`` dataset (items unseen in training kept: the text-aware
study where cold items matter) into ``dataset/beauty_cold/``.

Writes <token>.{train,valid,test}.inter (one row per session prefix), <token>.item (ASIN and title) and stats.json.
Usage: python dataset/beauty/prepare_beauty.py [--raw_dir DIR] [--out_dir DIR] [--cold]
"""

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

L_MIN, L_MAX, ITEM_CORE = 3, 20, 5
SPLITS = ("train", "valid", "test")
INTER_HEADER = "session_id:token\titem_id_list:token_seq\titem_id:token"
ITEM_HEADER = "item_id:token\ttitle:token_seq"
PAPER_STATS = {  # VELI4SBR / SPRINT Table 1, Beauty: sessions, items, interactions, mean length
    "train": (6448, 2351, 27130, 4.21),
    "valid": (611, 1126, 2480, 4.10),
    "test": (465, 1085, 1928, 4.15),
    "total": (7524, 2351, 31538, 4.19),
}


def parse_args():
    """Command line: where the raw TSVs are and where the atomic files go."""
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw_dir", type=Path, default=here.parents[2] / "shared/data/beauty2014")
    parser.add_argument("--out_dir", type=Path, default=None, help="default: dataset/beauty (dataset/beauty_cold)")
    parser.add_argument("--cold", action="store_true",
                        help="keep validation/test items unseen in training (the beauty_cold dataset)")
    args = parser.parse_args()
    if args.out_dir is None:
        args.out_dir = here.parent / ("beauty_cold" if args.cold else "beauty")
    return args


def build_sessions(interactions):
    """Group rows by (reviewer, day) in file order and cut each group into pieces of at most L_MAX items.

    Returns {(reviewerID, timestamp, segment): [asin, ...]}.
    """
    sessions = {}
    for (reviewer, day), group in interactions.groupby(["reviewerID", "timestamp"], sort=False):
        items = group["asin"].tolist()
        for segment, start in enumerate(range(0, len(items), L_MAX)):
            sessions[(reviewer, int(day), segment)] = items[start : start + L_MAX]
    return sessions


def drop_short(sessions):
    """Keep sessions with at least L_MIN items."""
    return {key: items for key, items in sessions.items() if len(items) >= L_MIN}


def drop_rare_items(sessions):
    """Remove items occurring fewer than ITEM_CORE times among the given sessions."""
    counts = Counter(item for items in sessions.values() for item in items)
    return {key: [item for item in items if counts[item] >= ITEM_CORE] for key, items in sessions.items()}


def filter_to_fixed_point(sessions):
    """Alternate the L_MIN check and the item 5-core filter until neither changes anything."""
    sessions = drop_short(sessions)
    while True:
        filtered = drop_short(drop_rare_items(sessions))
        if filtered == sessions:
            return sessions
        sessions = filtered


def session_id(key):
    """Readable unique token: reviewerID_timestamp_segment."""
    reviewer, day, segment = key
    return f"{reviewer}_{day}_{segment}"


def split_by_end_time(sessions):
    """Assign sessions to train/valid/test by their end time (<= 80th pct, <= 90th pct, rest); ties go earlier.

    Every event of a session shares its day, so the end time is the session's timestamp.
    Returns ({split: [keys sorted by end time, then session id]}, thresholds).
    """
    keys = sorted(sessions, key=lambda key: (key[1], session_id(key)))
    p80, p90 = np.percentile([key[1] for key in keys], [80, 90])
    splits = {
        "train": [key for key in keys if key[1] <= p80],
        "valid": [key for key in keys if p80 < key[1] <= p90],
        "test": [key for key in keys if key[1] > p90],
    }
    return splits, (float(p80), float(p90))


def drop_unseen_in_train(sessions, splits):
    """The conventional filter: remove from valid/test sessions every item absent from the training split, then drop
    the sessions left shorter than L_MIN. Returns the new (sessions, splits); train sessions are unchanged."""
    train_items = {item for key in splits["train"] for item in sessions[key]}
    kept = {key: sessions[key] for key in splits["train"]}
    new_splits = {"train": list(splits["train"])}
    for name in ("valid", "test"):
        new_splits[name] = []
        for key in splits[name]:
            items = [item for item in sessions[key] if item in train_items]
            if len(items) >= L_MIN:
                kept[key] = items
                new_splits[name].append(key)
    return kept, new_splits


def write_inter(path, sessions, keys):
    """One row per prefix: for a session [i1..in], rows (i1..ik -> i(k+1)) for k = 1..n-1."""
    lines = [INTER_HEADER]
    for key in keys:
        items = sessions[key]
        lines += [f"{session_id(key)}\t{' '.join(items[:k])}\t{items[k]}" for k in range(1, len(items))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines) - 1


def write_items(path, asins, titles):
    """One row per kept item, sorted by ASIN; whitespace in titles (tabs, newlines, runs) becomes single spaces."""
    lines = [ITEM_HEADER] + [f"{asin}\t{' '.join(titles.get(asin, '').split())}" for asin in sorted(asins)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def describe(sessions, keys, rows):
    """Counts for one group of sessions."""
    lengths = [len(sessions[key]) for key in keys]
    return {
        "sessions": len(keys),
        "items": len({item for key in keys for item in sessions[key]}),
        "interactions": sum(lengths),
        "mean_length": round(float(np.mean(lengths)), 4),
        "rows": rows,
    }


def unseen_in_train(sessions, splits):
    """Items (and prefix rows whose target is such an item) of valid/test that never occur in train."""
    train_items = {item for key in splits["train"] for item in sessions[key]}
    report = {}
    for name in ("valid", "test"):
        unseen = {item for key in splits[name] for item in sessions[key]} - train_items
        targets = sum(item in unseen for key in splits[name] for item in sessions[key][1:])
        report[name] = {"items": len(unseen), "target_rows": targets}
    return report


def print_table(stats):
    """Ours vs paper, one line per split."""
    print(f"{'split':<6} {'sessions':>15} {'items':>13} {'interactions':>15} {'mean len':>13} {'rows':>7}")
    for name, ours in stats["ours"].items():
        paper = stats["paper"][name]
        print(
            f"{name:<6} {ours['sessions']:>7,} /{paper['sessions']:>6,} {ours['items']:>6,} /{paper['items']:>5,}"
            f" {ours['interactions']:>7,} /{paper['interactions']:>6,} {ours['mean_length']:>6.2f} /"
            f"{paper['mean_length']:>5.2f} {ours['rows']:>7,}"
        )


def main():
    args = parse_args()
    interactions = pd.read_csv(args.raw_dir / "beauty2014_5core_interactions.tsv", sep="\t", dtype=str)
    catalogue = pd.read_csv(args.raw_dir / "beauty2014_items.tsv", sep="\t", dtype=str, keep_default_na=False)
    sessions = filter_to_fixed_point(build_sessions(interactions))
    splits, (p80, p90) = split_by_end_time(sessions)
    before = {name: len(splits[name]) for name in SPLITS}
    unseen = unseen_in_train(sessions, splits)
    if not args.cold:
        sessions, splits = drop_unseen_in_train(sessions, splits)
    token = "beauty_cold" if args.cold else "beauty"

    args.out_dir.mkdir(parents=True, exist_ok=True)
    rows = {name: write_inter(args.out_dir / f"{token}.{name}.inter", sessions, splits[name]) for name in SPLITS}
    all_items = {item for key in (k for name in SPLITS for k in splits[name]) for item in sessions[key]}
    write_items(args.out_dir / f"{token}.item", all_items,
                dict(zip(catalogue["asin"], catalogue["title"], strict=True)))

    ours = {name: describe(sessions, splits[name], rows[name]) for name in SPLITS}
    ours["total"] = describe(sessions, [key for name in SPLITS for key in splits[name]], sum(rows.values()))
    fields = ("sessions", "items", "interactions", "mean_length")
    stats = {
        "ours": ours,
        "paper": {name: dict(zip(fields, values, strict=True)) for name, values in PAPER_STATS.items()},
        "split": "cold (items unseen in training kept)" if args.cold else "conventional (unseen items removed)",
        "unseen_in_train_before_filter": unseen,
        "unseen_in_train": unseen_in_train(sessions, splits),
        "sessions_before_filter": before,
        "split_end_time_thresholds": {"p80": p80, "p90": p90},
        "params": {"L_min": L_MIN, "L_max": L_MAX, "item_core": ITEM_CORE, "filter": "fixed point"},
    }
    (args.out_dir / "stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    print_table(stats)
    print("unseen in train:", json.dumps(stats["unseen_in_train"]))


if __name__ == "__main__":
    main()
