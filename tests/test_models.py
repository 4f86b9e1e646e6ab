"""Every intent model trains one epoch and evaluates (full ranking) on a tiny dataset; training-only behaviour."""

import pytest
import torch
from recbole.data import data_preparation
from recbole.utils import init_seed
from tiny_data import write_tiny_dataset

from recbole_intent.config import Config
from recbole_intent.quick_start import objective_function
from recbole_intent.utils import create_dataset, get_model

METRICS = [f"{m}@{k}" for m in ("hit", "ndcg") for k in (5, 10, 20)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    cfg, _ = write_tiny_dataset(str(tmp_path_factory.mktemp("data")), text_emb_dim=8)
    return cfg


def _check_result(result):
    assert list(result["test_result"]) == METRICS
    assert all(0.0 <= v <= 1.0 for v in result["test_result"].values())


@pytest.mark.parametrize("model", ["VELI_SASRec", "VELI_GRU4Rec", "VELI_BERT4Rec", "SPRINT_SASRec", "VELI_NARM",
                                   "VELI_STAMP", "VELI_SRGNN", "VELI_GCSAN", "VELI_NextItNet", "VELI_LightSANs"])
def test_model_trains_and_evaluates(tiny, model, tmp_path):
    result = objective_function(dict(tiny, checkpoint_dir=str(tmp_path)), model=model, dataset="tiny")
    _check_result(result)
    checkpoint = torch.load(result["saved_model_file"], weights_only=True)  # no code runs when loading
    assert checkpoint["config"]["model"] == model and isinstance(checkpoint["config"], dict)


@pytest.mark.parametrize("model", ["VELI_SASRec", "VELI_BERT4Rec"])
def test_text_embedding_variant(tiny, model, tmp_path):
    result = objective_function(dict(tiny, use_text_emb=True, checkpoint_dir=str(tmp_path)), model=model,
                                dataset="tiny")
    _check_result(result)


@pytest.mark.parametrize("model", ["SASRec", "GRU4Rec"])
def test_recbole_baselines_still_run(tiny, model, tmp_path):
    _check_result(objective_function(dict(tiny, checkpoint_dir=str(tmp_path)), model=model, dataset="tiny"))


def _build(cfg, model="VELI_SASRec", **extra):
    config = Config(model=model, dataset="tiny", config_dict=dict(cfg, **extra))
    init_seed(config["seed"], config["reproducibility"])
    train, valid, test = data_preparation(config, create_dataset(config))
    return get_model(model)(config, train._dataset), train, valid


def test_inference_reads_no_intent_data(tiny):
    model, _, valid = _build(tiny)
    model.eval()
    batch = next(iter(valid))[0]
    with torch.no_grad():
        scores = model.full_sort_predict(batch)
        for field in ("intent_ids", "hard_negatives"):
            batch.interaction.pop(field, None)
        model.intent_labels.labels.uniform_()  # training labels play no part at inference
        assert torch.equal(scores, model.full_sort_predict(batch))


def test_enrichment_fills_labels_every_rho_epochs(tiny):
    model, _, _ = _build(tiny, enrich_rho=2)
    table = model.intent_labels  # one row per training session
    llm = table.llm_mask
    assert 0 < int(llm.sum()) < llm.numel()  # some sessions start without labels (failures, not selected)
    before = table.labels.clone()
    model.on_epoch_start(0)  # t = 1: no refresh
    assert torch.equal(before, table.labels)
    model.on_epoch_start(1)  # t = 2 = rho: refresh (Algorithm 2)
    assert bool((table.weight == 1).all())
    assert not torch.equal(before, table.labels)
    soft = table.labels
    assert ((soft > 0) & (soft < 1)).any()  # soft labels (Eq. 16), not binary


def test_enrichment_can_keep_validated_llm_labels(tiny):
    model, _, _ = _build(tiny, enrich_rho=1, enrich_keep_llm_labels=True)
    llm_rows = model.intent_labels.llm_mask
    before = model.intent_labels.labels[llm_rows].clone()
    model.on_epoch_start(0)
    assert torch.equal(before, model.intent_labels.labels[llm_rows])


def test_hard_negative_is_second_negative_with_random_fallback(tiny):
    model, _, _ = _build(tiny)
    pos = torch.tensor([3, 4, 5])
    hard = torch.tensor([[7, 0], [0, 0], [5, 0]])  # row 2's only hard negative is its own positive
    torch.manual_seed(0)
    for _ in range(20):
        neg = model.sample_negatives(pos, hard)
        assert neg[0, 1] == 7
        assert (neg != pos.unsqueeze(1)).all() and (neg >= 1).all() and (neg < model.n_items).all()
    model.use_hard_negatives = False
    assert not all(model.sample_negatives(pos, hard)[0, 1] == 7 for _ in range(20))


def test_loss_parts_and_ce_option(tiny):
    model, train, _ = _build(tiny)
    batch = next(iter(train))
    rec, intent, ortho = model.calculate_loss(batch)
    assert rec > 0 and intent > 0 and ortho < 0  # ortho is a negative distance (SPRINT Eq. 17)
    model.rec_loss = "ce"
    assert model.calculate_loss(batch)[0] > 0


def test_long_benchmark_lists_keep_most_recent_items(tiny):
    config = Config(model="SASRec", dataset="tiny", config_dict=dict(tiny, MAX_ITEM_LIST_LENGTH=3))
    dataset = create_dataset(config)
    assert dataset.field2seqlen["item_id_list"] == 3
    first = dataset.inter_feat["item_id_list"].values
    full = Config(model="SASRec", dataset="tiny", config_dict=dict(tiny, MAX_ITEM_LIST_LENGTH=10))
    reference = create_dataset(full).inter_feat["item_id_list"].values
    for short, long in zip(first, reference, strict=True):
        assert list(short) == list(long[-3:])


@pytest.mark.parametrize("ratio", [0.0, 0.5])
def test_intent_ratio_keeps_a_seeded_share_of_llm_output(tiny, ratio):
    full, _, _ = _build(tiny, intent_holdout=0.0)
    part, _, _ = _build(tiny, intent_ratio=ratio, intent_holdout=0.0)
    n_full, n_part = int(full.intent_labels.llm_mask.sum()), int(part.intent_labels.llm_mask.sum())
    assert n_full > 10
    assert n_part == 0 if ratio == 0 else 0.3 * n_full < n_part < 0.7 * n_full
    # a subset of the same labels, never new ones
    kept = part.intent_labels.llm_mask
    assert torch.equal(part.intent_labels.labels[kept], full.intent_labels.labels[kept])
    assert bool(full.intent_labels.llm_mask[kept].all())
    again, _, _ = _build(tiny, intent_ratio=ratio, intent_holdout=0.0)
    assert torch.equal(again.intent_labels.llm_mask, kept)  # same seed, same subset


def test_intent_ratio_out_of_range_is_refused(tiny):
    with pytest.raises(ValueError, match="intent_ratio"):
        _build(tiny, intent_ratio=1.5)
