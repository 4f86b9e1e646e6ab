"""LLMDMsRec_SRGNN on a tiny dataset with per-row intent files written here, and its equations."""

import math
import os

import pytest
import torch
from test_llm4sbr import METRICS, build, train_and_test, write_views
from tiny_data import write_tiny_dataset

from recbole_intent.model.llm4sbr import VIEW_ROW
from recbole_intent.model.llmdmsrec import LLMDMsRec_GCSAN, LLMDMsRec_SRGNN, kl_alignment

FIELDS = ["explicit_items:token_seq", "latent_items:token_seq"]


def intents(rng, prefix, items):
    """Explicit: clicked items; latent: others. Some rows have only one kind, some none (an LLM failure)."""
    kind = rng.random()  # < .1: none, < .3: explicit only, < .5: latent only, else both
    explicit = rng.sample(sorted(set(prefix)), 1) if kind >= 0.1 and not 0.3 <= kind < 0.5 else []
    latent = rng.sample([i for i in items if i not in prefix], 2) if kind >= 0.3 else []
    return " ".join(explicit), " ".join(latent)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("data"))
    cfg, _ = write_tiny_dataset(root, n_sessions=100, intents=False, text_emb_dim=8)
    write_views(os.path.join(root, "tiny"), "tiny", "dmsrec", FIELDS, intents)
    return cfg


def test_trains_and_evaluates(tiny, tmp_path):
    model = train_and_test(LLMDMsRec_SRGNN, tiny, str(tmp_path))
    assert model.fuse.in_features == 3 * 16 and (model.alpha, model.beta, model.sigma) == (1.0, 1.0, 0.2)


def test_gcsan_backbone(tiny, tmp_path):
    model = train_and_test(LLMDMsRec_GCSAN, tiny, str(tmp_path))
    assert model.fuse.in_features == 3 * model.hidden_size


@pytest.mark.parametrize("model", ["LLMDMsRec_SRGNN", "LLMDMsRec_GCSAN"])
def test_runs_through_quick_start(tiny, tmp_path, model):
    from recbole_intent.quick_start import objective_function

    result = objective_function(dict(tiny, checkpoint_dir=str(tmp_path)), model=model, dataset="tiny")
    assert list(result["test_result"]) == METRICS


def test_intents_are_mean_pooled_with_the_released_fallback(tiny):
    _, model, train, _, _ = build(LLMDMsRec_SRGNN, tiny)
    rows = next(iter(train))[VIEW_ROW]
    e_e, e_l, has = model.intent_features(rows)
    for b, row in enumerate(rows.tolist()):
        exp = [i for i in model.explicit_items[row].tolist() if i]
        lat = [i for i in model.latent_items[row].tolist() if i]
        mean = {name: model.item_text[ids].mean(0) if ids else None for name, ids in (("e", exp), ("l", lat))}
        assert bool(has[b]) == bool(exp or lat)
        if exp or lat:  # a row with one kind of intent uses it for both (the authors' code)
            assert torch.allclose(e_e[b], mean["e"] if exp else mean["l"], atol=1e-6)
            assert torch.allclose(e_l[b], mean["l"] if lat else mean["e"], atol=1e-6)
    assert has.any() and not has.all()  # the fixture writes some rows without intents


def test_fusion_and_losses_follow_eq_9_to_15(tiny):
    _, model, train, _, _ = build(LLMDMsRec_SRGNN, tiny, alpha=0.3, beta=0.7, sigma=0.5)
    model.eval()  # no dropout
    batch = next(iter(train))
    with torch.no_grad():
        s, g, e_bar, l_bar, has = model.forward(batch[model.ITEM_SEQ], batch[model.ITEM_SEQ_LEN], batch[VIEW_ROW])
        e_e, e_l, _ = model.intent_features(batch[VIEW_ROW])
        assert torch.allclose(e_bar, e_e @ model.intent_proj.weight.t() + model.intent_proj.bias, atol=1e-6)
        assert torch.allclose(s, model.fuse(torch.cat([g, e_bar, l_bar], 1)), atol=1e-6)  # Eq. 9
        rec, info = model.calculate_loss(batch)
        expected = 0.5 * (0.3 * kl_alignment(g[has], e_bar[has]) + 0.7 * kl_alignment(g[has], l_bar[has]))
        assert torch.allclose(info, expected) and rec > 0


def test_kl_is_over_the_softmax_of_the_dimensions():
    g, e = torch.tensor([[0.0, math.log(3.0)]]), torch.tensor([[0.0, 0.0]])
    p = torch.tensor([0.25, 0.75])  # softmax(g); softmax(e) = (0.5, 0.5)
    assert math.isclose(kl_alignment(g, e).item(), float((p * (p / 0.5).log()).sum()), rel_tol=1e-5)
    assert kl_alignment(e, e).item() == pytest.approx(0.0, abs=1e-7)


def test_missing_intent_file_names_the_generator(tmp_path):
    cfg, _ = write_tiny_dataset(str(tmp_path), n_sessions=100, intents=False, text_emb_dim=8)
    with pytest.raises(FileNotFoundError, match="recbole_intent.generate.views --method dmsrec"):
        build(LLMDMsRec_SRGNN, cfg)


def test_released_sigma_is_an_option(tiny):
    _, model, train, _, _ = build(LLMDMsRec_SRGNN, tiny, sigma_from="released")
    assert model.sigma == 0.0  # the released SR-GNN code: con_loss * 0.0
    _, info = model.calculate_loss(next(iter(train)))
    assert info.item() == 0.0
    with pytest.raises(ValueError, match="authors released no LLMDMsRec_GCSAN code"):
        build(LLMDMsRec_GCSAN, tiny, sigma_from="released")
    with pytest.raises(ValueError, match="sigma_from must be 'paper' or 'released', got 'papers'"):
        build(LLMDMsRec_SRGNN, tiny, sigma_from="papers")
