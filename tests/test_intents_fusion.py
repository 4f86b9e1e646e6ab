"""Issue 13: which intents phi passes (Eq. 11 and our calibrated / top-m rules), the prior initialisation, the
``detach`` option's gradient path, and L_rec of Eq. 12 with its hard negative, on hand-made tensors."""

import pytest
import torch

import recbole_intent  # noqa: F401
from recbole_intent.model.intent_predictor import IntentPredictor
from recbole_intent.model.sampled_bce import next_item_bce


def _identity(n, d, **options):
    """A predictor with identity W_q, W_k, W_v and intent embeddings = the first n unit vectors."""
    p = IntentPredictor(n, d, dropout_prob=0.0, tau=0.5, **options)
    with torch.no_grad():
        p.intent_embedding.weight.copy_(torch.eye(d)[:n])
        for lin in (p.W_q, p.W_k, p.W_v):
            lin.weight.copy_(torch.eye(d))
    return p.eval()


def test_calibrated_rule_passes_intents_above_factor_times_their_base_rate():
    prior = torch.tensor([0.02, 0.2, 0.1])
    p = _identity(3, 3, fusion_rule="calibrated", fusion_factor=2.0, prior=prior)  # thresholds 0.04, 0.4, 0.2
    y = torch.tensor([[0.05, 0.3, 0.21], [0.03, 0.41, 0.19]])
    assert p.passes(y).tolist() == [[True, False, True], [False, True, False]]


def test_topm_rule_passes_exactly_the_m_highest():
    p = _identity(4, 4, fusion_rule="topm", fusion_m=2)
    y = torch.tensor([[0.1, 0.5, 0.3, 0.4], [0.9, 0.8, 0.7, 0.6]])
    assert p.passes(y).tolist() == [[False, True, False, True], [True, True, False, False]]


def test_fusion_adds_only_the_passed_intents_values():
    p = _identity(3, 3, fusion_rule="topm", fusion_m=1)
    h = torch.tensor([[2.0, 1.0, -1.0]])  # y = sigmoid(h): intent 0 is the single top one
    h_tilde, y = p(h)
    inner = h + torch.tensor([[torch.sigmoid(torch.tensor(2.0)).item(), 0.0, 0.0]])  # h + phi(y) V, v_0 = e_0
    assert torch.allclose(h_tilde, h + torch.nn.functional.layer_norm(inner, (3,)), atol=1e-6)  # Eq. 11
    assert torch.allclose(y, torch.sigmoid(h))


def test_prior_init_starts_every_intent_at_its_base_rate():
    torch.manual_seed(0)
    prior = torch.tensor([0.02, 0.3, 0.5])
    p = IntentPredictor(3, 4, 0.0, 0.5, init="prior", prior=prior)
    with torch.no_grad():
        p.intent_embedding.weight.zero_()  # q.k = 0: y = sigmoid(b) = prior
    assert torch.allclose(p.relevance(torch.randn(5, 4)), prior.expand(5, 3), atol=1e-6)
    assert "bias" in dict(p.named_parameters())
    assert "bias" not in dict(IntentPredictor(3, 4, 0.0, 0.5).named_parameters())  # the papers' Eq. 9: no bias
    normal = IntentPredictor(3, 4, 0.0, 0.5)
    assert torch.allclose(normal.relevance(torch.randn(5, 4)), torch.full((5, 3), 0.5), atol=0.02)  # all near tau


@pytest.mark.parametrize("rule", ["tau", "calibrated", "topm"])
def test_detach_stops_the_recommendation_gradient_into_y_hat(rule):
    torch.manual_seed(0)
    grads = {}
    for mode in ("full", "detach"):
        p = IntentPredictor(6, 8, 0.0, 0.5, fusion_rule=rule, fusion_grad=mode, fusion_factor=0.5, fusion_m=2)
        p.load_state_dict(IntentPredictor(6, 8, 0.0, 0.5, fusion_rule=rule).state_dict())
        with torch.no_grad():
            p.intent_embedding.weight.normal_()  # |q.k| of order 1: several intents pass under every rule
        h = torch.randn(4, 8)
        h_tilde, y = p(h)
        assert p.passes(y).any(), "the test needs fused intents"
        (h_tilde * torch.randn_like(h_tilde)).sum().backward()  # a stand-in for L_rec: it only sees h~
        grads[mode] = (p.W_q.weight.grad, p.W_v.weight.grad)
    assert grads["detach"][0] is None or bool((grads["detach"][0] == 0).all())  # W_q reaches h~ only through y_hat
    assert grads["full"][0].abs().sum() > 0
    assert grads["detach"][1].abs().sum() > 0  # the values still learn through the fusion


def test_bad_fusion_options_are_refused_with_their_key():
    with pytest.raises(ValueError, match="intent_fusion_rule"):
        IntentPredictor(3, 4, 0.0, 0.5, fusion_rule="median")
    with pytest.raises(ValueError, match="intent_fusion_grad"):
        IntentPredictor(3, 4, 0.0, 0.5, fusion_grad="stop")
    with pytest.raises(ValueError, match="intent_fusion_m"):
        IntentPredictor(3, 4, 0.0, 0.5, fusion_rule="topm", fusion_m=0)
    with pytest.raises(ValueError, match="intent_init"):
        IntentPredictor(3, 4, 0.0, 0.5, init="xavier")


def test_eq12_loss_value_and_the_hard_negative_effect():
    pos = torch.tensor([2.0, 0.5])
    easy = torch.tensor([[-1.0, -2.0], [0.0, -1.0]])  # two random negatives, scored low
    hard = torch.tensor([[-1.0, 3.0], [0.0, 1.5]])  # the second one is a hard negative the model scores high
    # -log sigmoid(x) = log(1 + e^-x): row 0 = 0.126928 (pos 2) + 0.313262 (neg -1) + 0.126928 (neg -2) = 0.567118,
    # row 1 = 0.474077 + 0.693147 + 0.313262 = 1.480486; mean 1.023802. With the hard negatives 3.0 and 1.5 instead:
    # 0.126928 + 0.313262 + 3.048587 = 3.488777 and 0.474077 + 0.693147 + 1.701413 = 2.868637; mean 3.178707.
    assert next_item_bce(pos, easy).item() == pytest.approx(1.023802, abs=1e-5)
    assert next_item_bce(pos, hard).item() == pytest.approx(3.178707, abs=1e-5)
    s = hard.clone().requires_grad_()
    next_item_bce(pos, s).backward()
    assert s.grad[0, 1] == pytest.approx(torch.sigmoid(torch.tensor(3.0)).item() / 2)  # pushed down hardest
    assert s.grad[0, 0] == pytest.approx(torch.sigmoid(torch.tensor(-1.0)).item() / 2)  # 0.1345 vs 0.4763
