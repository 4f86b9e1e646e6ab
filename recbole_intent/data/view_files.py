"""The view files of LLM4SBR and LLM-DMsRec (contract: docs/llm4sbr_dmsrec.md), shared by their generator
(``python -m recbole_intent.generate.views``) and their datasets (model/llm4sbr.py, model/llmdmsrec.py).

``<d>.<view_suffix>`` holds one line per row of every split, keyed ``<session_id>#<prefix length>`` (``row_key``),
with the method's columns (``VIEW_FIELDS``).
"""

import math

from recbole_intent.data.intent_files import AtomicFileError

VIEW_KEY, VIEW_ROW = "view_key", "view_row"  # the key column of the view file / the same key added to every row
VIEW_FIELDS = {  # the view file's columns -> RecBole types, per method
    "llm4sbr": {"long_items": "token_seq", "long_sims": "float_seq",  # LLM4SBR Eq. 4: localised items, best first,
                "short_items": "token_seq", "short_sims": "float_seq"},  # and their cosines
    "dmsrec": {"explicit_items": "token_seq", "latent_items": "token_seq"},  # LLM-DMsRec Eq. 5
}


def row_key(session_id, prefix_len):  # a row of the inter files in the view files
    return f"{session_id}#{prefix_len}"


def derive_view_loading(cfg, fields):
    """The RecBole loading keys for the view file and the item text, from the model's keys."""
    suffix, emb_suffix, iid = cfg["view_suffix"], cfg["text_emb_suffix"], cfg["text_emb_id_field"]
    if cfg["load_col"] is not None:  # None = every column of every file, ours included
        cfg["load_col"] = {**cfg["load_col"], suffix: [VIEW_KEY, *fields], emb_suffix: [iid, cfg["text_emb_field"]]}
    cfg["additional_feat_suffix"] = list(dict.fromkeys([*(cfg["additional_feat_suffix"] or []), emb_suffix, suffix]))
    items = [f for f, t in fields.items() if t == "token_seq"]
    cfg["alias_of_item_id"] = list(dict.fromkeys([*(cfg["alias_of_item_id"] or []), iid, *items]))
    cfg["preload_weight"] = {**(cfg["preload_weight"] or {}), iid: cfg["text_emb_field"]}


def check_view_file(path, fields, keys, items):
    """The keys covered by a view file; a malformed line stops with ``path:line: field 'name': ...`` (a key that is
    no row, or an unknown item, would otherwise silently grow RecBole's id spaces)."""
    with open(path, encoding="utf-8") as f:
        header = dict(col.partition(":")[::2] for col in f.readline().rstrip("\n").split("\t"))
        for name, ftype in {VIEW_KEY: "token", **fields}.items():
            if header.get(name) != ftype:
                raise AtomicFileError(path, 1, name, f"the header needs {name}:{ftype}")
        seen = {}
        for line_no, line in enumerate(f, start=2):
            values = line.rstrip("\n").split("\t")
            if not line.strip():
                continue
            if len(values) != len(header):
                raise AtomicFileError(path, line_no, None, f"{len(values)} fields, the header has {len(header)}")
            row = dict(zip(header, values, strict=True))
            if row[VIEW_KEY] not in keys or row[VIEW_KEY] in seen:
                what = f"repeats line {seen[row[VIEW_KEY]]}" if row[VIEW_KEY] in seen else "is no row of the dataset"
                raise AtomicFileError(path, line_no, VIEW_KEY, f"{row[VIEW_KEY]!r} {what} (<session_id>#<prefix len>)")
            seen[row[VIEW_KEY]] = line_no
            for name, ftype in fields.items():
                parts = row[name].split()
                if ftype == "token_seq" and any(p not in items for p in parts):
                    raise AtomicFileError(path, line_no, name, f"{parts} holds an item that is not in the dataset")
                if ftype == "float_seq":
                    try:
                        ok = all(math.isfinite(float(p)) for p in parts)
                    except ValueError:
                        ok = False
                    if not ok or len(parts) != len(row[name.replace("_sims", "_items")].split()):
                        raise AtomicFileError(path, line_no, name, "not one finite number per item")
    return set(seen)
