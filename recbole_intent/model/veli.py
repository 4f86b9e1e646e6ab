"""``IntentEnhanced``: VELI4SBR / SPRINT Stage 2 on top of any RecBole sequential backbone.

Put it before a RecBole ``SequentialRecommender`` whose ``forward(item_seq, item_seq_len)`` returns the session
representation h_S [B, d] and whose items are scored with ``item_embedding`` (SASRec, GRU4Rec, NARM, STAMP, SRGNN,
GCSAN, NextItNet, LightSANs, ...): ``class VELI_SASRec(IntentEnhanced, SASRec)``. The backbone is not copied.

Training (Eq. 17): L_rec (Eq. 12) + lambda_intent L_intent (Eq. 10) + lambda_ortho L_ortho. Inference uses the
trained intent predictor only (Eq. 8-11): no intent file is read for validation or test sessions.
"""

from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from recbole_intent.model.enrichment import enrich_labels, topk_neighbours
from recbole_intent.model.intent_predictor import IntentPredictor, intent_bce


class _ProjectedText(nn.Module):
    """Stands in for ``item_embedding`` in the +LE branch: MLP(frozen text embedding) per item id.
    Ids beyond the text table (BERT4Rec's [MASK]) keep the backbone's own embedding."""

    def __init__(self, text_emb, proj, id_embedding):
        super().__init__()
        self.text_emb, self.proj, self.id_embedding = text_emb, proj, id_embedding

    def forward(self, ids):
        n = self.text_emb.num_embeddings
        out = self.proj(self.text_emb(ids.clamp(max=n - 1)))
        outside = ids >= n
        return torch.where(outside.unsqueeze(-1), self.id_embedding(ids), out) if outside.any() else out


