"""Model, trainer and dataset lookup: our package first, then RecBole's (RecBole-GNN's ``get_model`` pattern)."""

import importlib
import inspect

from recbole.data import create_dataset as recbole_create_dataset
from recbole.utils import ModelType
from recbole.utils import get_model as recbole_get_model
from recbole.utils import get_trainer as recbole_get_trainer

import recbole_intent.compat  # noqa: F401  (must run before any RecBole model is used)
from recbole_intent.checks import UserError, check_dataset, unknown_model


def get_model(model_name):
    """Our models (``recbole_intent.model``) first, then any RecBole model of the same name."""
    models = importlib.import_module("recbole_intent.model")
    if hasattr(models, model_name):
        return getattr(models, model_name)
    try:
        return recbole_get_model(model_name)
    except (ValueError, ImportError) as err:  # RecBole's search ends in exlib, which needs lightgbm/xgboost
        raise unknown_model(model_name, err) from None


def model_class(config):
    """The class a run trains: ``get_model``'s, except that a plain RecBole sequential backbone under
    ``rec_loss: bce`` (the papers' protocol) gets the papers' sampled BCE (``model/sampled_bce.py``)."""
    cls = get_model(config["model"])
    if config["rec_loss"] != "bce" or not cls.__module__.startswith("recbole.model.sequential_recommender"):
        return cls
    if "item_seq_len" not in inspect.signature(cls.forward).parameters:
        raise UserError(f"rec_loss: bce (the papers' protocol) needs a backbone whose forward takes item_seq_len; "
                        f"{cls.__name__}'s does not: train it with --rec_loss=ce or --protocol=strong")
    from recbole_intent.model.sampled_bce import with_sampled_bce

    return with_sampled_bce(cls)


def get_trainer(model_type, model_name):
    """A model-specific trainer if RecBole has one (e.g. S3Rec's pre-training), otherwise our ``Trainer``.

    Ours is RecBole's Trainer plus weights-only checkpoints and the per-epoch hook that intent enrichment needs.
    """
    from recbole_intent.trainer import Trainer

    if model_type == ModelType.SEQUENTIAL or model_type == ModelType.GENERAL:
        special = recbole_get_trainer(model_type, model_name)
        return Trainer if special.__name__ == "Trainer" else special
    return recbole_get_trainer(model_type, model_name)


def create_dataset(config):
    """``IntentDataset`` for models that read intent files, ``SessionDataset`` for other sequential models on
    pre-split session data, RecBole's own choice for everything else."""
    from recbole_intent.data.dataset import IntentDataset, SessionDataset

    check_dataset(config)
    dataset_class = getattr(get_model(config["model"]), "dataset_class", None)
    if dataset_class is not None:  # models with their own data files (LLM4SBR, LLM-DMsRec: per-row LLM views)
        return dataset_class(config)
    if getattr(get_model(config["model"]), "input_intents", False):
        return IntentDataset(config)
    if config["MODEL_TYPE"] == ModelType.SEQUENTIAL and config["benchmark_filename"]:
        dataset_module = importlib.import_module("recbole.data.dataset")
        if not hasattr(dataset_module, config["model"] + "Dataset"):  # e.g. GRU4RecKG keeps its own
            return SessionDataset(config)
    return recbole_create_dataset(config)
