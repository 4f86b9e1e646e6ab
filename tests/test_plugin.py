"""Plugin mechanics: YAML layering, model lookup, the run script and RecBole's HyperTuning."""

import os
import subprocess
import sys

import pytest
import yaml
from recbole.model.sequential_recommender import SASRec
from tiny_data import DATASET_YAML, write_tiny_dataset

from recbole_intent.config import Config
from recbole_intent.model import VELI_SASRec
from recbole_intent.paths import PROPERTIES
from recbole_intent.run_hyper import tune
from recbole_intent.utils import get_model

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_get_model_prefers_ours_then_recbole():
    assert get_model("VELI_SASRec") is VELI_SASRec
    assert get_model("SASRec") is SASRec
    with pytest.raises(ValueError):
        get_model("NoSuchModel")


def test_yaml_layers_overall_intent_model_dataset_then_user():
    config = Config(model="VELI_SASRec", dataset="beauty", config_dict={"lambda_intent": 0.01})
    assert config["topk"] == [5, 10, 20] and config["valid_metric"] == "NDCG@20"  # our overall.yaml
    assert config["enrich_rho"] == 5 and config["intent_tau"] == 0.5  # intent.yaml (papers' values)
    assert config["hidden_dropout_prob"] == 0.2  # model/VELI_SASRec.yaml, not RecBole's SASRec.yaml (0.5)
    assert config["benchmark_filename"] == ["train", "valid", "test"]  # dataset/beauty.yaml
    assert config["lambda_intent"] == 0.01  # the user wins
    assert config["data_path"] == os.path.join(REPO, "dataset", "beauty")
    assert config["load_col"]["user"] == ["session_id", "intent_ids", "hard_negatives"]
    assert config["alias_of_item_id"] == ["item_id_list", "hard_negatives"]
    assert Config(model="SPRINT_SASRec", dataset="beauty")["enrich_scope"] == "batch"
    baseline = Config(model="SASRec", dataset="beauty")
    assert baseline["hidden_dropout_prob"] == 0.5 and "user" not in baseline["load_col"]


def test_run_script_passes_key_value_options_to_recbole(tmp_path):
    cfg, _ = write_tiny_dataset(str(tmp_path))
    dataset_yaml = tmp_path / "tiny.yaml"
    dataset_yaml.write_text(yaml.safe_dump(DATASET_YAML))
    args = [f"--config_files={dataset_yaml}", f"--data_path={tmp_path}", "--epochs=1", "--hidden_size=16",
            "--inner_size=32", "--train_batch_size=64", "--MAX_ITEM_LIST_LENGTH=10",
            "--lambda_intent=0.01", "--show_progress=False"]
    script = os.path.join(REPO, "run_recbole_intent.py")
    out = subprocess.run([sys.executable, script, "--model=VELI_SASRec", "--dataset=tiny", *args],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    log = out.stdout + out.stderr
    assert "test result" in log and "ndcg@20" in log
    assert "lambda_intent = 0.01" in log


def test_hypertuning_runs_two_trials(tmp_path):
    cfg, _ = write_tiny_dataset(str(tmp_path))
    params = tmp_path / "space.hyper"
    params.write_text("lambda_intent choice [0.001,0.01]\n")
    hp = tune("VELI_SASRec", "tiny", str(params), algo="exhaustive",
              config_dict=dict(cfg, checkpoint_dir=str(tmp_path)), output_file=str(tmp_path / "hyper.result"))
    assert len(hp.params2result) == 2
    assert all(r["model"] == "VELI_SASRec" for r in hp.params2result.values())
    assert (tmp_path / "hyper.result").read_text().count("lambda_intent") == 2


def test_shipped_search_space_is_the_papers_grid():
    """properties/hyper/VELI_SASRec.hyper parses with RecBole's HyperTuning into VELI4SBR B.1's grid."""
    from recbole.trainer import HyperTuning

    path = str(PROPERTIES / "hyper" / "VELI_SASRec.hyper")
    space = HyperTuning(lambda *a: None, params_file=path, algo="exhaustive").space
    assert set(space) == {"learning_rate", "weight_decay", "hidden_dropout_prob", "enrich_k", "lambda_intent",
                          "lambda_ortho"}
