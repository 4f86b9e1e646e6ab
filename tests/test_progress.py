"""The per-epoch progress line (epochs done, pace, time left, named losses) and the ``threads`` key."""

import re

import pytest
import torch
from tiny_data import write_tiny_dataset

from recbole_intent.quick_start import objective_function
from recbole_intent.threads import apply_threads, check_threads
from recbole_intent.trainer import loss_names, progress_note


def test_progress_note_bounds_by_hand():
    # epoch_idx 2 = the 3rd of 200 epochs at 12 s each: 197 left = 2364 s = 39.4 min at most; early stopping
    # (stopping_step 10, 4 evaluations without a better score so far) needs 10 - 4 = 6 more: 72 s = 1.2 min.
    assert progress_note(2, 200, 12.0, cur_step=4, stopping_step=10) == \
        "| 3/200 epochs, 12.0 s/epoch, left <= 39.4 min (197 epochs), >= 1.2 min (early stop)"
    # eval every 2 epochs: 6 evaluations = 12 epochs = 144 s = 2.4 min
    assert progress_note(2, 200, 12.0, cur_step=4, stopping_step=10, eval_step=2).endswith(">= 2.4 min (early stop)")
    # fewer epochs left than early stopping needs: both bounds are the epochs left (3 x 5 s = 15 s)
    assert progress_note(6, 10, 5.0, cur_step=0, stopping_step=10) == \
        "| 7/10 epochs, 5.0 s/epoch, left <= 15 s (3 epochs), >= 15 s (early stop)"
    assert progress_note(9, 10, 5.0, cur_step=0, stopping_step=10) == "| 10/10 epochs, 5.0 s/epoch, last epoch"


def test_loss_names_follow_the_model():
    from recbole_intent.model.veli_models import VELI_SASRec

    veli = VELI_SASRec.__new__(VELI_SASRec)  # only the class matters
    assert loss_names(veli, 3) == ["rec", "intent", "ortho"]
    plain = torch.nn.Linear(1, 1)
    assert loss_names(plain, 2) == ["train_loss1", "train_loss2"]  # unknown model: RecBole's names


def test_epoch_line_names_losses_and_shows_progress(tmp_path, capfd):
    cfg, _ = write_tiny_dataset(str(tmp_path))
    objective_function(dict(cfg, epochs=2, state="INFO", checkpoint_dir=str(tmp_path)), model="VELI_SASRec",
                       dataset="tiny", verbose=True)  # RecBole's logger: stderr, with colour codes
    out = re.sub(r"\x1b\[[0-9;]*m", "", capfd.readouterr().err)
    lines = [line for line in out.splitlines() if "training [" in line]
    assert len(lines) == 2
    assert "rec:" in lines[0] and "intent:" in lines[0] and "ortho:" in lines[0] and "train_loss" not in lines[0]
    assert "| 1/2 epochs" in lines[0] and "left <=" in lines[0]
    assert "| 2/2 epochs" in lines[1] and "last epoch" in lines[1]


def test_threads_key(tmp_path):
    before = torch.get_num_threads()
    try:
        assert apply_threads(1) == 1
        assert apply_threads(0) == 1  # 0 leaves torch as it is
        assert check_threads("2") == 2
        for bad in ("x", -1, 1.5, True, None):
            with pytest.raises(ValueError, match="is not a number of threads"):
                check_threads(bad)
    finally:
        torch.set_num_threads(before)
