"""``IntentEnhanced``: VELI4SBR / SPRINT Stage 2 on top of any RecBole sequential backbone.

Put it before a RecBole ``SequentialRecommender`` whose ``forward(item_seq, item_seq_len)`` returns the session
representation h_S [B, d] and whose items are scored with ``item_embedding`` (SASRec, GRU4Rec, NARM, STAMP, SRGNN,
GCSAN, NextItNet, LightSANs, ...): ``class VELI_SASRec(IntentEnhanced, SASRec)``. The backbone is not copied.

Training (Eq. 17): L_rec (Eq. 12) + lambda_intent L_intent (Eq. 10) + lambda_ortho L_ortho. Inference uses the
trained intent predictor only (Eq. 8-11): no intent file is read for validation or test sessions. The label table,
its masks and the held-out sessions of the intent diagnostics live in ``intent_labels.IntentLabels``.
"""

from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from recbole_intent.model.distributed import encode_sharded, enrichment_generator
from recbole_intent.model.enrichment import rows_per_chunk, topk_neighbours
from recbole_intent.model.intent_labels import IntentLabels, fusion_stats
from recbole_intent.model.intent_predictor import IntentPredictor, intent_bce
from recbole_intent.model.sampled_bce import next_item_bce, random_negatives


class _ProjectedText(nn.Module):
    """Stands in for ``item_embedding`` in the +LE branch: MLP(frozen text embedding) per item id.
    Ids beyond the text table (BERT4Rec's [MASK]) keep the backbone's own embedding."""

    def __init__(self, text_emb, proj, id_embedding):
        super().__init__()
        self.text_emb, self.proj, self.id_embedding = text_emb, proj, id_embedding

    def forward(self, ids):
        n = self.text_emb.num_embeddings
        out = self.proj(self.text_emb(ids.clamp(max=n - 1)))
        return torch.where((ids >= n).unsqueeze(-1), self.id_embedding(ids), out)  # no host sync on ``any()``


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
        self.enrich_seed = config["seed"]  # enrichment's random choices: the same on every rank (model/distributed.py)
        self.enrich_memory = float(config["enrich_memory_mb"]) * 2**20
        if not self.enrich_memory > 0:
            raise ValueError(f"enrich_memory_mb must be > 0, got {config['enrich_memory_mb']!r}")
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
        self._init_session_rows(dataset)
        user_intents = dataset.user_feat[config["intent_field"]]
        # Every training session holds one label row (Eq. 13); a seeded share of the labelled ones is held out.
        self.intent_labels = IntentLabels(user_intents, self.session_ids, user_intents.size(0), n_intents,
                                          config["intent_holdout"], config["seed"])
        self.intent_predictor = IntentPredictor(
            n_intents, dim, config["intent_dropout_prob"], config["intent_tau"],
            fusion_rule=config["intent_fusion_rule"], fusion_m=config["intent_fusion_m"],
            fusion_factor=config["intent_fusion_factor"], fusion_grad=config["intent_fusion_grad"],
            init=config["intent_init"], prior=self.intent_labels.prior)

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
        neg = random_negatives(pos, self.n_items)
        if self.use_hard_negatives and hard is not None and hard.numel():
            count = (hard > 0).sum(1)
            pick = (torch.rand(pos.size(0), device=pos.device) * count.clamp(min=1)).long()
            chosen = hard.gather(1, pick.unsqueeze(1)).squeeze(1)
            neg[:, 1] = torch.where((count > 0) & (chosen != pos), chosen, neg[:, 1])
        return neg

    def calculate_loss(self, interaction):
        item_seq, item_seq_len = interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN]
        pos = interaction[self.POS_ITEM_ID]
        h_tilde, _, logits = self.intent_predictor(self.session_representation(item_seq, item_seq_len), True)
        if self.rec_loss == "ce":
            rec = F.cross_entropy(h_tilde @ self.item_vectors().t(), pos)
        else:
            hard = interaction[self.hard_negative_field] if self.hard_negative_field in interaction else None  # noqa: SIM401
            neg = self.sample_negatives(pos, hard)
            pos_score = (h_tilde * self.item_vectors(pos)).sum(-1)
            neg_score = (h_tilde.unsqueeze(1) * self.item_vectors(neg)).sum(-1)
            rec = next_item_bce(pos_score, neg_score)
        labels, weight = self.intent_labels.batch(interaction[self.USER_ID])
        l_intent = intent_bce(logits, labels, weight)
        l_ortho = self.intent_predictor.orthogonality_loss()
        return rec, self.lambda_intent * l_intent, self.lambda_ortho * l_ortho

    def on_epoch_start(self, epoch_idx):
        """Algorithm 2: refresh y^(t) when t % rho == 0 (t = epoch_idx + 1, 1-based as in the paper); a resumed run
        does not redo the enrichment its checkpoint already holds."""
        due = self.enrich_mode != "none" and self.enrich_rho > 0 and (epoch_idx + 1) % self.enrich_rho == 0
        if due and int(self.intent_labels.enrich_epoch) != epoch_idx:
            self.enrich_intent_labels(epoch_idx)

    @torch.no_grad()
    def encode_sessions(self, rows=None):
        """h_S [n, d] and y_hat_S [n, |G|] (Eq. 9) of the training sessions' label rows ``rows`` (all by default),
        in batches that the enrichment memory budget allows (beside the backbone's own activations)."""
        rows = torch.arange(self.session_ids.numel(), device=self.session_ids.device) if rows is None else rows
        n_intents = self.intent_predictor.intent_embedding.num_embeddings
        dim = self.intent_predictor.intent_embedding.embedding_dim
        h = torch.empty(rows.numel(), dim, device=rows.device)
        y_hat = torch.empty(rows.numel(), n_intents, device=rows.device)
        # per session: its y_hat and h rows twice, plus ~16 [L, d] activations alive at once in the backbone's
        # forward (an estimate; tests/test_intents_memory.py measures the whole enrichment against the budget)
        per_row = 4 * (2 * n_intents + 2 * dim + 16 * self.session_seq.size(1) * dim)
        batch = min(self.enrich_batch_size, rows_per_chunk(self.enrich_memory, per_row))
        for start in range(0, rows.numel(), batch):
            part = rows[start:start + batch]
            h[start:start + batch] = self.session_representation(self.session_seq[part], self.session_len[part])
            y_hat[start:start + batch] = self.intent_predictor.relevance(h[start:start + batch])
        return h, y_hat

    @torch.no_grad()
    def enrich_intent_labels(self, epoch=-1):
        """Collaborative intent enrichment (Eq. 14-16) over the training sessions, with dropout off, its
        temporaries within ``enrich_memory_mb``."""
        was_training = self.training
        self.eval()
        # under several ranks each encodes its share and one all_gather assembles the rest (model/distributed.py)
        h, y_hat = encode_sharded(self.encode_sessions, self.session_ids.numel(), self.enrich_batch_size)
        idx, sim = topk_neighbours(h, self.enrich_k, self.enrich_scope, batch_size=self.enrich_batch_size,
                                   search=self.enrich_search, nprobe=self.enrich_nprobe,
                                   memory_bytes=self.enrich_memory,
                                   generator=enrichment_generator(self.enrich_seed, epoch))
        # Eq. 16 replaces every session's labels, the LLM's own included (the papers' reading; VELI4SBR); keeping
        # the validated LLM labels and enriching only the rest is ``enrich_keep_llm_labels`` (SPRINT's text).
        self.intent_labels.enrich(y_hat, idx, sim, self.enrich_mode, self.enrich_keep_llm_labels,
                                  memory_bytes=self.enrich_memory, epoch=epoch)
        self.train(was_training)

    @torch.no_grad()
    def intent_diagnostics(self, dataset=None, k=3):
        """Does the predictor follow the LLM, and does the fusion use it? Precision@k / recall@k of y_hat against
        the held-out sessions' LLM labels (``intent_holdout``), and the mean number of intents phi passes per row
        and the share of rows where it passes none (Eq. 11), over ``dataset``'s rows (e.g. the test split) or,
        without one, over the training sessions."""
        was_training = self.training
        self.eval()
        _, y_held = self.encode_sessions(self.intent_labels.holdout_rows)
        out = self.intent_labels.holdout_scores(y_held, k)
        if dataset is None:
            seq, length = self.session_seq, self.session_len
        else:
            seq, length = dataset.inter_feat[self.ITEM_SEQ], dataset.inter_feat[self.ITEM_SEQ_LEN]
        passed = torch.cat([
            self.intent_predictor.passes(self.intent_predictor.relevance(self.session_representation(
                seq[s:s + self.enrich_batch_size].to(self.session_seq.device),
                length[s:s + self.enrich_batch_size].to(self.session_seq.device))))
            for s in range(0, seq.size(0), self.enrich_batch_size)])
        self.train(was_training)
        return {**out, **fusion_stats(passed), "fusion_rule": self.intent_predictor.fusion_rule}

    # ---- inference -----------------------------------------------------------------------------------------------
    def predict(self, interaction):
        h_tilde, _, _ = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])
        return (h_tilde * self.item_vectors(interaction[self.ITEM_ID])).sum(-1)

    def full_sort_predict(self, interaction):
        h_tilde, _, _ = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])
        return h_tilde @ self.item_vectors().t()
