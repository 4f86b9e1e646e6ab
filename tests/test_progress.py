"""Progress lines (training: epochs done, pace, time left, named losses; Stage 1's steps), the ``threads`` key, and
a dry run that writes nothing."""

import io
import logging
import os
import re

import pytest
import torch
from tiny_data import write_tiny_dataset

from recbole_intent.generate.common.progress import Progress
from recbole_intent.generate.common.settings import make_config
from recbole_intent.generate.pnc.runner import run
from recbole_intent.quick_start import objective_function
from recbole_intent.testing.synthetic import write_dataset
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


def test_stage1_progress_line_and_its_pace_by_hand(caplog):
    ticks = iter([0.0, 120.0])  # built at t = 0, asked at t = 120 s
    progress = Progress("P&C", 800, "sessions", clock=lambda: next(ticks))
    # 200 sessions in 120 s: 600 left at the same pace = 360 s
    assert progress.line(200, " (150 accepted)") == \
        "P&C: 200/800 sessions (150 accepted), 2.0 min elapsed, about 6.0 min left"
    ticks = iter([0.0, 10.0, 20.0, 45.0, 50.0])
    progress = Progress("views", 4, "rows", every_s=30.0, clock=lambda: next(ticks))
    with caplog.at_level(logging.INFO, logger="recbole_intent.generate"):
        for done in (1, 2, 3, 4):  # t = 10 logs, 20 is too soon after it, 45 logs, the last always logs
            progress.step(done)
    assert [r.getMessage().split(",")[0] for r in caplog.records] == ["views: 1/4 rows", "views: 3/4 rows",
                                                                      "views: 4/4 rows"]


def _files(*roots):
    return {os.path.join(d, f) for root in roots for d, _, names in os.walk(root) for f in names}


def test_dry_run_with_uncertainty_selection_writes_nothing_and_says_it_trains(tmp_path, caplog):
    write_dataset(str(tmp_path), n_sessions=60, n_items=30, seed=3)
    argv = ["--dataset", "tiny", "--data_path", str(tmp_path), "--backend", "offline", "--select", "uncertainty",
            "--dry_run"]
    cfg = make_config(argv, {"warmup_hidden_size": 8, "warmup_epochs": 2, "warmup_layers": 1, "warmup_heads": 1})
    before = _files(tmp_path, os.getcwd())
    with caplog.at_level(logging.INFO, logger="recbole_intent.generate"):
        run(cfg, out=io.StringIO())
    assert _files(tmp_path, os.getcwd()) == before  # no .generate_cache/warmup/, no log_tensorboard/
    said = [r.getMessage() for r in caplog.records]
    assert any("training SASRec" in m and "nothing is written" in m for m in said)
    assert [m.split(",")[0] for m in said if m.startswith("warm-up SASRec")] == ["warm-up SASRec: 1/2 epochs",
                                                                                 "warm-up SASRec: 2/2 epochs"]
