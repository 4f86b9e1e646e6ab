"""A new user's mistakes (issue 16, Stage 2) stop before any training with one clear line naming what is wrong."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tiny_data import write_tiny_dataset

import recbole_intent.checks as checks
import recbole_intent.config as config_module
from recbole_intent.checks import UserError, check_value
from recbole_intent.config import Config
from recbole_intent.data import AtomicFileError
from recbole_intent.quick_start import objective_function
from recbole_intent.trainer import Trainer
from recbole_intent.utils import create_dataset, get_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    cfg, _ = write_tiny_dataset(str(tmp_path), text_emb_dim=4)
    monkeypatch.setattr(sys, "argv", ["run"])  # RecBole's Config reads --key=value from sys.argv; pytest's stay out
    monkeypatch.setattr(checks, "_warned", set())
    return dict(cfg, checkpoint_dir=str(tmp_path / "saved")), tmp_path / "tiny"


@pytest.fixture
def no_training(monkeypatch):
    def fit(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(Trainer, "fit", fit)


def _warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "recbole_intent"]


def test_unknown_model_lists_ours():  # item 9
    with pytest.raises(UserError) as err:
        get_model("VELI_Foo")
    message = str(err.value)
    assert message.startswith("unknown model 'VELI_Foo': recbole-intent's models are LLM4SBR_SRGNN, ")
    assert "VELI_SASRec, VELI_SRGNN" in message and "lightgbm" not in message and "\n" not in message
    with pytest.raises(UserError, match=r"^unknown model 'VELI_SASRek' \(did you mean VELI_SASRec\?\): "):
        get_model("VELI_SASRek")


def test_misspelt_dataset_is_named_not_its_intent_files(tiny):  # item 10
    cfg, _ = tiny
    config = Config(model="VELI_SASRec", dataset="tinny", config_dict=cfg)
    with pytest.raises(UserError, match=r"dataset 'tinny' not found: there is no folder .*tinny \(did you mean "
                                        r"tiny\? the datasets in .* are tiny\) \(the datasets in .*dataset are "
                                        r"beauty, .*\); or set data_path"):
        create_dataset(config)


def test_unknown_intent_set_lists_the_sets_and_keeps_the_name_in_the_command(tiny):  # item 11
    cfg, folder = tiny
    (folder / "llm").mkdir()
    (folder / "llm" / "tiny.user").write_text((folder / "tiny.user").read_text())
    with pytest.raises(FileNotFoundError) as err:
        create_dataset(Config(model="VELI_SASRec", dataset="tiny", config_dict=dict(cfg, intent_set="nonexistent")))
    message = str(err.value)
    assert isinstance(err.value, UserError)
    assert "intent sets of tiny are llm (" in message
    assert message.endswith("python -m recbole_intent.generate --dataset tiny "
                            f"--data_path {os.path.dirname(folder)} --intent_set nonexistent")
    with pytest.raises(FileNotFoundError, match=r"no tiny.intent\. .* --intent_set llm$"):  # the set lacks a file
        create_dataset(Config(model="VELI_SASRec", dataset="tiny", config_dict=dict(cfg, intent_set="llm")))


@pytest.mark.parametrize("arg, message", [
    ("--enrich_k=-1", r"^enrich_k=-1 \(command line\): must be >= 1$"),
    ("--lambda_intent=abc", r"^lambda_intent='abc' \(command line\): expected a number, e.g. lambda_intent: 0.001 "
                            r"\(defined in properties/intent.yaml\)$"),
    ("--intent_tau=1.5", r"must be in \[0, 1\]$"),
    ("--intent_dropout_prob=1", r"must be in \[0, 1\)$"),
    ("--enrich_mode=al", r"must be one of 'both', 'self', 'nbr', 'none'$"),
    ("--use_text_emb=1", r"expected True or False"),
    ("--enrich_rho=2.5", r"expected an integer"),
    ("--intent_fusion_rule=top3", r"must be one of 'tau', 'calibrated', 'topm'$"),
    ("--intent_holdout=1", r"must be in \[0, 1\)$"),
])
def test_intent_keys_are_checked_before_training(tiny, no_training, monkeypatch, arg, message):  # item 12
    cfg, _ = tiny
    monkeypatch.setattr(sys, "argv", ["run", arg])
    with pytest.raises(UserError, match=message):
        objective_function(cfg, model="VELI_SASRec", dataset="tiny")


def test_an_unknown_protocol_is_a_user_error(tiny):
    cfg, _ = tiny
    with pytest.raises(UserError, match=r"^protocol 'bogus' is unknown: choose one of \['papers', 'strong'\]"):
        Config(model="VELI_SASRec", dataset="tiny", config_dict=dict(cfg, protocol="bogus"))


def test_a_number_is_accepted_where_a_string_is_expected(tiny):
    cfg, folder = tiny
    (folder / "2024").mkdir()
    config = Config(model="VELI_SASRec", dataset="tiny", config_dict=dict(cfg, intent_set=2024))
    assert config["intent_set"] == "2024" and check_value("lambda_intent", 1, "x") == 1


def test_types_come_from_the_yaml_files(tmp_path, monkeypatch):  # new keys need no code
    (tmp_path / "intent.yaml").write_text("new_k: 3      # (int) a count\nnew_w: ~      # (float or None) a weight\n"
                                          "plain: 0.5\nloose: ~\n")
    monkeypatch.setattr(config_module, "PROPERTIES", tmp_path)
    checks.key_specs.cache_clear()
    try:
        assert check_value("new_w", None, "x") is None and check_value("new_w", 2, "x") == 2
        assert check_value("loose", [1], "x") == [1]  # no type given, none inferred: not checked
        for key, value in (("new_k", "3"), ("new_k", None), ("new_w", "a"), ("plain", True)):
            with pytest.raises(UserError, match=rf"^{key}={value!r} \(x\): expected"):
                check_value(key, value, "x")
    finally:
        checks.key_specs.cache_clear()


def test_misspelt_keys_warn_once_naming_where_they_are(tiny, monkeypatch, caplog):  # item 12
    cfg, folder = tiny
    caplog.set_level(logging.WARNING, logger="recbole_intent")
    settings = folder / "my.yaml"
    settings.write_text("epochs: 1\nenrich_kk: 3\n")
    monkeypatch.setattr(sys, "argv", ["run", "--lamda_intent=0.1"])
    for _ in range(2):  # HyperTuning builds one Config per trial
        config = Config(model="VELI_SASRec", dataset="tiny", config_file_list=[str(settings)], config_dict=cfg)
    assert _warnings(caplog) == [
        f"warning: no YAML file (RecBole's or ours) defines enrich_kk ({settings}:2; did you mean enrich_k?), "
        "lamda_intent (command line; did you mean lambda_intent?): misspelt?"]
    assert config["lambda_intent"] == 0.001  # the misspelt key changed nothing


def test_every_item_needs_a_text_vector(tiny):  # item 13
    cfg, folder = tiny
    emb = folder / "tiny.itememb"
    lines = emb.read_text().splitlines(keepends=True)
    emb.write_text("".join(lines[:25]))  # header + 24 of the 60 items: a copy cut at a line boundary
    with pytest.raises(AtomicFileError, match=r"tiny.itememb: field 'iid': 36 of 60 items have no vector \(use_text_"
                                              r"emb needs one for every item\), e.g. i25, i26, i27, i28, i29$"):
        create_dataset(Config(model="VELI_SASRec", dataset="tiny", config_dict=dict(cfg, use_text_emb=True)))


@pytest.mark.parametrize("text, message", [
    ("epochs: 3\nlambda_intent: [1e-3\n", r"bad.yaml:3:1: not valid YAML \(expected ',' or ']', but got '<stream "
                                          r"end>'\)$"),
    ("epochs: 3\n\tlambda_intent: 1\n", r"bad.yaml:2:1: not valid YAML \(found character '\\t' that cannot start"),
    ("- epochs\n", r"bad.yaml: must hold 'key: value' lines, not a list$"),
])
def test_a_malformed_config_file_is_named(tiny, text, message):  # items 14 and 2 (the training side)
    cfg, folder = tiny
    (folder / "bad.yaml").write_text(text)
    with pytest.raises(UserError, match=message):
        Config(model="VELI_SASRec", dataset="tiny", config_file_list=[str(folder / "bad.yaml")], config_dict=cfg)
    with pytest.raises(UserError, match=r"missing.yaml: cannot be read \(No such file or directory\)"):
        Config(model="VELI_SASRec", dataset="tiny", config_file_list=[str(folder / "missing.yaml")])


@pytest.mark.parametrize("arg", ["--gpu_id=0", "--device=cuda"])
def test_asking_for_a_missing_gpu_says_so_once(tiny, monkeypatch, caplog, arg):  # item 15
    cfg, _ = tiny
    caplog.set_level(logging.WARNING, logger="recbole_intent")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(sys, "argv", ["run", arg])
    for _ in range(2):
        config = Config(model="VELI_SASRec", dataset="tiny", config_dict=cfg)
    assert _warnings(caplog) == [f"warning: {arg[2:]} asks for a GPU, but torch sees none "
                                 "(torch.cuda.is_available() is False): running on the CPU"]
    assert config["device"] == torch.device("cpu")


def test_no_gpu_asked_no_warning(tiny, monkeypatch, caplog):
    cfg, _ = tiny
    caplog.set_level(logging.WARNING, logger="recbole_intent")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    Config(model="VELI_SASRec", dataset="tiny", config_dict=cfg)
    assert _warnings(caplog) == []


def test_an_empty_user_file_is_called_empty(tiny):  # item 16
    cfg, folder = tiny
    (folder / "tiny.user").write_text("")
    with pytest.raises(AtomicFileError, match=r"tiny.user: the file is empty \(its first line must be a header such "
                                              r"as 'session_id:token\\tintent_ids:token_seq\\thard_negatives:"):
        create_dataset(Config(model="VELI_SASRec", dataset="tiny", config_dict=cfg))


def _run(*args):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)


@pytest.mark.parametrize("args, error", [
    (["--model=VELI_Foo"], "error: unknown model 'VELI_Foo'"),
    (["--intent_set=nonexistent"], "error: intent_set='nonexistent': there is no folder "),
    (["--dataset=beuaty"], "error: dataset 'beuaty' not found: there is no folder "),
])
def test_the_run_script_prints_one_line_and_exits_2(args, error):
    done = _run("run_recbole_intent.py", *args)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith(error) and done.stderr.count("\n") == 1
    assert done.stdout == ""  # the error comes before RecBole's dump of the settings


def test_the_tuner_checks_its_search_space_first(tmp_path):
    params = tmp_path / "space.hyper"
    params.write_text("lambda_intent choice [1e-4,1e-3]\nenrich_k choice [10,-1]\n")
    done = _run("-m", "recbole_intent.run_hyper", "--model=VELI_SASRec", "--dataset=beauty",
                f"--params_file={params}")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr == f"error: enrich_k=-1 ({params}:2): must be >= 1\n"
