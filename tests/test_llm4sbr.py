"""LLM4SBR_SRGNN on a tiny dataset with per-row view files written here (random localised items), and its equations."""

import math
import os
import random

import pytest
import torch
from recbole.data import data_preparation
from recbole.model.sequential_recommender import SRGNN
from recbole.utils import init_seed
from tiny_data import write_tiny_dataset

from recbole_intent.config import Config
from recbole_intent.data import AtomicFileError
from recbole_intent.data.view_files import row_key
from recbole_intent.model.llm4sbr import LLM4SBR_SRGNN, VIEW_ROW, alignment, au_loss, uniformity
from recbole_intent.trainer import Trainer

METRICS = [f"{m}@{k}" for m in ("hit", "ndcg") for k in (5, 10, 20)]
LLM4SBR_FIELDS = ["long_items:token_seq", "long_sims:float_seq", "short_items:token_seq", "short_sims:float_seq"]


def inter_rows(folder, name):
    """(split, session id, prefix, target) of every row of the tiny dataset's three inter files."""
    for split in ("train", "valid", "test"):
        with open(os.path.join(folder, f"{name}.{split}.inter")) as f:
            next(f)
            for line in f:
                sid, prefix, target = line.rstrip("\n").split("\t")
                yield split, sid, prefix.split(), target


def write_views(folder, name, suffix, fields, make, skip=lambda split, key: False, seed=0):
    """``<name>.<suffix>``: one line per inter row, ``make(rng, prefix, items)`` giving the values of ``fields``."""
    rng, rows = random.Random(seed), list(inter_rows(folder, name))
    items = sorted({i for _, _, prefix, target in rows for i in prefix + [target]})
    with open(os.path.join(folder, f"{name}.{suffix}"), "w") as f:
        f.write("\t".join(["view_key:token", *fields]) + "\n")
        for split, sid, prefix, _ in rows:
            if not skip(split, row_key(sid, len(prefix))):
                f.write("\t".join([row_key(sid, len(prefix)), *make(rng, prefix, items)]) + "\n")


def localised(rng, prefix, items, k=5):
    cols = []
    for _ in ("long", "short"):
        cols += [" ".join(rng.sample(items, k)),
                 " ".join(f"{s:.3f}" for s in sorted((rng.random() for _ in range(k)), reverse=True))]
    return cols


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("data"))
    cfg, _ = write_tiny_dataset(root, n_sessions=100, intents=False, text_emb_dim=8)
    write_views(os.path.join(root, "tiny"), "tiny", "llm4sbr", LLM4SBR_FIELDS, localised)
    return cfg


def build(model_cls, cfg, **extra):
    config = Config(model=model_cls, dataset="tiny", config_dict=dict(cfg, **extra))
    init_seed(config["seed"], config["reproducibility"])
    train, valid, test = data_preparation(config, model_cls.dataset_class(config))
    return config, model_cls(config, train._dataset), train, valid, test


def train_and_test(model_cls, cfg, checkpoint_dir):
    """objective_function's steps with the model's own dataset class (until the utils.create_dataset hook exists)."""
    config, model, train, valid, test = build(model_cls, cfg, checkpoint_dir=checkpoint_dir)
    trainer = Trainer(config, model)
    trainer.fit(train, valid, saved=False, show_progress=False)
    result = trainer.evaluate(test, load_best_model=False, show_progress=False)
    assert list(result) == METRICS and all(0.0 <= v <= 1.0 for v in result.values())
    return model


def test_trains_and_evaluates(tiny, tmp_path):
    model = train_and_test(LLM4SBR_SRGNN, tiny, str(tmp_path))
    assert model.embedding_size == 16 and model.item_text.size(1) == 8


def test_runs_through_quick_start(tiny, tmp_path):
    from recbole_intent.quick_start import objective_function

    result = objective_function(dict(tiny, checkpoint_dir=str(tmp_path)), model="LLM4SBR_SRGNN", dataset="tiny")
    assert list(result["test_result"]) == METRICS


