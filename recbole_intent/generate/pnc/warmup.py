"""The base SBR model of SPRINT §4.1.1: RecBole's SASRec, warmed up on the training split only, then used to
compute h_S and e_i for the uncertainty scores of selection.py (Eq. 3).

h_S is the SASRec output for S_{1:N-1}, the session's longest training prefix row (SPRINT footnote 1: the hidden
state at the last position). The same h_S is used for BOTH entropies: H_pred needs exactly S_{1:N-1} to predict
i_N, and using the same representation for H_sess keeps the two ranks of Eq. 4 about one model state per session.
"""

import logging
import time

from recbole_intent.config import without_cmd_line
from recbole_intent.generate.common.backbone import backbone_config
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
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    train_data, _valid, _test = data_preparation(config, dataset)
    init_seed(config["seed"], config["reproducibility"])
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    trainer.fit(train_data, valid_data=None, verbose=False, saved=False, show_progress=False)
    return model, dataset, config


def uncertainty_inputs(cfg, sessions, batch_size=1024):
    """(H_sess, H_pred, info) for every session, as CPU tensors aligned with ``sessions``."""
    import torch

    started = time.perf_counter()
    previous_threads = torch.get_num_threads()
    if int(cfg.get("warmup_threads") or 0) > 0:
        # Measured on the project's 2-core machine (beauty, d=64, batch 256): 2 intra-op threads are 1.4x faster
        # than 1 when the machine is idle but 13x SLOWER while other jobs run (OpenMP threads spinning against each
        # other), so 1 is the safe default. Restored afterwards.
        torch.set_num_threads(int(cfg["warmup_threads"]))
    try:
        return _scores(cfg, sessions, batch_size, started)
    finally:
        torch.set_num_threads(previous_threads)


def _scores(cfg, sessions, batch_size, started):
    import torch

    from recbole_intent.generate.pnc.selection import prediction_entropy, session_entropy

    model, dataset, config = warm_up(cfg)
    trained = time.perf_counter()
    token2id = dataset.field2token_id[config["ITEM_ID_FIELD"]]
    max_len = int(config["MAX_ITEM_LIST_LENGTH"])
    model.eval()
    h_sess, h_pred = [], []
    with torch.no_grad():
        emb = model.item_embedding.weight
        for start in range(0, len(sessions), batch_size):
            chunk = sessions[start : start + batch_size]
            ids = [[token2id[t] for t in s.items] for s in chunk]
            prefixes = [x[:-1][-max_len:] for x in ids]  # S_{1:N-1}; RecBole keeps the last L items
            seq = torch.zeros(len(chunk), max(len(p) for p in prefixes), dtype=torch.long)
            for b, p in enumerate(prefixes):
                seq[b, : len(p)] = torch.as_tensor(p)  # RecBole pads at the end and reads position len-1
            lengths = torch.as_tensor([len(p) for p in prefixes], dtype=torch.long)
            h = model.forward(seq.to(emb.device), lengths.to(emb.device))
            h_sess.append(session_entropy(h, emb, ids).cpu())
            # Full ranking over the real items: drop RecBole's padding row 0 and shift the targets by one.
            targets = torch.as_tensor([x[-1] - 1 for x in ids], dtype=torch.long, device=emb.device)
            h_pred.append(prediction_entropy(h, emb[1:], targets).cpu())
    h_sess = torch.cat(h_sess) if h_sess else torch.zeros(0)
    h_pred = torch.cat(h_pred) if h_pred else torch.zeros(0)
    info = {
        "warmup_s": round(trained - started, 3),  # data loading + training
        "uncertainty_total_s": round(time.perf_counter() - started, 3),
        "warmup_items": int(dataset.item_num),
        "warmup_threads": torch.get_num_threads(),
    }
    return h_sess, h_pred, info
