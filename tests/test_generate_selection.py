"""Session selection: the math of SPRINT Eq. 3-4 on hand-made tensors, and a tiny warmed-up SASRec end to end."""

import math

import pytest
import torch

from recbole_intent.generate.common import data
from recbole_intent.generate.common.settings import make_config
from recbole_intent.generate.pnc.selection import descending_ranks, rrf_scores, select_sessions, top_by_score
from recbole_intent.generate.pnc.uncertainty import prediction_entropy, session_entropy
from recbole_intent.testing.synthetic import write_dataset


def test_session_entropy_eq3_on_hand_made_tensors():
    emb = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [5.0, 0.0]])
    h = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    got = session_entropy(h, emb, [[0, 1, 2], [0, 3, 0]])
    # h = 0: uniform over the 3 session items -> log 3
    assert got[0].item() == pytest.approx(math.log(3), abs=1e-6)
    # h = (2, 0) over the distinct items {0, 3}: logits 2 and 10 (the repeated item 0 counts once)
    p = torch.softmax(torch.tensor([2.0, 10.0]), 0)
    assert got[1].item() == pytest.approx(float(-(p * p.log()).sum()), abs=1e-6)


def test_prediction_entropy_is_nll_over_all_items():
    emb = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    h = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    got = prediction_entropy(h, emb, torch.tensor([2, 0]))
    logits = torch.tensor([1.0, 2.0, 3.0])
    assert got[0].item() == pytest.approx(float(-torch.log_softmax(logits, 0)[2]), abs=1e-6)
    assert got[1].item() == pytest.approx(math.log(3), abs=1e-6)


def test_ranks_and_reciprocal_rank_fusion_eq4():
    assert descending_ranks([0.2, 0.9, 0.5, 0.9]) == [4, 1, 3, 2]  # ties keep input order
    h_sess, h_pred = [3.0, 1.0, 2.0], [0.1, 0.3, 0.2]
    scores = rrf_scores(h_sess, h_pred, k=60)
    # ranks: sess (1, 3, 2), pred (3, 1, 2)
    assert scores == pytest.approx([1 / 61 + 1 / 63, 1 / 63 + 1 / 61, 1 / 62 + 1 / 62])
    assert top_by_score([0.1, 0.5, 0.3, 0.5], 0.5) == [1, 3]
    assert top_by_score([0.1] * 7, 0.1) == [0]  # at least one session
    assert rrf_scores([], [], k=60) == []


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("sel")
    write_dataset(str(root), n_sessions=60, n_items=30, seed=3)
    return str(root)


def _cfg(root, **over):
    argv = ["--dataset", "tiny", "--data_path", root, "--seed", "0", "--ratio", "0.25"]
    small = {"warmup_hidden_size": 8, "warmup_epochs": 1, "warmup_layers": 1, "warmup_heads": 1}
    return make_config(argv, {**small, "cache_dir": root + "/cache", **over})


def test_uncertainty_selection_with_a_tiny_warmed_up_sasrec(tiny):
    cfg = _cfg(tiny)
    sessions = data.load_train_sessions(cfg)
    selected, info = select_sessions(sessions, cfg)
    assert len(selected) == round(0.25 * len(sessions)) == 12
    assert len({s.session_id for s in selected}) == 12 and set(selected) <= set(sessions)
    assert info["select"] == "uncertainty" and info["h_sess_mean"] > 0 and info["h_pred_mean"] > 0
    assert info["warmup_items"] == 31  # 30 items + RecBole's padding id 0


def test_random_and_all_selection(tiny):
    sessions = data.load_train_sessions(_cfg(tiny))
    first, _ = select_sessions(sessions, _cfg(tiny, select="random"))
    again, _ = select_sessions(sessions, _cfg(tiny, select="random"))
    other, _ = select_sessions(sessions, _cfg(tiny, select="random", seed=1))
    assert first == again and first != other and len(first) == 12
    assert select_sessions(sessions, _cfg(tiny, select="all"))[0] == sessions


def test_training_sessions_are_rebuilt_from_the_longest_prefix_row(tiny):
    sessions = data.load_train_sessions(_cfg(tiny))
    raw = write_dataset(tiny + "/copy", n_sessions=60, n_items=30, seed=3)["train"]
    assert [(s.session_id, list(s.items)) for s in sessions] == [(sid, items) for sid, items in raw]
