"""The two training protocols (``--protocol=papers|strong``) and the papers' sampled BCE for plain backbones."""

import math

import pytest
import torch
from recbole.model.sequential_recommender import GRU4Rec, SASRec

from recbole_intent.config import Config
from recbole_intent.model.sampled_bce import SampledBCE, with_sampled_bce
from recbole_intent.utils import model_class


def test_papers_protocol_sets_eq12_dropout_and_l2_for_backbones_and_intent_models():
    for model in ("SASRec", "VELI_SASRec"):
        config = Config(model=model, dataset="beauty", config_dict={"protocol": "papers"})
        assert config["rec_loss"] == "bce" and config["weight_decay"] == 1e-4
        assert config["hidden_dropout_prob"] == 0.2 and config["attn_dropout_prob"] == 0.2
    sasrec = model_class(Config(model="SASRec", dataset="beauty", config_dict={"protocol": "papers"}))
    assert issubclass(sasrec, SampledBCE) and issubclass(sasrec, SASRec) and sasrec.__name__ == "SASRec"


def test_strong_protocol_gives_a_veli_model_its_backbones_recbole_regularisation():
    veli = Config(model="VELI_SASRec", dataset="beauty", config_dict={"protocol": "strong"})
    assert veli["rec_loss"] == "ce" and veli["weight_decay"] == 0.0
    assert veli["hidden_dropout_prob"] == 0.5  # RecBole's SASRec.yaml, not VELI_SASRec.yaml's 0.2
    assert Config(model="VELI_GRU4Rec", dataset="beauty", config_dict={"protocol": "strong"})["dropout_prob"] == 0.3
    assert model_class(Config(model="SASRec", dataset="beauty", config_dict={"protocol": "strong"})) is SASRec


def test_the_user_wins_over_the_protocol_and_unknown_protocols_are_named():
    config = Config(model="VELI_SASRec", dataset="beauty", config_dict={"protocol": "papers", "weight_decay": 0.01})
    assert config["weight_decay"] == 0.01
    with pytest.raises(ValueError, match="protocol 'paper' is unknown.*papers.*strong"):
        Config(model="SASRec", dataset="beauty", config_dict={"protocol": "paper"})
    with pytest.raises(ValueError, match="BERT4Rec"):
        model_class(Config(model="BERT4Rec", dataset="beauty", config_dict={"protocol": "papers"}))


class _Backbone(torch.nn.Module):
    """h_S = (1, 0); items 1: (2, 0), 2: (0, 1), 3: (-1, 0)."""

    ITEM_SEQ, ITEM_SEQ_LEN, POS_ITEM_ID, n_items = "seq", "len", "pos", 4

    def __init__(self):
        super().__init__()
        self.item_embedding = torch.nn.Embedding.from_pretrained(torch.tensor([[0.0, 0], [2, 0], [0, 1], [-1, 0]]))

    def forward(self, item_seq, item_seq_len):
        return torch.tensor([[1.0, 0.0]])


class _Sampled(SampledBCE, _Backbone):
    def __init__(self):
        _Backbone.__init__(self)

    def sample_negatives(self, pos):
        return torch.tensor([[2, 3]])


def test_sampled_bce_is_eq12_with_two_negatives_by_hand():
    loss = _Sampled().calculate_loss({"seq": None, "len": None, "pos": torch.tensor([1])})
    # -[log s(2) + log s(-0) + log s(-(-1))] = softplus(-2) + softplus(0) + softplus(-1)
    expected = math.log1p(math.exp(-2)) + math.log(2) + math.log1p(math.exp(-1))
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_random_negatives_never_hit_the_positive():
    model = with_sampled_bce(GRU4Rec).__new__(with_sampled_bce(GRU4Rec))
    model.n_items = 3
    pos = torch.full((2000,), 2)
    neg = SampledBCE.sample_negatives(model, pos)
    assert neg.shape == (2000, 2) and not (neg == 2).any() and neg.min() >= 1 and neg.max() <= 2
