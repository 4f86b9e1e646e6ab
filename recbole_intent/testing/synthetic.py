"""Tiny synthetic datasets in the Stage-1 data contract, for the tests and the benchmark.

Sessions are drawn from a few item "themes" so that a warmed-up SASRec has something to learn; every training
context (S_{1:N-1}) is unique, so the fake server can look the held-out item up from what it is shown.
"""

import os
import random

THEMES = ["lipstick", "shampoo", "nail polish", "sunscreen", "perfume", "face mask"]


def _write(path, header, rows):
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\t".join(header) + "\n")
        for row in rows:
            fh.write("\t".join(row) + "\n")


def _prefix_rows(sessions):
    for sid, items in sessions:
        for n in range(1, len(items)):
            yield (sid, " ".join(items[:n]), items[n])


def write_dataset(data_path, name="tiny", n_sessions=50, n_items=40, seed=0, min_len=3, max_len=6, titles=None):
    """Write ``<data_path>/<name>/<name>.{train,valid,test}.inter`` and ``.item`` (8:1:1 split in order).

    Returns {"train": [(session_id, items)], "answer_key": {tuple(context): held-out item}, "dir": path}.
    ``titles`` (item -> title) overrides the generated titles of some items.
    """
    rng = random.Random(seed)
    items = [f"i{k:03d}" for k in range(1, n_items + 1)]
    theme_of = {item: THEMES[k % len(THEMES)] for k, item in enumerate(items)}
    by_theme = {t: [i for i in items if theme_of[i] == t] for t in THEMES}
    sessions, seen = [], set()
    while len(sessions) < n_sessions:
        length = rng.randint(min_len, max_len)
        theme = rng.choice(THEMES)
        seq = [rng.choice(by_theme[theme]) if rng.random() < 0.8 else rng.choice(items) for _ in range(length)]
        if tuple(seq[:-1]) in seen:
            continue
        seen.add(tuple(seq[:-1]))
        sessions.append((f"s{len(sessions) + 1:04d}", seq))
    n_train = int(0.8 * n_sessions)
    n_valid = int(0.1 * n_sessions)
    splits = {
        "train": sessions[:n_train],
        "valid": sessions[n_train : n_train + n_valid],
        "test": sessions[n_train + n_valid :],
    }
    directory = os.path.join(data_path, name)
    os.makedirs(directory, exist_ok=True)
    header = ["session_id:token", "item_id_list:token_seq", "item_id:token"]
    for split, rows in splits.items():
        _write(os.path.join(directory, f"{name}.{split}.inter"), header, _prefix_rows(rows))
    names = {i: f"{theme_of[i].title()} No {k} by Brand{k % 7}" for k, i in enumerate(items, start=1)}
    names.update(titles or {})
    _write(os.path.join(directory, f"{name}.item"), ["item_id:token", "title:token_seq"], sorted(names.items()))
    return {
        "train": splits["train"],
        "answer_key": {tuple(seq[:-1]): seq[-1] for _, seq in splits["train"]},
        "dir": directory,
    }
