"""VELI4SBR / SPRINT models on RecBole's backbones: the backbone class is reused as it is, never copied.

``VELI_<Backbone>`` reads its hyper-parameters from ``properties/model/VELI_<Backbone>.yaml`` (backbone keys repeated
there) plus ``properties/intent.yaml``; ``SPRINT_SASRec`` differs only by its YAML (in-batch neighbours, SPRINT §4.2.2).
"""

from recbole.model.sequential_recommender import (
    GCSAN,
    NARM,
    SRGNN,
    STAMP,
    BERT4Rec,
    GRU4Rec,
    LightSANs,
    NextItNet,
    SASRec,
)

from recbole_intent.model.veli import IntentEnhanced


class VELI_SASRec(IntentEnhanced, SASRec):
    """h_S = the Transformer's hidden state at the last item (VELI4SBR footnote 4)."""


class SPRINT_SASRec(VELI_SASRec):
    """SPRINT: the same Stage-2 model with neighbours taken within mini-batches (Eq. 12 of SPRINT)."""


class VELI_GRU4Rec(IntentEnhanced, GRU4Rec):
    """h_S = the GRU's hidden state at the last item."""


class VELI_BERT4Rec(IntentEnhanced, BERT4Rec):
    """h_S = BERT4Rec's output at a [MASK] appended after the last item, exactly as BERT4Rec predicts.

    Training uses that same position with Eq. 12 (next-item BCE) instead of BERT4Rec's cloze task, so that training
    and inference see the same representation; BERT4Rec's per-item output bias is not used (Eq. 12 has none).
    """

    def backbone_forward(self, item_seq, item_seq_len):
        seq = self.reconstruct_test_data(item_seq, item_seq_len)
        return self.gather_indexes(BERT4Rec.forward(self, seq), item_seq_len - 1)


class VELI_NARM(IntentEnhanced, NARM):
    pass


class VELI_STAMP(IntentEnhanced, STAMP):
    pass


class VELI_SRGNN(IntentEnhanced, SRGNN):
    pass


class VELI_GCSAN(IntentEnhanced, GCSAN):
    pass


class VELI_NextItNet(IntentEnhanced, NextItNet):
    """NextItNet's forward takes no lengths; h_S is its output at the last position, as NextItNet predicts."""

    def backbone_forward(self, item_seq, item_seq_len):
        return NextItNet.forward(self, item_seq)


class VELI_LightSANs(IntentEnhanced, LightSANs):
    pass
