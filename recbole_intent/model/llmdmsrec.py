"""LLM-DMsRec (paper 003) on RecBole's SRGNN: Phase III (the model). Phase I (the candidate set of a pretrained
backbone, generate/views/candidates.py) and Phase II (the LLM) are ``python -m recbole_intent.generate.views
--method dmsrec``.

``<d>.dmsrec`` holds, per row of every split (``<session_id>#<prefix length>``), the items the LLM chose as intents
from the candidate set, split into explicit (clicked in the session) and latent ones (Eq. 5). Each intent is an item
of the candidate set, so its text embedding (Eq. 6-7) is that item's row of ``<d>.itememb``; they are mean-pooled here
(E_e, E_l of §4.2), so the file holds ids, not vectors.
"""

import math

import torch
import torch.nn.functional as F
from recbole.model.sequential_recommender import GCSAN, SRGNN
from torch import nn

from recbole_intent.data.view_files import VIEW_FIELDS
from recbole_intent.model.llm4sbr import VIEW_ROW, LLMViewDataset, ViewScoring, next_item_loss


class LLMDMsRecDataset(LLMViewDataset):
    method = "dmsrec"
    view_fields = VIEW_FIELDS["dmsrec"]


def kl_alignment(g, e):
    """Eq. 10/11: KL(G~ || E~) with G~, E~ the softmax of the two d-dim vectors over their dimensions; batch mean."""
    log_g, log_e = F.log_softmax(g, dim=-1), F.log_softmax(e, dim=-1)
    return (log_g.exp() * (log_g - log_e)).sum(-1).mean()


class LLMDMsRec(ViewScoring):
    """Put before a RecBole sequential backbone whose ``forward`` returns the session representation G (Eq. 8) and
    whose items are scored with ``item_embedding``: ``class LLMDMsRec_SRGNN(LLMDMsRec, SRGNN)``.
    S = W [G, w E_e + b, w E_l + b] (Eq. 9); L = L_rec + sigma (alpha L_e + beta L_l) (Eq. 10-15)."""

    dataset_class = LLMDMsRecDataset
    # sigma of Eq. 15 in the authors' released code for this backbone (``sigma_from: released``); None: no such code.
    RELEASED_SIGMA = None

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        d = self.item_embedding.embedding_dim
        self.alpha, self.beta, self.sigma = config["alpha"], config["beta"], self._sigma(config)
        text = torch.as_tensor(dataset.get_preload_weight(config["text_emb_id_field"]), dtype=torch.float32)
        self.register_buffer("item_text", text, persistent=False)  # frozen intent (= item) text embeddings
        for field in LLMDMsRecDataset.view_fields:
            self.register_buffer(field, torch.as_tensor(dataset.get_preload_weight(field)), persistent=False)
        self.intent_dropout = nn.Dropout(config["intent_dropout_prob"])  # released SR-GNN code; the paper is silent
        self.intent_proj = nn.Linear(text.size(1), d)  # w, b of §4.3, shared by E_e and E_l as in the paper
        self.fuse = nn.Linear(3 * d, d)  # W of Eq. 9
        for p in (*self.intent_proj.parameters(), *self.fuse.parameters()):
            nn.init.uniform_(p, -1 / math.sqrt(d), 1 / math.sqrt(d))  # SR-GNN's initialisation, as in the released code

    def _sigma(self, config):
        """The paper's sigma (``sigma_from: paper``, the ``sigma`` key) or the constant the released code multiplies
        the KL term by for this backbone (``sigma_from: released``)."""
        source = config["sigma_from"] or "paper"
        if source not in ("paper", "released"):
            raise ValueError(f"sigma_from must be 'paper' or 'released', got {source!r}")
        if source == "paper":
            return config["sigma"]
        if self.RELEASED_SIGMA is None:
            raise ValueError(f"sigma_from=released: the authors released no {type(self).__name__} code; use "
                             f"sigma_from=paper (sigma={config['sigma']})")
        return self.RELEASED_SIGMA

    def intent_features(self, rows):
        """E_e, E_l (§4.2): mean of the explicit / latent intents' text embeddings. A row with only one kind uses it
        for both (the released code's rule; the paper is silent); ``has`` is False for rows without any intent."""
        pooled = []
        for field in ("explicit_items", "latent_items"):
            ids = getattr(self, field)[rows]
            mask = (ids > 0).unsqueeze(-1).float()
            pooled.append(((self.item_text[ids] * mask).sum(1) / mask.sum(1).clamp(min=1), mask.sum((1, 2)) > 0))
        (exp, has_e), (lat, has_l) = pooled
        return torch.where(has_e[:, None], exp, lat), torch.where(has_l[:, None], lat, exp), has_e | has_l

    def forward(self, item_seq, item_seq_len, rows):
        g = super().forward(item_seq, item_seq_len)  # Eq. 8: the backbone's structural intent G
        e_e, e_l, has = self.intent_features(rows)
        e_bar, l_bar = self.intent_proj(self.intent_dropout(e_e)), self.intent_proj(self.intent_dropout(e_l))
        return self.fuse(torch.cat([g, e_bar, l_bar], dim=1)), g, e_bar, l_bar, has  # Eq. 9

    def _inputs(self, interaction):
        return interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN], interaction[VIEW_ROW]

    def calculate_loss(self, interaction):
        s, g, e_bar, l_bar, has = self.forward(*self._inputs(interaction))
        info = g.new_zeros(())
        if has.any():  # Eq. 12 over the rows that have LLM intents
            info = self.alpha * kl_alignment(g[has], e_bar[has]) + self.beta * kl_alignment(g[has], l_bar[has])
        return next_item_loss(self, s, interaction), self.sigma * info  # Eq. 15 (L_r: Eq. 13-14)


class LLMDMsRec_SRGNN(LLMDMsRec, SRGNN):
    # nsswtt/LLM-DMsRec models/SR-GNN/pytorch_code/model.py: ``return scores, con_loss * 0.0`` (its GCE-GNN: 0.7,
    # SHARE: 0.2, TAGNN: 0.3, MSGIFSR: 0.0), so the released SR-GNN variant trains without the alignment loss.
    RELEASED_SIGMA = 0.0


class LLMDMsRec_GCSAN(LLMDMsRec, GCSAN):
    """The paper's plug-in claim on a second GNN backbone (§5.3.1 pairs it with several SBR models). GCSAN's own
    L2 term on the item embeddings (``reg_weight``) is not added: Eq. 15 is L_rec + sigma (alpha L_e + beta L_l)."""
