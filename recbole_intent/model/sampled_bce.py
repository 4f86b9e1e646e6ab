"""The papers' training objective for a plain RecBole backbone (``protocol: papers``).

VELI4SBR's and SPRINT's backbone rows equal their "no intents" ablation rows to the last digit (VELI4SBR Table 4
"Base" = Table 2 SASRec), so the backbones were trained with the same sampled binary cross-entropy as Eq. 12:
L = -[log sigmoid(h_S . e_pos) + sum_{2 negatives} log sigmoid(-h_S . e_neg)], with two uniformly random negatives
(a backbone has no P&C hard negatives). RecBole's own choices are softmax CE or BPR with one negative, neither of which
is Eq. 12, hence this mixin: ``with_sampled_bce(SASRec)`` is SASRec with that loss and nothing else changed.
"""

import torch
import torch.nn.functional as F

N_NEGATIVES = 2  # Eq. 12: one random + one hard negative; a backbone draws both at random


def next_item_bce(pos_score, neg_score):
    """L_rec (Eq. 12): -[log sigmoid(s_pos) + sum_neg log sigmoid(-s_neg)], averaged over the batch instead of summed
    (same optimum; keeps RecBole's learning rates). ``neg_score`` [B, 2]: the random and the hard negative."""
    return -(F.logsigmoid(pos_score) + F.logsigmoid(-neg_score).sum(-1)).mean()


def random_negatives(pos, n_items, n=N_NEGATIVES):
    """[B, n] uniform item ids in [1, n_items), never the positive."""
    neg = torch.randint(1, n_items, (pos.size(0), n), device=pos.device)
    return torch.where(neg == pos.unsqueeze(1), neg % (n_items - 1) + 1, neg)


class SampledBCE:
    """Put before a RecBole sequential backbone whose ``forward(item_seq, item_seq_len)`` returns h_S and whose items
    are scored with ``item_embedding`` (SASRec, GRU4Rec, NARM, STAMP, SRGNN, GCSAN, LightSANs, ...)."""

    def __init__(self, config, dataset):
        config["loss_type"] = "CE"  # the backbones' constructors accept only BPR / CE; CE builds no extra module
        super().__init__(config, dataset)

    def sample_negatives(self, pos):
        return random_negatives(pos, self.n_items)

    def calculate_loss(self, interaction):
        h = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])
        pos = interaction[self.POS_ITEM_ID]
        pos_score = (h * self.item_embedding(pos)).sum(-1)
        neg_score = (h.unsqueeze(1) * self.item_embedding(self.sample_negatives(pos))).sum(-1)
        return next_item_bce(pos_score, neg_score)


_WRAPPED = {}


def with_sampled_bce(model_class):
    """``model_class`` trained with the papers' sampled BCE; same name, so configs, logs and checkpoints agree."""
    if model_class not in _WRAPPED:
        _WRAPPED[model_class] = type(model_class.__name__, (SampledBCE, model_class), {"__doc__": model_class.__doc__})
    return _WRAPPED[model_class]
