"""Issues 13 and 18: the label table (Eq. 13 columns, rows for training sessions only, held-out sessions, base rates),
enrichment through the model (Eq. 14-16, both scopes), SPRINT keeping the LLM labels, the diagnostics, and resume."""

import pytest
import torch
from recbole.data import data_preparation
from recbole.utils import init_seed
from tiny_data import write_tiny_dataset

from recbole_intent.config import Config
from recbole_intent.model import veli
from recbole_intent.model.enrichment import enrich_labels, topk_neighbours
from recbole_intent.model.intent_labels import IntentLabels
from recbole_intent.quick_start import objective_function
from recbole_intent.trainer import Trainer
from recbole_intent.utils import create_dataset, get_model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    cfg, info = write_tiny_dataset(str(tmp_path_factory.mktemp("data")))
    return cfg, info


def _build(cfg, model="VELI_SASRec", **extra):
    config = Config(model=model, dataset="tiny", config_dict=dict(cfg, **extra))
    init_seed(config["seed"], config["reproducibility"])
    train, valid, test = data_preparation(config, create_dataset(config))
    return get_model(model)(config, train._dataset), train, test


def _table(holdout=0.0, seed=0):
    # session ids 0..5; session 5 is not a training session; ids 1..3 are intents (0 = [PAD])
    intent_ids = torch.tensor([[1, 2], [1, 0], [0, 0], [3, 0], [1, 3], [2, 0]])
    return IntentLabels(intent_ids, torch.tensor([0, 1, 2, 3, 4]), 6, 3, holdout=holdout, seed=seed)


def test_label_rows_base_rate_and_batch_gather():
    table = _table()
    assert table.labels.tolist() == [[1, 1, 0], [1, 0, 0], [0, 0, 0], [0, 0, 1], [1, 0, 1]]  # id c -> column c - 1
    assert table.weight.tolist() == [1, 1, 0, 1, 1]
    # Laplace-smoothed base rate over the 4 labelled sessions: (3 + 1) / 6, (1 + 1) / 6, (2 + 1) / 6
    assert torch.allclose(table.prior, torch.tensor([4 / 6, 2 / 6, 3 / 6]))
    labels, weight = table.batch(torch.tensor([3, 5, 0]))  # session 5 has no row: weight 0
    assert labels.tolist()[0] == [0, 0, 1] and labels.tolist()[2] == [1, 1, 0]
    assert weight.tolist() == [1, 0, 1]


def test_holdout_rows_leave_l_intent_and_keep_their_llm_labels_for_the_diagnostics():
    table = _table(holdout=0.5, seed=3)
    held = table.holdout_rows.tolist()
    assert len(held) == 2 and set(held) <= {0, 1, 3, 4}  # 2 of the 4 labelled rows
    assert torch.equal(table.holdout_rows, _table(holdout=0.5, seed=3).holdout_rows)  # seeded
    assert all(table.weight[r] == 0 and table.labels[r].sum() == 0 for r in held)
    assert torch.equal(table.holdout_labels, _table().labels[held])
    # after an enrichment that keeps LLM labels, held-out rows get enriched labels like unlabelled ones
    y_hat = torch.full((5, 3), 0.25)
    idx, sim = torch.tensor([[1], [0], [0], [0], [0]]), torch.zeros(5, 1)
    table.enrich(y_hat, idx, sim, "both", keep_llm_labels=True, epoch=4)
    for r in range(5):
        expected = _table().labels[r] if r not in held and r != 2 else torch.full((3,), 0.25)
        assert torch.equal(table.labels[r], expected)
    assert table.weight.tolist() == [1] * 5 and int(table.enrich_epoch) == 4
    assert torch.equal(table.holdout_labels, _table().labels[held])


def test_holdout_scores_by_hand():
    table = _table(holdout=0.5, seed=3)
    table.holdout_labels = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    y_hat = torch.tensor([[0.9, 0.1, 0.8], [0.1, 0.2, 0.9]])
    out = table.holdout_scores(y_hat, k=2)
    # row 0: top-2 {0, 2}, 1 hit of 2 labels; row 1: top-2 {2, 1}, 1 hit of 1 label
    assert out["precision@2"] == pytest.approx((1 / 2 + 1 / 2) / 2)
    assert out["recall@2"] == pytest.approx((1 / 2 + 1) / 2)
    # the base-rate ranking (prior of the 2 L_intent rows) and chance
    base_top = set(table.prior.topk(2).indices.tolist())
    hits = [len(base_top & {0, 1}) / 2, len(base_top & {2}) / 1]
    assert out["recall@2_base_rate"] == pytest.approx(sum(hits) / 2)
    assert out["recall@2_chance"] == pytest.approx(2 / 3)


def test_eq13_labels_land_on_the_pool_columns_of_the_validated_intents(tiny):
    cfg, info = tiny
    model, train, _ = _build(cfg, intent_holdout=0.0)
    dataset = train._dataset
    table = model.intent_labels
    with open(f"{cfg['data_path']}/tiny/tiny.user") as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    checked = 0
    for sid_token, intents, _ in rows:
        row = int(table.row_of[dataset.token2id("session_id", sid_token)])
        expected = {int(dataset.token2id("intent_id", tok)) - 1 for tok in intents.split()}
        assert set(torch.nonzero(table.labels[row]).squeeze(1).tolist()) == expected
        checked += bool(expected)
    assert checked > 20
    valid_ids = dataset.token2id("session_id", info["valid"])
    assert (table.row_of[torch.as_tensor(valid_ids)] == -1).all()  # only training sessions hold rows
    assert table.labels.size(0) == len(info["train"])


