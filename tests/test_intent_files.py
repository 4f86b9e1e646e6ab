"""Malformed or missing intent files stop the run with an error naming the file, the line and the field."""

import os

import pytest
from tiny_data import write_tiny_dataset

from recbole_intent.config import Config
from recbole_intent.data import AtomicFileError
from recbole_intent.utils import create_dataset


def _load(cfg, model="VELI_SASRec", **extra):
    return create_dataset(Config(model=model, dataset="tiny", config_dict=dict(cfg, **extra)))


def _rewrite_line(path, line_no, new_line):
    with open(path) as f:
        lines = f.readlines()
    lines[line_no - 1] = new_line + "\n"
    with open(path, "w") as f:
        f.writelines(lines)


@pytest.fixture
def tiny(tmp_path):
    cfg, info = write_tiny_dataset(str(tmp_path), text_emb_dim=4)
    return cfg, info, os.path.join(str(tmp_path), "tiny")


def test_well_formed_files_load_through_recbole_mechanisms(tiny):
    cfg, info, _ = tiny
    ds = _load(cfg, use_text_emb=True)
    assert ds.num("intent_id") - 1 == 6  # the pool, plus [PAD]
    assert "intent_ids" in ds.user_feat and "hard_negatives" in ds.user_feat
    # hard negatives and text-embedding ids share the item id space (alias_of_item_id), intents share the pool's
    assert ds.field2id_token["hard_negatives"] is ds.field2id_token["item_id"]
    assert ds.field2id_token["intent_ids"] is ds.field2id_token["intent_id"]
    assert ds.get_preload_weight("iid").shape == (ds.item_num, 4)


def test_missing_intent_files_name_the_generator_command(tiny):
    cfg, _, folder = tiny
    os.remove(os.path.join(folder, "tiny.user"))
    with pytest.raises(FileNotFoundError, match=r"python -m recbole_intent.generate --dataset tiny"):
        _load(cfg)


def test_baseline_models_do_not_need_intent_files(tiny):
    cfg, _, folder = tiny
    os.remove(os.path.join(folder, "tiny.user"))
    os.remove(os.path.join(folder, "tiny.intent"))
    assert len(_load(cfg, model="SASRec")) > 0


@pytest.mark.parametrize(
    "file, line_no, content, field, message",
    [
        ("tiny.user", 2, "s0\t0 1", None, "2 fields, the header has 3"),
        ("tiny.user", 2, "s0\t99\t", "intent_ids", "intent '99' is not in"),
        ("tiny.user", 2, "s0\t0\tnot_an_item", "hard_negatives", "item 'not_an_item' is not an item"),
        ("tiny.user", 2, "s239\t0\t", "session_id", "validation/test session"),
        ("tiny.user", 2, "nobody\t0\t", "session_id", "not a session of the dataset"),
        ("tiny.user", 1, "session_id:token\tintent_ids:token\thard_negatives:token_seq", "intent_ids", "type token"),
        ("tiny.intent", 1, "intent_id:token\tname:token_seq", "intent_name", "missing from the header"),
        ("tiny.intent", 3, "0\tduplicate", "intent_id", "repeats line 2"),
        ("tiny.itememb", 2, "i1\t0.1 abc 0.3 0.4", "item_emb", "not a number"),
        ("tiny.itememb", 3, "i2\t0.1 0.2", "item_emb", "2 values, earlier rows have 4"),
    ],
)
def test_malformed_files_name_path_line_and_field(tiny, file, line_no, content, field, message):
    cfg, _, folder = tiny
    path = os.path.join(folder, file)
    _rewrite_line(path, line_no, content)
    with pytest.raises(AtomicFileError, match=message) as err:
        _load(cfg, use_text_emb=True)
    assert err.value.path == path and err.value.line == line_no and err.value.field == field
    assert f"{path}:{line_no}" in str(err.value)


def test_intent_set_reads_user_and_pool_from_a_subfolder(tiny):
    cfg, _, folder = tiny
    os.makedirs(os.path.join(folder, "llm"))
    for name in ("tiny.user", "tiny.intent"):
        os.rename(os.path.join(folder, name), os.path.join(folder, "llm", name))
    with pytest.raises(FileNotFoundError, match="has no tiny.user, tiny.intent"):
        _load(cfg)
    ds = _load(cfg, intent_set="llm", use_text_emb=True)  # .itememb stays in the dataset folder
    assert ds.num("intent_id") - 1 == 6
