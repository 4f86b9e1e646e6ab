"""The papers' Stage-2 equations, checked on hand-made tensors."""

import math

import pytest
import torch

import recbole_intent  # noqa: F401
from recbole_intent.model.enrichment import enrich_labels, topk_neighbours
from recbole_intent.model.intent_predictor import IntentPredictor, intent_bce, threshold_filter


def _identity_predictor(intent_vectors, tau=0.5):
    """An IntentPredictor whose W_q, W_k, W_v are identities, so the equations can be computed by hand."""
    n, d = intent_vectors.shape
    p = IntentPredictor(n, d, dropout_prob=0.0, tau=tau)
    with torch.no_grad():
        p.intent_embedding.weight.copy_(intent_vectors)
        for lin in (p.W_q, p.W_k, p.W_v):
            lin.weight.copy_(torch.eye(d))
        p.layer_norm.weight.fill_(1.0)
        p.layer_norm.bias.zero_()
    return p.eval()


def test_threshold_filter_keeps_values_strictly_above_tau():
    y = torch.tensor([0.2, 0.5, 0.51, 0.9])
    assert torch.equal(threshold_filter(y, 0.5), torch.tensor([0.0, 0.0, 0.51, 0.9]))


def test_relevance_is_sigmoid_of_query_key_product():
    intents = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, -1.0]])
    p = _identity_predictor(intents)
    h = torch.tensor([[2.0, 1.0]])
    expected = torch.sigmoid(torch.tensor([[2.0, 2.0, -3.0]]))  # q.k with identity projections (Eq. 8-9)
    assert torch.allclose(p.relevance(h), expected)


def test_fusion_uses_only_intents_above_tau_weighted_by_relevance():
    intents = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    p = _identity_predictor(intents)
    h = torch.tensor([[3.0, -1.0]])  # y = sigmoid([3, -1]) = [0.953, 0.269]: only intent 0 passes tau = 0.5
    h_tilde, y = p(h)
    y0 = torch.sigmoid(torch.tensor(3.0))
    inner = h + torch.tensor([[y0, 0.0]])  # h + sum_c phi(y_c) v_c
    g = torch.nn.functional.layer_norm(inner, (2,))
    assert torch.allclose(h_tilde, h + g, atol=1e-6)  # h~ = h + Dropout(LayerNorm(...)) (Eq. 11)
    assert y[0, 1] < 0.5


def test_intent_bce_averages_over_pool_then_labelled_rows():
    y_hat = torch.tensor([[0.9, 0.2], [0.3, 0.6], [0.5, 0.5]])
    y = torch.tensor([[1.0, 0.0], [0.5, 0.5], [1.0, 1.0]])
    mask = torch.tensor([True, True, False])

    def bce(p, t):
        return -(t * math.log(p) + (1 - t) * math.log(1 - p))

    row0 = (bce(0.9, 1) + bce(0.2, 0)) / 2  # Eq. 10: mean over |G|
    row1 = (bce(0.3, 0.5) + bce(0.6, 0.5)) / 2
    logits = torch.logit(y_hat)  # L_intent takes the logits q.k of Eq. 9
    assert intent_bce(logits, y, mask).item() == pytest.approx((row0 + row1) / 2, rel=1e-5)
    assert intent_bce(logits, y, mask.float()).item() == pytest.approx((row0 + row1) / 2, rel=1e-5)  # weights
    assert intent_bce(logits, y, torch.zeros(3, dtype=torch.bool)).item() == 0.0


def test_intent_bce_in_logits_form_equals_the_sigmoid_formula_away_from_the_clamp():
    torch.manual_seed(0)
    logits, y = 3 * torch.randn(16, 5), torch.rand(16, 5)
    old = torch.nn.functional.binary_cross_entropy(torch.sigmoid(logits).clamp(1e-7, 1 - 1e-7), y)
    assert intent_bce(logits, y).item() == pytest.approx(old.item(), rel=1e-5)
    # where the old clamp bit (z = 30: sigmoid rounds to 1), the logits form keeps the exact loss, 30 * (1 - y)
    assert intent_bce(torch.tensor([[30.0]]), torch.tensor([[0.0]])).item() == pytest.approx(30.0, rel=1e-6)


