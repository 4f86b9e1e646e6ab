"""The uncertainty scores of SPRINT §4.1.1 (Eq. 3) from the warmed-up SASRec of warmup.py; selection.py fuses them
(Eq. 4).

h_S is the SASRec output for S_{1:N-1}, the session's longest training prefix row (SPRINT footnote 1: the hidden
state at the last position). The same h_S is used for BOTH entropies: H_pred needs exactly S_{1:N-1} to predict
i_N, and using the same representation for H_sess keeps the two ranks of Eq. 4 about one model state per session.
The entropy functions are the pure math and are tested on hand-made tensors.
"""

import time

from recbole_intent.generate.pnc.warmup import warm_up


def session_entropy(h, item_emb, session_items):
    """Eq. 3, H_sess(S) = -sum_{i in S} P(i|S) log P(i|S), with P(i|S) = softmax over the session's OWN items of
    h_S . e_i. ``h``: [B, d]; ``item_emb``: [n, d]; ``session_items``: B lists of item indices (distinct items of S;
    a repeated item is one outcome of the distribution). The caller passes h_S of S_{1:N-1}, the session's longest
    training prefix row: the same h_S as for H_pred, so both ranks of Eq. 4 describe one model state."""
    import torch

    out = torch.empty(h.size(0), dtype=h.dtype)
    for b, items in enumerate(session_items):
        idx = torch.as_tensor(sorted(set(int(i) for i in items)), dtype=torch.long, device=item_emb.device)
        logp = torch.log_softmax(item_emb[idx] @ h[b], dim=0)
        out[b] = -(logp.exp() * logp).sum()
    return out


def prediction_entropy(h, item_emb, targets):
    """H_pred(S) = -log P(i_N | S_{1:N-1}), softmax over ALL items (full ranking). ``targets``: [B] indices into
    ``item_emb``; pass only real items as rows of ``item_emb`` (RecBole's padding row 0 is no item)."""
    import torch

    logp = torch.log_softmax(h @ item_emb.T, dim=1)
    return -logp.gather(1, targets.view(-1, 1)).squeeze(1)



def uncertainty_inputs(cfg, sessions, batch_size=1024):
    """(H_sess, H_pred, info) for every session, as CPU tensors aligned with ``sessions``."""
    import torch

    started = time.perf_counter()
    previous_threads = torch.get_num_threads()
    if int(cfg.get("warmup_threads") or 0) > 0:
        # Measured on the project's 2-core machine (beauty, d=64, batch 256): 2 intra-op threads are 1.4x faster
        # than 1 when the machine is idle but 13x SLOWER while other jobs run (OpenMP threads spinning against each
        # other), so 1 is the safe default. Restored afterwards.
        torch.set_num_threads(int(cfg["warmup_threads"]))
    try:
        return _scores(cfg, sessions, batch_size, started)
    finally:
        torch.set_num_threads(previous_threads)


def _scores(cfg, sessions, batch_size, started):
    import torch

    model, dataset, config = warm_up(cfg)
    trained = time.perf_counter()
    token2id = dataset.field2token_id[config["ITEM_ID_FIELD"]]
    max_len = int(config["MAX_ITEM_LIST_LENGTH"])
    model.eval()
    h_sess, h_pred = [], []
    with torch.no_grad():
        emb = model.item_embedding.weight
        for start in range(0, len(sessions), batch_size):
            chunk = sessions[start : start + batch_size]
            ids = [[token2id[t] for t in s.items] for s in chunk]
            prefixes = [x[:-1][-max_len:] for x in ids]  # S_{1:N-1}; RecBole keeps the last L items
            seq = torch.zeros(len(chunk), max(len(p) for p in prefixes), dtype=torch.long)
            for b, p in enumerate(prefixes):
                seq[b, : len(p)] = torch.as_tensor(p)  # RecBole pads at the end and reads position len-1
            lengths = torch.as_tensor([len(p) for p in prefixes], dtype=torch.long)
            h = model.forward(seq.to(emb.device), lengths.to(emb.device))
            h_sess.append(session_entropy(h, emb, ids).cpu())
            # Full ranking over the real items: drop RecBole's padding row 0 and shift the targets by one.
            targets = torch.as_tensor([x[-1] - 1 for x in ids], dtype=torch.long, device=emb.device)
            h_pred.append(prediction_entropy(h, emb[1:], targets).cpu())
    h_sess = torch.cat(h_sess) if h_sess else torch.zeros(0)
    h_pred = torch.cat(h_pred) if h_pred else torch.zeros(0)
    info = {
        "warmup_s": round(trained - started, 3),  # data loading + training
        "uncertainty_total_s": round(time.perf_counter() - started, 3),
        "warmup_items": int(dataset.item_num),
        "warmup_threads": torch.get_num_threads(),
    }
    return h_sess, h_pred, info
