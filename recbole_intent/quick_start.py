"""One training + evaluation run, shared by ``run_recbole_intent.py``, RecBole's ``HyperTuning`` and the tests."""

import logging
import os
import sys
from logging import getLogger

import torch.distributed as dist
import torch.multiprocessing as mp
from recbole.data import data_preparation
from recbole.utils import init_logger, init_seed, set_color

from recbole_intent.checks import check_inputs
from recbole_intent.compat import dist_backend
from recbole_intent.config import Config
from recbole_intent.threads import apply_threads
from recbole_intent.utils import create_dataset, get_trainer, model_class


def objective_function(config_dict=None, config_file_list=None, saved=True, model=None, dataset=None, verbose=False):
    """Train on the training split, select on validation, report the test split (full ranking).

    Returns RecBole's result dict plus the ``model`` key that ``HyperTuning`` expects.
    """
    config = Config(model=model, dataset=dataset, config_file_list=config_file_list, config_dict=config_dict)
    check_inputs(config)  # a missing dataset or intent set: one line, before the log's settings dump (checks.py)
    if config["single_spec"] and (int(config["nproc"] or 1) > 1 or int(config["world_size"] or -1) > 0):
        return spawn_ranks(config, config_dict, config_file_list, saved, model, dataset, verbose)
    apply_threads(config["threads"])  # before the dataset and the model: see recbole_intent/threads.py
    init_seed(config["seed"], config["reproducibility"])
    logger = getLogger()
    for handler in logger.handlers[:]:  # HyperTuning calls us repeatedly: do not stack log handlers
        logger.removeHandler(handler)
    init_logger(config)
    if verbose:
        logger.info(sys.argv)
        logger.info(config)
    else:
        logging.basicConfig(level=logging.ERROR)

    dataset = create_dataset(config)
    if verbose:
        logger.info(dataset)
    train_data, valid_data, test_data = data_preparation(config, dataset)

    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model = model_class(config)(config, train_data._dataset).to(config["device"])
    if verbose:
        logger.info(model)
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    if not config["single_spec"]:  # each rank named its checkpoint by its own clock: all read the one rank 0 writes
        trainer.saved_model_file = _from_rank0(trainer.saved_model_file)
    best_valid_score, best_valid_result = trainer.fit(
        train_data, valid_data, verbose=verbose, saved=saved, show_progress=config["show_progress"]
    )
    if not config["single_spec"]:
        dist.barrier()  # rank 0 may still be writing the best checkpoint that every rank loads next
    test_result = trainer.evaluate(test_data, load_best_model=saved, show_progress=config["show_progress"])
    diagnose = getattr(model, "intent_diagnostics", None)  # on the best model: predictor vs held-out LLM labels
    diagnostics = diagnose(test_data._dataset) if diagnose else None
    if not config["single_spec"]:
        dist.destroy_process_group()
    if verbose:
        logger.info(set_color("best valid ", "yellow") + f": {best_valid_result}")
        logger.info(set_color("test result", "yellow") + f": {test_result}")
        logger.info(set_color("intent diagnostics", "yellow") + f": {diagnostics}")
    return {
        "model": config["model"],
        "best_valid_score": best_valid_score,
        "valid_score_bigger": config["valid_metric_bigger"],
        "best_valid_result": best_valid_result,
        "test_result": test_result,
        "intent_diagnostics": diagnostics,
        "saved_model_file": trainer.saved_model_file if saved else None,
        "epochs": len(getattr(trainer, "epoch_seconds", [])),
        "seconds_per_epoch": _mean(getattr(trainer, "epoch_seconds", [])),
    }


def _mean(values):
    return sum(values) / len(values) if values else None


def run_recbole_intent(model=None, dataset=None, config_file_list=None, config_dict=None, saved=True):
    """RecBole's ``run_recbole`` for our models and RecBole's."""
    return objective_function(config_dict, config_file_list, saved=saved, model=model, dataset=dataset, verbose=True)


def spawn_ranks(config, config_dict, config_file_list, saved, model, dataset, verbose):
    """RecBole's own launch (``recbole.quick_start.run``): ``nproc`` processes on this machine, ranks
    ``offset .. offset + nproc - 1`` of ``world_size`` (default ``nproc``), meeting at ``tcp://ip:port``.
    Returns the first local rank's result; ``compat`` picks the backend (nccl on GPU, gloo on CPU)."""
    nproc = int(config["nproc"] or 1)
    world_size = int(config["world_size"] or -1)
    dist_backend(config.final_config_dict)  # a wrong backend: one message here, not one traceback per rank
    settings = dict(config_dict or {}, nproc=nproc, world_size=nproc if world_size <= 0 else world_size,
                    ip=config["ip"] or "localhost", port=config["port"] or 5678, offset=int(config["offset"] or 0))
    # RecBole's ensure_dir checks, then creates: ranks starting together race on the folders they all write to
    for folder in (os.path.join("log", config["model"]), config["checkpoint_dir"]):
        os.makedirs(folder, exist_ok=True)
    queue = mp.get_context("spawn").SimpleQueue()
    mp.spawn(_run_rank, args=(settings, config_file_list, saved, model, dataset, verbose, queue), nprocs=nproc,
             join=True)
    return None if queue.empty() else queue.get()


def _run_rank(local_rank, settings, config_file_list, saved, model, dataset, verbose, queue):
    result = objective_function(dict(settings, local_rank=local_rank), config_file_list, saved, model, dataset,
                                verbose)
    if local_rank == 0:
        queue.put(result)


def _from_rank0(value):
    """Rank 0's ``value`` (any picklable object) on every rank."""
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]
