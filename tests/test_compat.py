"""The run-time fixes for RecBole 1.2.1 on today's torch (recbole_intent.compat)."""

import subprocess
import sys

import pytest
import torch

from recbole_intent.compat import load_checkpoint, plain_config
from recbole_intent.config import Config


def test_importing_recbole_models_leaves_anomaly_detection_off():
    code = "import recbole_intent, recbole.model.sequential_recommender.sine, torch; print(torch.is_anomaly_enabled())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_plain_config_loads_weights_only(tmp_path):
    config = Config(model="SASRec", dataset="beauty", config_dict={"epochs": 1})
    path = tmp_path / "ok.pth"
    torch.save({"config": plain_config(config), "state_dict": {"w": torch.ones(2)}}, path)
    loaded = load_checkpoint(path)
    assert loaded["config"]["model"] == "SASRec"
    assert loaded["config"]["MODEL_TYPE"] == 2  # ModelType.SEQUENTIAL, stored as its value
    assert torch.equal(loaded["state_dict"]["w"], torch.ones(2))


def test_checkpoint_that_needs_code_is_refused(tmp_path):
    config = Config(model="SASRec", dataset="beauty", config_dict={"epochs": 1})
    path = tmp_path / "recbole_style.pth"
    torch.save({"config": config, "state_dict": {}}, path)  # what plain RecBole writes: a pickled Config object
    with pytest.raises(RuntimeError, match="not a weights-only checkpoint"):
        load_checkpoint(path)
