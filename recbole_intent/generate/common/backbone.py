"""The RecBole settings of the backbones that Stage 1 trains on the training split (SPRINT §4.1.1's warm-up model,
LLM-DMsRec §4.1's candidate model)."""

import os

from recbole_intent.data.dataset import SESSION_BENCHMARK_CONFIG


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
        "checkpoint_dir": os.path.join(cfg["cache_dir"], "warmup"),  # fit(saved=False) writes nothing there
    }
