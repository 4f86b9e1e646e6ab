"""Which training sessions get the P&C loop.

- ``uncertainty`` (SPRINT §4.1.1): a base SASRec warmed up on the training split (uncertainty.py) scores every training
  session by its session entropy H_sess and prediction entropy H_pred (Eq. 3), fused by reciprocal rank fusion
  (Eq. 4); the top ``ratio`` are kept, hardest first (so a --max_calls budget is spent on the hardest sessions).
- ``random``: a uniform sample of ``ratio`` with ``seed``, in draw order.
- ``all`` (VELI4SBR): every training session, in file order.

The rank functions below are the pure math of Eq. 4 and are tested on hand-made values.
"""

import random


def descending_ranks(values):
    """1-based ranks in descending order of ``values``; ties keep the input order (a stable, reproducible rank)."""
    order = sorted(range(len(values)), key=lambda i: -float(values[i]))
    ranks = [0] * len(values)
    for rank, i in enumerate(order, start=1):
        ranks[i] = rank
    return ranks


def rrf_scores(h_sess, h_pred, k=60):
    """Eq. 4, U(S) = 1/(k + r_sess(S)) + 1/(k + r_pred(S)), k = 60 (reciprocal rank fusion: scale-invariant)."""
    r_sess, r_pred = descending_ranks(h_sess), descending_ranks(h_pred)
    return [1.0 / (k + a) + 1.0 / (k + b) for a, b in zip(r_sess, r_pred, strict=True)]


def n_selected(n_sessions, ratio):
    return min(n_sessions, max(1, round(ratio * n_sessions))) if n_sessions else 0


def top_by_score(scores, ratio):
    """Indices of the top ``ratio`` by score, highest first (ties: input order)."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    return order[: n_selected(len(scores), ratio)]


def select_sessions(sessions, cfg):
    """(selected sessions in processing order, info for the report)."""
    how = cfg["select"]
    if how == "all":
        return list(sessions), {"select": "all"}
    if how == "random":
        rng = random.Random(cfg["seed"])
        picked = rng.sample(range(len(sessions)), n_selected(len(sessions), float(cfg["ratio"])))
        return [sessions[i] for i in picked], {"select": "random"}
    if how == "uncertainty":
        from recbole_intent.generate.pnc.uncertainty import uncertainty_inputs  # torch + RecBole only if needed

        h_sess, h_pred, info = uncertainty_inputs(cfg, sessions)
        scores = rrf_scores(h_sess.tolist(), h_pred.tolist(), k=int(cfg["rrf_k"]))
        picked = top_by_score(scores, float(cfg["ratio"]))
        info.update(
            select="uncertainty",
            score_min_selected=round(scores[picked[-1]], 6) if picked else None,
            h_sess_mean=round(float(h_sess.mean()), 4) if len(sessions) else None,
            h_pred_mean=round(float(h_pred.mean()), 4) if len(sessions) else None,
        )
        return [sessions[i] for i in picked], info
    raise ValueError(f"unknown --select {how!r}")
