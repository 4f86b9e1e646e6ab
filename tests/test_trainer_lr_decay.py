"""The trainer's optional step decay of the learning rate (lr_decay_step / lr_decay_gamma, the released LLM4SBR and
LLM-DMsRec codes' StepLR), on a tiny dataset written here."""

import pytest
from recbole.data import create_dataset, data_preparation
from recbole.utils import get_model, init_seed
from tiny_data import write_tiny_dataset

from recbole_intent.config import Config
from recbole_intent.trainer import Trainer


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    cfg, _ = write_tiny_dataset(str(tmp_path_factory.mktemp("data")), n_sessions=60, intents=False)
    return dict(cfg, stopping_step=100, learning_rate=0.001)


def rates_per_epoch(cfg, tmp_path, **extra):
    """The learning rate each training epoch ran at (read when the epoch starts)."""
    config = Config(model="GRU4Rec", dataset="tiny", config_dict=dict(cfg, checkpoint_dir=str(tmp_path), **extra))
    init_seed(config["seed"], config["reproducibility"])
    train, valid, _ = data_preparation(config, create_dataset(config))
    model = get_model("GRU4Rec")(config, train._dataset)
    trainer = Trainer(config, model)
    rates = []
    model.on_epoch_start = lambda epoch: rates.append(trainer.optimizer.param_groups[0]["lr"])
    trainer.fit(train, valid, saved=False, show_progress=False)
    return rates


def test_step_decay_every_two_epochs(tiny, tmp_path):
    rates = rates_per_epoch(tiny, tmp_path, epochs=5, lr_decay_step=2, lr_decay_gamma=0.5)
    assert rates == pytest.approx([1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4])  # lr * gamma ** (epoch // step)


def test_off_by_default(tiny, tmp_path):
    assert rates_per_epoch(tiny, tmp_path, epochs=4) == pytest.approx([1e-3] * 4)


def test_bad_value_names_the_keys(tiny, tmp_path):
    with pytest.raises(ValueError, match=r"lr_decay_step must be an integer >= 1.*got lr_decay_step=0"):
        rates_per_epoch(tiny, tmp_path, epochs=1, lr_decay_step=0)


def test_a_tie_after_the_rate_has_decayed_away_ends_the_run(tiny, tmp_path):
    # After epoch 0 the rate is 1e-3 * 1e-9: the model stops moving and (no dropout) repeats its validation score
    # exactly. RecBole counts a tie as progress and would train all 20 epochs; with the decay on, a tie is no
    # progress: epochs 1, 2, 3 tie, patience 2 is exceeded at epoch 3, so 4 epochs run.
    rates = rates_per_epoch(tiny, tmp_path, epochs=20, stopping_step=2, lr_decay_step=1, lr_decay_gamma=1e-9,
                            dropout_prob=0.0)
    assert len(rates) == 4
