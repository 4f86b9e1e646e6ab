"""Read the atomic files Stage 1 needs (training split and titles) and write its outputs atomically.

Contract (fixed, the Stage-2 models read exactly this): tab-separated, header ``name:type``, token_seq values
separated by single spaces. A training session of n items appears as n-1 prefix rows (prefix -> next item) with the
same session_id; the full session is the longest row's item_id_list + its item_id. Only the training split is read.
"""

import os
import tempfile
from dataclasses import dataclass

from recbole_intent.generate.common.scrub import scrub


@dataclass(frozen=True)
class Session:
    session_id: str
    items: tuple  # the full training session, in order; items[:-1] is the longest prefix row, items[-1] its target


def dataset_dir(cfg):
    return os.path.join(cfg["data_path"], cfg["dataset"])


def dataset_file(cfg, suffix):
    return os.path.join(dataset_dir(cfg), f"{cfg['dataset']}.{suffix}")


def output_file(cfg, suffix):
    """Where the outputs go: the dataset folder (the default contract), or its ``intent_set`` subfolder, which the
    Stage-2 loader reads when its own ``intent_set`` key names it (recbole_intent/data/intent_files.py)."""
    subfolder = cfg.get("intent_set") or ""
    return os.path.join(dataset_dir(cfg), subfolder, f"{cfg['dataset']}.{suffix}")


def read_atomic(path):
    """Yield one dict per row, keyed by the field name without its ``:type``. No quoting: titles may hold quotes."""
    with open(path, encoding="utf-8", newline="") as fh:
        names = [field.split(":")[0] for field in fh.readline().rstrip("\r\n").split("\t")]
        for line in fh:
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            values = line.split("\t")
            values += [""] * (len(names) - len(values))
            yield dict(zip(names, values[: len(names)], strict=True))


def load_train_sessions(cfg):
    """Full training sessions in the order their first row appears in ``<d>.train.inter``."""
    path = dataset_file(cfg, "train.inter")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: the generator needs the training split of the data contract")
    longest = {}
    for row in read_atomic(path):
        prefix = tuple(row["item_id_list"].split())
        items = prefix + (row["item_id"],)
        sid = row["session_id"]
        if sid not in longest or len(items) > len(longest[sid]):
            longest[sid] = items  # dicts keep first-insertion order, so the session order is the file order
    return [Session(sid, items) for sid, items in longest.items() if len(items) >= 2]


def load_titles(cfg):
    """item token -> title text ('' when the item has no title or the file is absent)."""
    path = dataset_file(cfg, "item")
    if not os.path.exists(path):
        return {}
    return {row["item_id"]: " ".join(row.get("title", "").split()) for row in read_atomic(path)}


def write_atomic_text(path, text):
    """Write to a temp file in the same directory, fsync, then os.replace: readers see the old or the new file."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(scrub(text))  # never the API key's value, even if a server echoed it (scrub.py)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; these are plain dataset files
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _field(value):
    # Token fields must stay on one line and never contain the field separator.
    return " ".join(str(value).replace("\t", " ").split())


def write_atomic_table(path, header, rows):
    lines = ["\t".join(header)]
    lines += ["\t".join(_field(v) for v in row) for row in rows]
    write_atomic_text(path, "\n".join(lines) + "\n")


def write_intent_file(cfg, pool_names):
    """``<d>.intent``: ids "0".."n-1" in pool order (initial intents first, then the validated new ones)."""
    rows = [(str(i), name) for i, name in enumerate(pool_names)]
    write_atomic_table(output_file(cfg, "intent"), ["intent_id:token", "intent_name:token_seq"], rows)


def write_user_file(cfg, outcomes):
    """``<d>.user``: one row per processed selected session; intent_ids empty on failure."""
    rows = [
        (o.session_id, " ".join(str(i) for i in o.intent_ids), " ".join(o.hard_negatives))
        for o in outcomes
        if o.status in ("accepted", "failed")
    ]
    header = ["session_id:token", "intent_ids:token_seq", "hard_negatives:token_seq"]
    write_atomic_table(output_file(cfg, "user"), header, rows)
