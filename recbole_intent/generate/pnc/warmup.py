"""The base SBR model of SPRINT §4.1.1: RecBole's SASRec, warmed up on the training split only (its scores:
uncertainty.py)."""

import logging

from recbole_intent.config import without_cmd_line
from recbole_intent.generate.common.backbone import backbone_config, train_backbone
from recbole_intent.paths import PROPERTIES

logger = logging.getLogger("recbole_intent.generate")


def build_recbole(cfg):
    """The ONE place that picks the RecBole entry points: the plugin's Config / create_dataset / get_model /
    get_trainer when they exist (its Config layers properties/overall.yaml and properties/dataset/<d>.yaml itself),
    else plain RecBole's with the same two files listed explicitly. Returns (config, create_dataset, get_model,
    get_trainer)."""
    try:
        import recbole_intent.compat  # noqa: F401  (switches off the anomaly detection RecBole's SINE turns on)
    except ModuleNotFoundError as err:
        if err.name != "recbole_intent.compat":
            raise
    try:
        from recbole_intent.config import Config
        from recbole_intent.utils import create_dataset, get_model, get_trainer

        with without_cmd_line():
            config = Config(model="SASRec", dataset=cfg["dataset"], config_dict=backbone_config(cfg))
        return config, create_dataset, get_model, get_trainer
    except ModuleNotFoundError as err:
        if err.name not in ("recbole_intent.config", "recbole_intent.utils"):
            raise
    from recbole.config import Config
    from recbole.data import create_dataset
    from recbole.utils import get_model, get_trainer

    files = [PROPERTIES / "overall.yaml", PROPERTIES / "dataset" / f"{cfg['dataset']}.yaml"]
    files = [str(f) for f in files if f.is_file()]
    with without_cmd_line():
        config = Config(model="SASRec", dataset=cfg["dataset"], config_file_list=files,
                        config_dict=backbone_config(cfg))
    return config, create_dataset, get_model, get_trainer


def warm_up(cfg):
    """Train SASRec for ``warmup_epochs`` on the training split only (no validation, no checkpoint)."""
    from recbole.data import data_preparation
    from recbole.utils import init_seed

    config, create_dataset, get_model, get_trainer = build_recbole(cfg)
    logger.info("selection: training SASRec on the training split for %d epochs (%d torch thread(s)) to score the "
                "sessions' uncertainty (SPRINT Eq. 3-4); nothing is written", config["epochs"], _threads())
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    train_data, _valid, _test = data_preparation(config, dataset)
    init_seed(config["seed"], config["reproducibility"])
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    train_backbone(config, model, train_data, get_trainer, "warm-up SASRec")
    return model, dataset, config


def _threads():
    import torch

    return torch.get_num_threads()
