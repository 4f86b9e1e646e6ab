"""The RecBole settings of the backbones that Stage 1 trains on the training split (SPRINT §4.1.1's warm-up model,
LLM-DMsRec §4.1's candidate model)."""

import contextlib
import tempfile

from recbole_intent.data.dataset import SESSION_BENCHMARK_CONFIG
from recbole_intent.generate.common.progress import Progress


def backbone_config(cfg):
    """RecBole config_dict of a backbone trained by the generator (SPRINT's warm-up SASRec, pnc/warmup.py;
    LLM-DMsRec's candidate model, views/candidates.py) from the generator's settings. The data contract is stated
    here too, so that a dataset without a properties/dataset/<d>.yaml still loads."""
    return {
        **SESSION_BENCHMARK_CONFIG,  # load_col: the inter files only, never our own .user/.intent output
        "data_path": cfg["data_path"],
        "MAX_ITEM_LIST_LENGTH": 20,
        "train_neg_sample_args": None,
        "loss_type": "CE",
        "epochs": int(cfg["warmup_epochs"]),
        "hidden_size": int(cfg["warmup_hidden_size"]),
        "inner_size": 4 * int(cfg["warmup_hidden_size"]),
        "n_layers": int(cfg["warmup_layers"]),
        "n_heads": int(cfg["warmup_heads"]),
        "train_batch_size": int(cfg["warmup_batch_size"]),
        "learning_rate": float(cfg["warmup_learning_rate"]),
        "seed": int(cfg["seed"]),
        "reproducibility": True,
        "show_progress": False,
    }


@contextlib.contextmanager
def _scratch(config):
    """RecBole's Trainer makes its ``checkpoint_dir`` and a tensorboard event file under ./log_tensorboard as soon as
    it is built, although a backbone here is never saved: both go to a temporary folder, removed afterwards, so that
    Stage 1 (``--dry_run`` above all) leaves no file behind."""
    import recbole.trainer.trainer as recbole_trainer
    from torch.utils.tensorboard import SummaryWriter

    with tempfile.TemporaryDirectory(prefix="recbole_intent_backbone_") as scratch:
        config["checkpoint_dir"] = scratch
        real = recbole_trainer.get_tensorboard
        writers = []

        def tensorboard(_logger):
            writers.append(SummaryWriter(scratch))
            return writers[-1]

        recbole_trainer.get_tensorboard = tensorboard
        try:
            yield
        finally:
            recbole_trainer.get_tensorboard = real
            for writer in writers:
                writer.close()


def train_backbone(config, model, train_data, get_trainer, what):
    """Fit ``model`` on the training split for ``config['epochs']`` epochs (no validation, no checkpoint, no file
    written), logging one line per epoch. Returns the trainer."""
    progress = Progress(what, config["epochs"], "epochs")
    with _scratch(config):
        trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
        trainer.epoch_callback = lambda epoch_idx, _seconds: progress.step(epoch_idx + 1)  # recbole_intent's Trainer
        trainer.fit(train_data, valid_data=None, verbose=False, saved=False, show_progress=False)
    return trainer
