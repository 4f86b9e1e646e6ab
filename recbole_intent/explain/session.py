"""One session through a trained intent model: its intents y_Sc (Eq. 9), which are fused (Eq. 11), its top-k items.

Only the trained model runs (no LLM, no intent file of the session); the intent pool file and the item file are read
for display names only.
"""

import os
from functools import lru_cache

import torch

from recbole_intent.data.intent_files import intent_dir, read_atomic
from recbole_intent.explain.load import ExplainError


def _read_names(path, id_field, name_field):
    """token -> display name from an atomic file; {} when the file or the column is absent (ids are shown)."""
    mtime = os.path.getmtime(path) if os.path.isfile(path) else None
    return _read_names_cached(path, id_field, name_field, mtime)  # a rewritten file is read again


@lru_cache(maxsize=8)
def _read_names_cached(path, id_field, name_field, mtime):
    try:
        rows = read_atomic(path, {id_field: "token", name_field: "token_seq"})
    except (OSError, ValueError):
        return {}
    return {tok: " ".join(words) for tok, words in zip(rows[id_field], rows[name_field], strict=True)}


def item_titles(dataset):
    config = dataset.config
    path = os.path.join(config["data_path"], f"{config['dataset']}.item")
    return _read_names(path, dataset.iid_field, "title")


def intent_names(dataset):
    config = dataset.config
    path = os.path.join(intent_dir(config), f"{config['dataset']}.{config['intent_pool_suffix']}")
    return _read_names(path, config["intent_id_field"], config["intent_name_field"])


def item_ids(dataset, tokens):
    """Raw item tokens -> RecBole ids; every unknown token is named in one error."""
    if not tokens:
        raise ExplainError("the session has no items")
    known = dataset.field2token_id[dataset.iid_field]
    unknown = [t for t in tokens if t not in known]
    if unknown:
        raise ExplainError(f"unknown item token(s) {', '.join(map(repr, unknown))}: not in dataset "
                           f"'{dataset.config['dataset']}' ({len(known) - 1} items, e.g. {list(known)[1]!r})")
    return [known[t] for t in tokens]


def find_session(dataset, splits, session_token):
    """The session's longest prefix row in whichever split holds it: (split, input item tokens, held-out token)."""
    uid, iid = dataset.uid_field, dataset.iid_field
    sid = dataset.field2token_id[uid].get(session_token)
    if sid is None:
        raise ExplainError(f"session {session_token!r} is in no split of dataset '{dataset.config['dataset']}'")
    list_field, len_field = iid + dataset.config["LIST_SUFFIX"], dataset.item_list_length_field
    for name, split in splits.items():
        rows = torch.nonzero(split.inter_feat[uid] == sid).flatten()
        if rows.numel():
            row = rows[split.inter_feat[len_field][rows].argmax()]
            seq = split.inter_feat[list_field][row][: split.inter_feat[len_field][row]]
            tokens = dataset.id2token(iid, seq.numpy()).tolist()
            return name, tokens, str(dataset.id2token(iid, int(split.inter_feat[iid][row])))
    raise ExplainError(f"session {session_token!r} has no interaction row in any split")


def session_input(model, dataset, item_tokens):
    """(ids kept, item_seq [1, L], item_seq_len [1]) as RecBole's data loaders would feed the model."""
    ids = item_ids(dataset, list(item_tokens))
    width = dataset.field2seqlen[dataset.iid_field + dataset.config["LIST_SUFFIX"]]
    ids = ids[-width:]  # longer sessions keep their most recent items, as SessionDataset does
    device = next(model.parameters()).device
    seq = torch.zeros(1, width, dtype=torch.long, device=device)
    seq[0, : len(ids)] = torch.tensor(ids, device=device)
    return ids, seq, torch.tensor([len(ids)], device=device)


def llm_intents(dataset, session_token):
    """The validated LLM intents of a training session (its Eq. 13 label), for comparison; [] if it has none."""
    config, uid = dataset.config, dataset.uid_field
    sid = dataset.field2token_id[uid].get(session_token)
    field = config["intent_field"]
    if sid is None or dataset.user_feat is None or field not in dataset.user_feat:
        return []
    tokens = dataset.field2id_token[config["intent_id_field"]]
    names = intent_names(dataset)
    return [{"id": str(tokens[c]), "name": names.get(str(tokens[c]), "")}
            for c in dataset.user_feat[field][sid].tolist() if c > 0]


@torch.no_grad()
def explain_session(model, dataset, item_tokens, topk=10, n_intents=5, target=None):
    """Explain one session given as raw item tokens (oldest first). ``target``: the held-out next item's token,
    if known, is located in the ranking. Returns a JSON-ready dict."""
    item_tokens = list(item_tokens)
    ids, seq, length = session_input(model, dataset, item_tokens)
    was_training = model.training
    model.eval()
    h_tilde, y_hat, _ = model(seq, length)
    model.train(was_training)
    scores = (h_tilde @ model.item_vectors().t())[0].cpu()  # what full_sort_predict ranks
    scores[0] = -torch.inf  # id 0 is RecBole's [PAD], never recommended
    y = y_hat[0].cpu()
    tau = float(model.intent_predictor.tau)
    passed = model.intent_predictor.passes(y_hat)[0].cpu()  # phi's rule (Eq. 11): tau, calibrated or top-m

    titles, names = item_titles(dataset), intent_names(dataset)
    intent_tokens = dataset.field2id_token[dataset.config["intent_id_field"]]
    order = torch.argsort(y, descending=True)[: max(1, n_intents)]
    intents = [{"id": str(intent_tokens[c + 1]), "name": names.get(str(intent_tokens[c + 1]), ""),
                "score": round(float(y[c]), 6), "fused": bool(passed[c])} for c in order.tolist()]

    def item(token):
        return {"id": token, "title": titles.get(token, "")}

    session_items = dataset.id2token(dataset.iid_field, ids).tolist()
    top = torch.topk(scores, min(topk, scores.numel() - 1))
    recs = []
    for rank, (score, i) in enumerate(zip(top.values.tolist(), top.indices.tolist(), strict=True), start=1):
        token = str(dataset.id2token(dataset.iid_field, i))
        recs.append({"rank": rank, **item(token), "score": round(score, 6), "in_session": i in ids})
    result = {
        "model": dataset.config["model"], "dataset": dataset.config["dataset"],
        "items": [item(t) for t in session_items], "truncated": len(item_tokens) > len(ids),
        "tau": tau, "n_intents": int(y.numel()), "n_fused": int(passed.sum()), "intents": intents,
        "n_items": int(scores.numel() - 1), "topk": len(recs), "recommendations": recs,
    }
    if target is not None:
        tid = item_ids(dataset, [target])[0]
        result["target"] = {**item(target), "score": round(float(scores[tid]), 6),
                            "rank": int((scores > scores[tid]).sum()) + 1}
    return result