def test_each_row_reads_its_own_view(tiny):
    _, model, _, valid, _ = build(LLM4SBR_SRGNN, tiny)
    dataset = valid._dataset
    batch = next(iter(valid))[0]
    rows = batch[VIEW_ROW]
    first = dataset.field2id_token["view_key"][rows[0].item()]
    sid, length = first.rsplit("#", 1)
    assert dataset.field2id_token["session_id"][batch["session_id"][0].item()] == sid
    assert int(length) == batch["item_length"][0].item()  # the key is the row's own prefix, not its session's
    model.eval()
    with torch.no_grad():
        before = model.full_sort_predict(batch)
        model.long_items[rows[0]] = torch.arange(1, 6)  # another LLM answer for that one row
        after = model.full_sort_predict(batch)
    changed = (before != after).any(1)
    assert changed[0] and not changed[1:][rows[1:] != rows[0]].any()


def test_fusion_follows_eq_10_to_12(tiny):
    _, model, train, _, _ = build(LLM4SBR_SRGNN, tiny)
    batch = next(iter(train))
    seq, length, rows = batch[model.ITEM_SEQ], batch[model.ITEM_SEQ_LEN], batch[VIEW_ROW]
    model.eval()
    with torch.no_grad():
        s_h, ((s_g, e_long, _), (s_l, e_short, _)) = model.forward(seq, length, rows)
        ids, sims = model.long_items[rows], model.long_sims[rows]
        expected_long = model.text_proj((sims.unsqueeze(-1) * model.item_text[ids]).sum(1))  # Eq. 5, 7
        assert torch.allclose(e_long, expected_long, atol=1e-6)
        a_long = torch.sigmoid(s_g + e_long) @ model.q_long.weight.t()
        a_short = torch.sigmoid(s_l + e_short) @ model.q_short.weight.t()
        manual = model.linear_transform(torch.cat([a_long * s_g, a_short * s_l], 1))
        assert torch.allclose(s_h, manual, atol=1e-6)
        plain = model.linear_transform(torch.cat([s_g, s_l], 1))
        assert torch.allclose(plain, SRGNN.forward(model, seq, length), atol=1e-6)  # the backbone is left intact
    rec, au = model.calculate_loss(batch)
    assert rec > 0 and torch.isfinite(au)


def test_alignment_and_uniformity_are_directau():
    x, y = torch.tensor([[3.0, 0.0], [0.0, 2.0]]), torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    assert math.isclose(alignment(x, y).item(), (0 + (2 - math.sqrt(2))) / 2, rel_tol=1e-5)  # ||(0,1)-(.71,.71)||^2
    assert math.isclose(uniformity(x).item(), -4.0, rel_tol=1e-5)  # one pair at distance^2 = 2: log(exp(-4))
    present = torch.tensor([True, True, False])
    z = torch.cat([x, torch.tensor([[5.0, 5.0]])])
    w = torch.cat([y, torch.tensor([[-1.0, 0.0]])])
    expected = alignment(x, y) + (uniformity(x) + uniformity(y)) / 2
    assert torch.allclose(au_loss(z, w, present), expected)  # rows without a view are left out


def test_rows_without_views_are_pad(tmp_path):
    cfg, _ = write_tiny_dataset(str(tmp_path), intents=False, text_emb_dim=8)
    folder = os.path.join(str(tmp_path), "tiny")
    write_views(folder, "tiny", "llm4sbr", LLM4SBR_FIELDS, localised, skip=lambda split, key: split == "test")
    _, model, train, _, test = build(LLM4SBR_SRGNN, cfg)
    batch = next(iter(test))[0]
    assert (model.long_items[batch[VIEW_ROW]] == 0).all()  # [PAD] views: no LLM output for these rows
    assert all(torch.isfinite(part) for part in model.calculate_loss(next(iter(train))))


@pytest.mark.parametrize(("line", "field"), [
    ("s0#99\ti1\t0.5\t\t", "view_key"),  # no row of the dataset
    ("{key}\tunknown\t0.5\t\t", "long_items"),  # not an item
    ("{key}\ti1 i2\t0.5\t\t", "long_sims"),  # one weight per item
])
def test_malformed_view_file_names_path_line_field(tmp_path, line, field):
    cfg, info = write_tiny_dataset(str(tmp_path), intents=False, text_emb_dim=8)
    path = os.path.join(str(tmp_path), "tiny", "tiny.llm4sbr")
    with open(path, "w") as f:
        f.write("\t".join(["view_key:token", *LLM4SBR_FIELDS]) + "\n" + line.format(key=row_key(info["train"][0], 1)))
    with pytest.raises(AtomicFileError) as err:
        build(LLM4SBR_SRGNN, cfg)
    assert err.value.line == 2 and err.value.field == field and str(path) in str(err.value)
