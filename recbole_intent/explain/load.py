"""Rebuild config, dataset and model from a recbole-intent checkpoint, without running code from the file.

A checkpoint stores the run's final config as a plain dict (``compat.plain_config``). Most of it can go back into
``Config`` as ``config_dict``; a few keys cannot: RecBole derives them (and some were stringified on saving, e.g.
``device``), and ``data_path`` was joined with the dataset name. Those are dropped or restored here.
"""

import os
import warnings
from dataclasses import dataclass

import torch
from recbole.utils import init_seed

from recbole_intent.compat import load_checkpoint
from recbole_intent.config import Config, without_cmd_line
from recbole_intent.model.veli import IntentEnhanced
from recbole_intent.utils import create_dataset, get_model

# Keys RecBole (re)computes in Config from the model class and other keys; passing the stored copies back would
# override the recomputation with stale or stringified values (``device`` is a str, ``MODEL_TYPE`` an int, the
# negative-sampling dicts hold 'none' strings that RecBole's own check rejects).
DERIVED_KEYS = {
    "model", "dataset", "data_path", "device", "single_spec", "local_rank", "MODEL_TYPE", "MODEL_INPUT_TYPE",
    "eval_type", "valid_metric_bigger", "train_neg_sample_args", "valid_neg_sample_args", "test_neg_sample_args",
}


class ExplainError(ValueError):
    """A user-facing error: wrong file, wrong model or dataset, unknown item or session."""


@dataclass
class Loaded:
    config: Config
    dataset: object  # the full IntentDataset (ids, tokens, the intent pool)
    splits: dict  # split name -> the built RecBole dataset of that split
    model: torch.nn.Module
    model_file: str


def read_checkpoint(model_file):
    """The checkpoint dict, checked to be one of ours; weights-only loading never executes code from the file."""
    if not os.path.isfile(model_file):
        raise ExplainError(f"{model_file}: no such file")
    try:
        checkpoint = load_checkpoint(model_file, map_location="cpu")
    except RuntimeError as err:
        raise ExplainError(str(err)) from err
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("config"), dict) \
            or "state_dict" not in checkpoint:
        raise ExplainError(f"{model_file} is not a recbole-intent checkpoint (no 'config' dict and 'state_dict'); "
                           "write one with run_recbole_intent.py or objective_function")
    return checkpoint


def config_dict_from(stored, data_path=None):
    """The stored config as a ``config_dict`` for ``Config``: derived keys dropped, ``data_path`` back to the parent
    folder that ``Config`` joins with the dataset name."""
    kept = {k: v for k, v in stored.items() if k not in DERIVED_KEYS}
    if data_path is None and stored.get("data_path"):
        data_path = os.path.dirname(os.path.normpath(stored["data_path"]))
    if data_path is not None:
        kept["data_path"] = data_path
    return kept


def load_model(model_file, model=None, dataset=None, data_path=None, extra=None, intent_models_only=True):
    """Rebuild ``Loaded`` from ``model_file``. ``model`` / ``dataset``, when given, must match the checkpoint;
    ``data_path`` replaces the stored one (a moved dataset folder); ``extra`` overrides config keys;
    ``intent_models_only=False`` also loads RecBole's own models (for evaluation, not for explanations)."""
    checkpoint = read_checkpoint(model_file)
    stored = checkpoint["config"]
    saved_model, saved_dataset = stored.get("model"), stored.get("dataset")
    for what, asked, saved in (("model", model, saved_model), ("dataset", dataset, saved_dataset)):
        if asked is not None and asked != saved:
            raise ExplainError(f"{model_file} holds a {saved_model} model trained on '{saved_dataset}', "
                               f"not the {what} {asked!r} that was asked for")
    try:
        model_class = get_model(saved_model)
    except ValueError as err:
        raise ExplainError(f"{model_file}: {err}") from err
    if intent_models_only and not issubclass(model_class, IntentEnhanced):
        raise ExplainError(f"{model_file} holds a {saved_model} model, which has no intent predictor: only the "
                           "intent models (VELI_*, SPRINT_*) can be explained")

    with without_cmd_line():
        config = Config(model=saved_model, dataset=saved_dataset,
                        config_dict={**config_dict_from(stored, data_path), **(extra or {})})
    with warnings.catch_warnings():  # RecBole 1.2.1's pandas idioms warn on every load; not actionable here
        warnings.simplefilter("ignore", FutureWarning)
        full = create_dataset(config)
        names = list(config["benchmark_filename"] or ["train", "valid", "test"])
        splits = dict(zip(names, full.build(), strict=False))
    init_seed(config["seed"], config["reproducibility"])
    net = model_class(config, splits[names[0]])  # built on the training split, as objective_function does
    try:
        net.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as err:
        detail = " ".join(str(err).split())[:600]
        raise ExplainError(
            f"the weights in {model_file} (saved as {saved_model} on '{saved_dataset}') do not fit {saved_model} "
            f"rebuilt on '{saved_dataset}' from {config['data_path']}: the file comes from another model or "
            f"another version of the dataset. {detail}"
        ) from err
    net.load_other_parameter(checkpoint.get("other_parameter"))
    net = net.to(config["device"]).eval()
    return Loaded(config=config, dataset=full, splits=splits, model=net, model_file=str(model_file))