@pytest.mark.parametrize("scope", ["global", "batch"])
def test_enrichment_through_the_model_is_enrich_labels_of_the_predictions(tiny, scope, monkeypatch):
    cfg, _ = tiny
    model, _, _ = _build(cfg, enrich_scope=scope, enrich_k=3, enrich_memory_mb=0.01)  # small chunks, same answer
    model.eval()
    with torch.no_grad():
        h = model.session_representation(model.session_seq, model.session_len)
        y_hat = model.intent_predictor.relevance(h)
    rng = {}  # the random state the model's search starts from (the batch scope's random partition)

    def recording(*args, generator=None, **kwargs):
        rng["state"] = (generator.get_state() if generator is not None else None, torch.get_rng_state())
        return topk_neighbours(*args, generator=generator, **kwargs)

    monkeypatch.setattr(veli, "topk_neighbours", recording)
    model.enrich_intent_labels()
    generator_state, global_state = rng["state"]
    generator = None if generator_state is None else torch.Generator().set_state(generator_state)
    torch.set_rng_state(global_state)
    idx, sim = topk_neighbours(h, 3, scope, batch_size=model.enrich_batch_size, generator=generator)
    expected = enrich_labels(y_hat, idx, sim, "both")
    assert torch.allclose(model.intent_labels.labels, expected, atol=1e-6)


def test_sprint_keeps_the_validated_llm_labels_and_veli_replaces_them(tiny):
    cfg, _ = tiny
    for name, kept in (("SPRINT_SASRec", True), ("VELI_SASRec", False)):
        model, _, _ = _build(cfg, model=name)
        assert model.enrich_keep_llm_labels is kept
        table = model.intent_labels
        before = table.labels.clone()
        model.enrich_intent_labels()
        llm = table.llm_mask
        assert torch.equal(table.labels[llm], before[llm]) is kept
        assert not torch.equal(table.labels[~llm], before[~llm])  # the rest is enriched either way


def test_diagnostics_on_a_tiny_dataset(tiny):
    cfg, _ = tiny
    model, _, test = _build(cfg, intent_fusion_rule="topm", intent_fusion_m=2)
    labelled = int(model.intent_labels.llm_mask.sum()) + model.intent_labels.holdout_rows.numel()
    out = model.intent_diagnostics(test._dataset)
    assert out["holdout_sessions"] == round(0.1 * labelled)
    assert out["fused_per_session"] == 2.0 and out["share_nothing_fused"] == 0.0
    model, _, _ = _build(cfg, intent_init="prior")
    with torch.no_grad():
        model.intent_predictor.bias.fill_(-20.0)  # every y ~ 2e-9 < tau: phi passes nothing
    out = model.intent_diagnostics()
    assert out["fused_per_session"] == 0.0 and out["share_nothing_fused"] == 1.0


def test_resume_restores_enriched_labels_masks_and_epoch(tiny, tmp_path):
    cfg, _ = tiny
    cfg = dict(cfg, checkpoint_dir=str(tmp_path))
    model, _, _ = _build(cfg)
    config = Config(model="VELI_SASRec", dataset="tiny", config_dict=cfg)
    trainer = Trainer(config, model)
    model.on_epoch_start(4)  # t = 5 = rho: enrichment
    enriched, weight = model.intent_labels.labels.clone(), model.intent_labels.weight.clone()
    path = str(tmp_path / "resume.pth")
    trainer._save_checkpoint(4, verbose=False, saved_model_file=path)

    fresh, _, _ = _build(cfg)
    assert not torch.equal(fresh.intent_labels.labels, enriched)  # a new model starts from the LLM labels
    resumed = Trainer(config, fresh)
    resumed.resume_checkpoint(path)
    assert torch.equal(fresh.intent_labels.labels, enriched) and torch.equal(fresh.intent_labels.weight, weight)
    assert int(fresh.intent_labels.enrich_epoch) == 4 and resumed.start_epoch == 5
    fresh.on_epoch_start(4)  # the checkpoint already holds epoch 4's enrichment: not redone
    assert torch.equal(fresh.intent_labels.labels, enriched)
    # a checkpoint from before the table was persistent still loads, with the LLM labels
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("intent_labels.")}
    old, _, _ = _build(cfg)
    llm = old.intent_labels.labels.clone()
    old.load_state_dict(state)
    assert torch.equal(old.intent_labels.labels, llm)


def test_every_run_reports_diagnostics_and_the_detached_predictor_learns_the_labels(tiny, tmp_path):
    cfg, _ = tiny
    settings = dict(cfg, epochs=4, learning_rate=0.01, lambda_intent=1.0, intent_fusion_grad="detach",
                    intent_fusion_rule="calibrated", intent_init="prior", intent_holdout=0.2,
                    checkpoint_dir=str(tmp_path))
    out = objective_function(settings, model="VELI_SASRec", dataset="tiny")["intent_diagnostics"]
    # tiny's labels are {topic, topic + 1} of 6 intents: chance recall@3 = 0.5, the base-rate ranking about as much
    assert out["holdout_sessions"] > 5 and out["recall@3_chance"] == 0.5
    assert out["recall@3"] > 0.75 and out["recall@3"] > out["recall@3_base_rate"] + 0.2
    assert 1.5 < out["fused_per_session"] < 2.5  # about the 2 intents the labels name (y > 2 x base rate 1/3)