class IntentEnhanced:
    input_intents = True  # tells Config / create_dataset to load the intent files

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self.lambda_intent = config["lambda_intent"]
        self.lambda_ortho = config["lambda_ortho"]
        self.rec_loss = config["rec_loss"]
        self.use_hard_negatives = config["use_hard_negatives"]
        self.enrich_mode, self.enrich_scope = config["enrich_mode"], config["enrich_scope"]
        self.enrich_k, self.enrich_rho = config["enrich_k"], config["enrich_rho"]
        self.enrich_keep_llm_labels = config["enrich_keep_llm_labels"]
        self.enrich_search, self.enrich_nprobe = config["enrich_search"], config["enrich_nprobe"]
        self.enrich_batch_size = config["train_batch_size"]
        self.hard_negative_field = config["hard_negative_field"]
        if self.rec_loss not in ("bce", "ce"):
            raise ValueError(f"rec_loss must be 'bce' (Eq. 12) or 'ce', got {self.rec_loss!r}")

        dim = self.item_embedding.embedding_dim
        self.use_text_emb = config["use_text_emb"]
        if self.use_text_emb:  # +LE (VELI4SBR B.1): frozen text embedding -> 2-layer MLP -> same backbone, concat
            weight = torch.as_tensor(dataset.get_preload_weight(config["text_emb_id_field"]), dtype=torch.float32)
            self.text_emb = nn.Embedding.from_pretrained(weight, freeze=True)
            self.text_proj = nn.Sequential(nn.Linear(weight.size(1), dim), nn.GELU(), nn.Linear(dim, dim))
            object.__setattr__(self, "_text_items", _ProjectedText(self.text_emb, self.text_proj, self.item_embedding))
            dim *= 2
        n_intents = dataset.num(config["intent_id_field"]) - 1  # id 0 is RecBole's [PAD]
        self.intent_predictor = IntentPredictor(n_intents, dim, config["intent_dropout_prob"], config["intent_tau"])
        self._init_labels(dataset, config["intent_field"], n_intents)
        self._init_session_rows(dataset)

    def _init_labels(self, dataset, intent_field, n_intents):
        """y^(0) (Eq. 13): 1 for the LLM's validated intents; sessions without any (LLM failure, not selected)
        carry no intent loss until the first enrichment."""
        ids = dataset.user_feat[intent_field].long()
        labels = torch.zeros(ids.size(0), n_intents + 1).scatter_(1, ids, 1.0)[:, 1:]
        llm_mask = labels.sum(1) > 0
        self.register_buffer("intent_labels", labels, persistent=False)
        self.register_buffer("label_mask", llm_mask.clone(), persistent=False)
        self.register_buffer("llm_label_mask", llm_mask, persistent=False)

    def _init_session_rows(self, dataset):
        """One row per training session for enrichment: its longest prefix, i.e. the session minus its last item
        (what the P&C loop showed the LLM)."""
        inter = dataset.inter_feat
        sid = inter[self.USER_ID].numpy()
        length = inter[self.ITEM_SEQ_LEN].numpy()
        order = np.lexsort((length, sid))
        last = order[np.r_[sid[order][1:] != sid[order][:-1], True]] if len(order) else order
        last = torch.as_tensor(last)
        self.register_buffer("session_ids", inter[self.USER_ID][last].long(), persistent=False)
        self.register_buffer("session_seq", inter[self.ITEM_SEQ][last].long(), persistent=False)
        self.register_buffer("session_len", inter[self.ITEM_SEQ_LEN][last].long(), persistent=False)

    # ---- representations -------------------------------------------------------------------------------------
    def backbone_forward(self, item_seq, item_seq_len):
        return super().forward(item_seq, item_seq_len)

    @contextmanager
    def _text_inputs(self):
        original = self._modules["item_embedding"]
        self._modules["item_embedding"] = self._text_items
        try:
            yield
        finally:
            self._modules["item_embedding"] = original

    def session_representation(self, item_seq, item_seq_len):
        h = self.backbone_forward(item_seq, item_seq_len)
        if self.use_text_emb:
            with self._text_inputs():
                h = torch.cat([h, self.backbone_forward(item_seq, item_seq_len)], dim=-1)
        return h

    def item_vectors(self, items=None):
        """Item representations e_i used for scoring ([ID ; MLP(LE)] for +LE); all items when ``items`` is None."""
        emb = self.item_embedding.weight[: self.n_items] if items is None else self.item_embedding(items)
        if self.use_text_emb:
            text = self.text_emb.weight[: self.n_items] if items is None else self.text_emb(items)
            emb = torch.cat([emb, self.text_proj(text)], dim=-1)
        return emb

    def forward(self, item_seq, item_seq_len):
        """Returns h~_S (Eq. 11), the intent relevance y_hat_S (Eq. 9) and the backbone's h_S."""
        h = self.session_representation(item_seq, item_seq_len)
        h_tilde, y_hat = self.intent_predictor(h)
        return h_tilde, y_hat, h

    # ---- training ------------------------------------------------------------------------------------------------
    def sample_negatives(self, pos, hard):
        """Two negatives per row (Eq. 12): one random and one hard negative of the session's P&C loop, or two
        random ones when the session has none."""
        neg = torch.randint(1, self.n_items, (pos.size(0), 2), device=pos.device)
        neg = torch.where(neg == pos.unsqueeze(1), neg % (self.n_items - 1) + 1, neg)  # never the positive
        if self.use_hard_negatives and hard is not None and hard.numel():
            count = (hard > 0).sum(1)
            pick = (torch.rand(pos.size(0), device=pos.device) * count.clamp(min=1)).long()
            chosen = hard.gather(1, pick.unsqueeze(1)).squeeze(1)
            neg[:, 1] = torch.where((count > 0) & (chosen != pos), chosen, neg[:, 1])
        return neg

    def calculate_loss(self, interaction):
        item_seq, item_seq_len = interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN]
        pos = interaction[self.POS_ITEM_ID]
        h_tilde, y_hat, _ = self.forward(item_seq, item_seq_len)
        if self.rec_loss == "ce":
            rec = F.cross_entropy(h_tilde @ self.item_vectors().t(), pos)
        else:
            # Eq. 12, averaged over the batch instead of summed (same optimum; keeps RecBole's learning rates).
            hard = interaction[self.hard_negative_field] if self.hard_negative_field in interaction else None  # noqa: SIM401
            neg = self.sample_negatives(pos, hard)
            pos_score = (h_tilde * self.item_vectors(pos)).sum(-1)
            neg_score = (h_tilde.unsqueeze(1) * self.item_vectors(neg)).sum(-1)
            rec = -(F.logsigmoid(pos_score) + F.logsigmoid(-neg_score).sum(-1)).mean()
        sid = interaction[self.USER_ID]
        l_intent = intent_bce(y_hat, self.intent_labels[sid], self.label_mask[sid])
        l_ortho = self.intent_predictor.orthogonality_loss()
        return rec, self.lambda_intent * l_intent, self.lambda_ortho * l_ortho

    def on_epoch_start(self, epoch_idx):
        """Algorithm 2: refresh y^(t) when t % rho == 0 (t = epoch_idx + 1, 1-based as in the paper)."""
        if self.enrich_mode != "none" and self.enrich_rho > 0 and (epoch_idx + 1) % self.enrich_rho == 0:
            self.enrich_intent_labels()

    @torch.no_grad()
    def enrich_intent_labels(self):
        """Collaborative intent enrichment (Eq. 14-16) over the training sessions, with dropout off."""
        was_training = self.training
        self.eval()
        hs, ys = [], []
        for start in range(0, self.session_ids.numel(), self.enrich_batch_size):
            stop = start + self.enrich_batch_size
            h = self.session_representation(self.session_seq[start:stop], self.session_len[start:stop])
            hs.append(h)
            ys.append(self.intent_predictor.relevance(h))
        h, y_hat = torch.cat(hs), torch.cat(ys)
        idx, sim = topk_neighbours(h, self.enrich_k, self.enrich_scope, batch_size=self.enrich_batch_size,
                                   search=self.enrich_search, nprobe=self.enrich_nprobe)
        enriched = enrich_labels(y_hat, idx, sim, self.enrich_mode)
        # Eq. 16 replaces every session's labels, the LLM's own included (the papers' reading); keeping the
        # validated LLM labels and enriching only the rest is the ``enrich_keep_llm_labels`` option.
        write = ~self.llm_label_mask[self.session_ids] if self.enrich_keep_llm_labels else slice(None)
        self.intent_labels[self.session_ids[write]] = enriched[write]
        self.label_mask[self.session_ids] = True
        self.train(was_training)

    # ---- inference -----------------------------------------------------------------------------------------------
    def predict(self, interaction):
        h_tilde, _, _ = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])
        return (h_tilde * self.item_vectors(interaction[self.ITEM_ID])).sum(-1)

    def full_sort_predict(self, interaction):
        h_tilde, _, _ = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])
        return h_tilde @ self.item_vectors().t()