def test_orthogonality_loss_matches_pairwise_definition():
    torch.manual_seed(0)
    p = IntentPredictor(5, 4, 0.0, 0.5)
    e = torch.nn.functional.normalize(p.intent_embedding.weight, dim=-1)
    brute = sum(((e[i] - e[j]) ** 2).sum() for i in range(5) for j in range(5) if i != j)
    assert p.orthogonality_loss().item() == pytest.approx(-(brute / 20).item(), rel=1e-5)


def test_global_neighbours_are_topk_cosine_excluding_self():
    h = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [-1.0, 0.0]])
    idx, sim = topk_neighbours(h, k=1, scope="global", chunk_size=2)  # chunking must not change the answer
    assert idx[:, 0].tolist() == [1, 0, 3, 2, 2]  # [-1, 0] is orthogonal to [0, 1], opposite-ish to the rest
    hn = torch.nn.functional.normalize(h, dim=-1)
    assert torch.allclose(sim[:, 0], (hn * hn[idx[:, 0]]).sum(-1))


def test_batch_neighbours_stay_inside_their_mini_batch():
    torch.manual_seed(1)
    h = torch.randn(40, 8)
    gen = torch.Generator().manual_seed(3)
    idx, _ = topk_neighbours(h, k=3, scope="batch", batch_size=10, generator=gen)
    perm = torch.randperm(40, generator=torch.Generator().manual_seed(3))
    batch_of = torch.empty(40, dtype=torch.long)
    batch_of[perm] = torch.arange(40) // 10
    assert (batch_of[idx] == batch_of.unsqueeze(1)).all()
    assert (idx != torch.arange(40).unsqueeze(1)).all()


def test_enrichment_is_half_self_half_softmax_weighted_neighbours():
    y_hat = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    idx = torch.tensor([[1, 2], [0, 2], [0, 1]])
    sim = torch.tensor([[0.8, 0.2], [0.1, 0.1], [0.0, 1.0]])
    w0 = torch.softmax(sim[0], 0)  # w_S' = exp(sim) / sum exp(sim) (Eq. 15 footnote)
    nbr0 = w0[0] * y_hat[1] + w0[1] * y_hat[2]
    out = enrich_labels(y_hat, idx, sim, "both", chunk_size=2)
    assert torch.allclose(out[0], 0.5 * (y_hat[0] + nbr0))  # Eq. 16
    assert torch.allclose(out[1], 0.5 * (y_hat[1] + 0.5 * (y_hat[0] + y_hat[2])))
    assert torch.allclose(enrich_labels(y_hat, idx, sim, "self"), y_hat)
    assert torch.allclose(enrich_labels(y_hat, idx, sim, "nbr")[0], nbr0)
    with pytest.raises(ValueError, match="enrich_mode"):
        enrich_labels(y_hat, idx, sim, "bogus")


def test_ivf_search_finds_nearly_all_exact_neighbours():
    torch.manual_seed(0)
    centers = torch.randn(20, 16)
    h = centers[torch.randint(0, 20, (3000,))] + 0.5 * torch.randn(3000, 16)
    exact, _ = topk_neighbours(h, k=5, chunk_size=256)
    approx, sim = topk_neighbours(h, k=5, search="ivf", nprobe=8, ivf_min_sessions=0,
                                  generator=torch.Generator().manual_seed(0))
    recall = (exact.unsqueeze(2) == approx.unsqueeze(1)).any(2).float().mean().item()
    assert recall > 0.9  # approximate (0.9995 here), through the IVF path: ivf_min_sessions=0 forces it
    assert (approx != torch.arange(3000).unsqueeze(1)).all()  # S' != S
    assert torch.isfinite(sim).all()


def test_enriched_labels_stay_valid_bce_targets_despite_rounding():
    y_hat = torch.ones(4, 3)  # all-one predictions: any rounding above 1 would break the BCE of Eq. 10
    idx = torch.tensor([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])
    sim = torch.tensor([[0.3, 0.2, 0.1]] * 4)
    out = enrich_labels(y_hat, idx, sim)
    assert out.max() <= 1.0 and out.min() >= 0.0
