"""The intent label table y^(t) of the training sessions (VELI4SBR Eq. 13-16, SPRINT Eq. 11-14), its masks, the
held-out sessions of the intent diagnostics, and the diagnostics themselves.

Only training sessions hold a row: ``row_of`` maps a session id to its row (-1 for validation / test sessions, which
never read a label: inference uses the predictor only). ``labels``, ``weight`` (the rows that carry L_intent) and
``enrich_epoch`` are persistent buffers, so a checkpoint holds the enriched labels and a resumed run continues from
them instead of silently restarting from the LLM's (Eq. 13). Everything else is rebuilt from the dataset and the seed.
"""

import torch
from torch import nn

from recbole_intent.model.enrichment import enrich_labels


class IntentLabels(nn.Module):
    def __init__(self, intent_ids, session_ids, n_sessions, n_intents, holdout=0.0, seed=0):
        """``intent_ids`` [n_sessions, L] the validated intent ids of every session id (0 = [PAD]);
        ``session_ids`` [N] the training sessions, in row order."""
        super().__init__()
        if not 0.0 <= holdout < 1.0:
            raise ValueError(f"intent_holdout must be in [0, 1), got {holdout!r}")
        ids = intent_ids[session_ids].long()
        # y^(0) (Eq. 13): 1 on the pool columns of the LLM's validated intents (intent id c is column c - 1).
        llm = torch.zeros(ids.size(0), n_intents + 1).scatter_(1, ids, 1.0)[:, 1:]
        llm_mask = llm.sum(1) > 0
        row_of = torch.full((n_sessions,), -1, dtype=torch.long)
        row_of[session_ids] = torch.arange(session_ids.numel())
        # A seeded share of the labelled sessions is kept out of L_intent; the diagnostics compare the predictor with
        # their LLM labels. Until the first enrichment they carry no label, afterwards an enriched one like the
        # sessions the LLM never labelled: their own LLM labels are never written into the table.
        labelled = torch.nonzero(llm_mask).squeeze(1)
        n_out = int(round(holdout * labelled.numel()))
        order = torch.randperm(labelled.numel(), generator=torch.Generator().manual_seed(int(seed)))
        holdout_rows = labelled[order[:n_out]].sort().values
        held = torch.zeros_like(llm_mask).index_fill_(0, holdout_rows, True)
        train_mask = llm_mask & ~held
        self.register_buffer("row_of", row_of, persistent=False)
        self.register_buffer("llm_mask", train_mask, persistent=False)  # rows whose LLM labels L_intent may use
        self.register_buffer("holdout_rows", holdout_rows, persistent=False)
        self.register_buffer("holdout_labels", llm[holdout_rows].clone(), persistent=False)
        # Label base rate over the L_intent sessions, Laplace-smoothed so that no intent has rate 0 or 1 (it feeds
        # logit(prior) and the calibrated fusion threshold).
        self.register_buffer("prior", (llm[train_mask].sum(0) + 1.0) / (train_mask.sum() + 2.0), persistent=False)
        self.register_buffer("labels", llm * train_mask.unsqueeze(1))
        self.register_buffer("weight", train_mask.float())
        self.register_buffer("enrich_epoch", torch.tensor(-1))

    def batch(self, sid):
        """Labels and L_intent weights of a batch of session ids, by gathers only (no host synchronisation)."""
        rows = self.row_of[sid]
        safe = rows.clamp(min=0)  # a session without a row (never in training) gets weight 0
        return self.labels[safe], self.weight[safe] * (rows >= 0).to(self.weight.dtype)

    @torch.no_grad()
    def enrich(self, y_hat, idx, sim, mode, keep_llm_labels, memory_bytes=None, epoch=-1):
        """Write y^(t) (Eq. 15-16) for every row, or, with ``keep_llm_labels`` (SPRINT: "enrich missing intent
        labels"), for every row but those with validated LLM labels in L_intent; all rows then carry L_intent."""
        keep = self.llm_mask if keep_llm_labels else None
        enrich_labels(y_hat, idx, sim, mode, memory_bytes=memory_bytes, out=self.labels, keep=keep)
        self.weight.fill_(1.0)
        self.enrich_epoch.fill_(epoch)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        # Checkpoints written before the table was persistent have no label keys: keep the LLM labels (Eq. 13).
        before = len(missing_keys)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)
        ours = {prefix + name for name in ("labels", "weight", "enrich_epoch")}
        if ours.isdisjoint(state_dict):
            missing_keys[before:] = [k for k in missing_keys[before:] if k not in ours]

    # ---- diagnostics ---------------------------------------------------------------------------------------------
    def holdout_scores(self, y_hat, k=3):
        """Precision@k and recall@k of the held-out rows' predictions ``y_hat`` [H, |G|] against their LLM labels,
        averaged over sessions; the same for the base-rate ranking (every session gets the most frequent intents)."""
        if self.holdout_rows.numel() == 0:
            return {"holdout_sessions": 0}
        k = min(k, y_hat.size(1))
        target = self.holdout_labels.to(y_hat.device)
        n_true = target.sum(1)
        hits = target.gather(1, y_hat.topk(k, dim=1).indices).sum(1)
        base = target[:, self.prior.topk(k).indices].sum(1)
        return {"holdout_sessions": int(target.size(0)),
                f"precision@{k}": float((hits / k).mean()), f"recall@{k}": float((hits / n_true).mean()),
                f"recall@{k}_base_rate": float((base / n_true).mean()), f"recall@{k}_chance": k / y_hat.size(1)}


def fusion_stats(passed):
    """Mean intents fused per row and the share of rows where phi passes nothing (Eq. 11), from the pass mask."""
    count = passed.sum(1).float()
    return {"fused_per_session": float(count.mean()), "share_nothing_fused": float((count == 0).float().mean())}
