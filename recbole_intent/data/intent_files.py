"""Checks for the intent atomic files, so that a malformed file names its path, line and field.

RecBole's own reader (pandas) fails on such files with messages that name neither; and a file that parses but
points at unknown intents, items or sessions would silently grow RecBole's id spaces. Both are caught here,
before RecBole reads anything. The formats are documented in the README ("Intent files").
"""

import math
import os

from recbole_intent.errors import UserError

GENERATOR_HINT = "python -m recbole_intent.generate --dataset {dataset} --data_path {data_root}"


class MissingFilesError(UserError, FileNotFoundError):
    """A model needs files that the dataset does not have (the message says which and how to write them)."""


class AtomicFileError(UserError):
    """A malformed atomic file: ``path:line: field 'name': what is wrong``."""

    def __init__(self, path, line, field, message):
        self.path, self.line, self.field = path, line, field
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: field '{field}': {message}" if field else f"{where}: {message}")


def intent_dir(config):
    """Where ``.user`` and ``.intent`` live: the dataset folder, or its ``intent_set`` subfolder."""
    return os.path.join(config["data_path"], config["intent_set"]) if config["intent_set"] else config["data_path"]


def require_files(folder, dataset, suffixes, data_root, intent_set=None):
    """Stop with the generator command when a model needs intent files the dataset does not have; an
    ``intent_set`` that names no folder lists the sets there are, and the command writes into that set."""
    missing = [f"{dataset}.{s}" for s in suffixes if not os.path.isfile(os.path.join(folder, f"{dataset}.{s}"))]
    if missing:
        hint = GENERATOR_HINT.format(dataset=dataset, data_root=data_root)
        if intent_set:
            hint += f" --intent_set {intent_set}"  # without it, the generator would overwrite the default set
        if intent_set and not os.path.isdir(folder):
            parent = os.path.dirname(os.path.normpath(folder))
            sets = sorted(d.name for d in os.scandir(parent) if os.path.isfile(os.path.join(d, f"{dataset}.user")))
            raise MissingFilesError(
                f"intent_set={intent_set!r}: there is no folder {folder}; the intent sets of {dataset} are "
                f"{', '.join(sets) or '(none)'} (or unset intent_set for the default one). To write this set: {hint}"
            )
        raise MissingFilesError(
            f"This model reads session intents, but {folder} has no {', '.join(missing)}. "
            f"Write them with the Stage-1 generator (README, 'Intent files'): {hint}"
        )


def read_atomic(path, expected, field_separator="\t", seq_separator=" "):
    """Parse and check one atomic file; ``expected`` maps field name -> RecBole type for the fields we read.

    Returns ``{field: [values per row]}`` (token_seq -> list of str, float_seq -> list of float).
    """
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n")
        if not header.strip():
            example = field_separator.join(f"{name}:{ftype}" for name, ftype in expected.items())
            raise AtomicFileError(path, None, None, f"the file is empty (its first line must be a header such as "
                                  f"{example!r})" if not f.read().strip() else "the first line (header) is empty")
        columns = []
        for i, spec in enumerate(header.split(field_separator)):
            name, sep, ftype = spec.partition(":")
            if not sep:
                raise AtomicFileError(path, 1, name, f"header column {i + 1} must look like name:type")
            columns.append((name, ftype))
        types = dict(columns)
        for name, ftype in expected.items():
            if name not in types:
                raise AtomicFileError(path, 1, name, f"missing from the header (expected {name}:{ftype})")
            if types[name] != ftype:
                raise AtomicFileError(path, 1, name, f"has type {types[name]}, expected {ftype}")
        rows = {name: [] for name in expected}
        float_len = {}
        for line_no, line in enumerate(f, start=2):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            values = line.split(field_separator)
            if len(values) != len(columns):
                raise AtomicFileError(path, line_no, None, f"{len(values)} fields, the header has {len(columns)}")
            for (name, ftype), value in zip(columns, values, strict=True):
                if name in expected:
                    rows[name].append(_parse(path, line_no, name, ftype, value, seq_separator, float_len))
    return rows


def _parse(path, line_no, name, ftype, value, seq_separator, float_len):
    if ftype == "token":
        if not value.strip() or value != value.strip():
            raise AtomicFileError(path, line_no, name, f"token {value!r} is empty or has surrounding spaces")
        return value
    parts = [p for p in value.split(seq_separator) if p]
    if ftype == "token_seq":
        return parts
    try:
        numbers = [float(p) for p in parts]
    except ValueError as err:
        raise AtomicFileError(path, line_no, name, f"not a number: {err}") from None
    if any(not math.isfinite(x) for x in numbers):
        raise AtomicFileError(path, line_no, name, "contains nan or inf")
    if ftype == "float_seq":
        if float_len.setdefault(name, len(numbers)) != len(numbers):
            raise AtomicFileError(path, line_no, name, f"{len(numbers)} values, earlier rows have {float_len[name]}")
        return numbers
    return numbers[0] if numbers else math.nan


def check_intent_files(config, dataset_name, train_sessions, all_sessions, items):
    """Validate ``<d>.<intent suffix>``, ``<d>.user`` and optionally ``<d>.<text emb suffix>`` against the data."""
    root = intent_dir(config)
    pool_path = os.path.join(root, f"{dataset_name}.{config['intent_pool_suffix']}")
    user_path = os.path.join(root, f"{dataset_name}.user")
    id_f, name_f = config["intent_id_field"], config["intent_name_field"]
    pool = read_atomic(pool_path, {id_f: "token", name_f: "token_seq"})
    seen = {}
    for line_no, intent_id in enumerate(pool[id_f], start=2):
        if intent_id in seen:
            raise AtomicFileError(pool_path, line_no, id_f, f"intent {intent_id!r} repeats line {seen[intent_id]}")
        seen[intent_id] = line_no
    if not seen:
        raise AtomicFileError(pool_path, None, None, "the intent pool is empty")

    uid, int_f, neg_f = config["USER_ID_FIELD"], config["intent_field"], config["hard_negative_field"]
    user = read_atomic(user_path, {uid: "token", int_f: "token_seq", neg_f: "token_seq"})
    rows_of = {}
    for line_no, (sid, intents, negs) in enumerate(zip(user[uid], user[int_f], user[neg_f], strict=True), start=2):
        if sid in rows_of:
            raise AtomicFileError(user_path, line_no, uid, f"session {sid!r} repeats line {rows_of[sid]}")
        rows_of[sid] = line_no
        if sid not in train_sessions:
            where = "a validation/test session" if sid in all_sessions else "not a session of the dataset"
            raise AtomicFileError(user_path, line_no, uid, f"{sid!r} is {where}; intents may only label training "
                                  "sessions (no label leakage)")
        for intent_id in intents:
            if intent_id not in seen:
                raise AtomicFileError(user_path, line_no, int_f, f"intent {intent_id!r} is not in {pool_path}")
        for item in negs:
            if item not in items:
                raise AtomicFileError(user_path, line_no, neg_f, f"item {item!r} is not an item of the dataset")

    if config["use_text_emb"]:
        emb_path = os.path.join(config["data_path"], f"{dataset_name}.{config['text_emb_suffix']}")
        iid_f, emb_f = config["text_emb_id_field"], config["text_emb_field"]
        emb = read_atomic(emb_path, {iid_f: "token", emb_f: "float_seq"})
        for line_no, item in enumerate(emb[iid_f], start=2):
            if item not in items:
                raise AtomicFileError(emb_path, line_no, iid_f, f"item {item!r} is not an item of the dataset")
        # RecBole's preload_weight leaves an item without a row at zeros, silently: a truncated file would train
        missing = sorted(items - set(emb[iid_f]))
        if missing:
            raise AtomicFileError(emb_path, None, iid_f, f"{len(missing)} of {len(items)} items have no vector "
                                  f"(use_text_emb needs one for every item), e.g. {', '.join(missing[:5])}")
    return len(seen), len(rows_of)
