"""RecBole's distributed training on CPU (gloo): two ranks train VELI_SASRec on the tiny dataset and enrich their
intent labels from sharded encodings; both ranks must end with the labels one process computes from the same model.
"""

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
from recbole.data import data_preparation
from recbole.utils import init_seed
from tiny_data import write_tiny_dataset

from recbole_intent.config import Config
from recbole_intent.errors import UserError
from recbole_intent.model.distributed import enrichment_generator, shard_rows
from recbole_intent.quick_start import objective_function
from recbole_intent.utils import create_dataset, get_model, get_trainer

SETTINGS = {"epochs": 2, "enrich_rho": 1, "train_batch_size": 32}  # 192 training sessions: 6 batches, 3 per rank


def free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def build(cfg):
    config = Config(model="VELI_SASRec", dataset="tiny", config_dict=cfg)
    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    train, valid, _ = data_preparation(config, create_dataset(config))
    model = get_model("VELI_SASRec")(config, train._dataset).to(config["device"])
    return config, model, train, valid


def rank_worker(rank, cfg, out):
    """One rank: train through RecBole's Trainer (DDP), then enrich once more, counting the rows it encodes."""
    config, model, train, valid = build(dict(cfg, local_rank=rank))
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    trainer.fit(train, valid, saved=False)
    encoded = []
    encode = model.encode_sessions
    model.encode_sessions = lambda rows=None: (encoded.append(rows.numel()), encode(rows))[1]
    model.enrich_intent_labels(epoch=7)
    labels, rows_encoded = {"global": model.intent_labels.labels.clone()}, sum(encoded)
    model.enrich_scope = "batch"  # SPRINT's random in-batch neighbours (SPRINT Eq. 12)
    model.enrich_intent_labels(epoch=7)
    labels["batch"] = model.intent_labels.labels.clone()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    # DDP must not re-send buffers at each step: a value put into rank 1's table survives a training epoch
    model.enrich_rho = 0
    if rank == 1:
        model.intent_labels.labels[0, 0] = 0.125
    trainer._train_epoch(train, 2)
    torch.save({"labels": labels, "encoded": rows_encoded, "marker": float(model.intent_labels.labels[0, 0]),
                "state": state}, os.path.join(out, f"rank{rank}.pt"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    cfg, _ = write_tiny_dataset(str(tmp_path_factory.mktemp("data")))
    return dict(cfg, **SETTINGS)


def test_shard_rows_are_whole_batches():
    # 10 rows in batches of 3: batches [0,3) [3,6) [6,9) [9,10); 2 ranks take 2 batches each, 3 ranks 2, 2 and 0
    assert [shard_rows(10, 3, r, 2) for r in range(2)] == [(0, 6), (6, 10)]
    assert [shard_rows(10, 3, r, 3) for r in range(3)] == [(0, 6), (6, 10), (10, 10)]
    assert shard_rows(10, 3, 0, 1) == (0, 10)


def test_enrichment_generator_depends_on_seed_and_epoch_only():
    draw = lambda seed, epoch: torch.randperm(50, generator=enrichment_generator(seed, epoch))  # noqa: E731
    torch.manual_seed(0)
    first = draw(7, 3)
    torch.manual_seed(1)  # another rank's global RNG
    assert torch.equal(first, draw(7, 3))
    assert not torch.equal(first, draw(7, 4)) and not torch.equal(first, draw(8, 3))


def test_two_gloo_ranks_hold_the_labels_of_one_process(tiny, tmp_path):
    cfg = dict(tiny, nproc=2, world_size=2, ip="localhost", port=free_port(), offset=0,
               checkpoint_dir=str(tmp_path / "saved"))
    os.makedirs(cfg["checkpoint_dir"])  # RecBole's ensure_dir checks, then creates: the two ranks would race on it
    mp.spawn(rank_worker, args=(cfg, str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    for scope in ("global", "batch"):
        assert torch.equal(ranks[0]["labels"][scope], ranks[1]["labels"][scope]), scope

    _, single, _, _ = build(dict(tiny))
    n = single.session_ids.numel()
    assert n == 192 and [r["encoded"] for r in ranks] == [96, 96]  # one enrichment's work, split, not repeated
    single.load_state_dict(ranks[0]["state"])
    single.enrich_intent_labels(epoch=7)
    assert torch.allclose(single.intent_labels.labels, ranks[0]["labels"]["global"], atol=1e-6)
    single.enrich_scope = "batch"
    single.enrich_intent_labels(epoch=7)
    assert torch.allclose(single.intent_labels.labels, ranks[0]["labels"]["batch"], atol=1e-6)
    assert not torch.allclose(ranks[0]["labels"]["global"], ranks[0]["labels"]["batch"])  # the scopes differ
    assert ranks[1]["marker"] == 0.125 != ranks[0]["marker"]


def test_objective_function_starts_the_ranks(tiny):
    result = objective_function(dict(tiny, nproc=2, port=free_port(), epochs=1), model="VELI_SASRec",
                                dataset="tiny")
    assert set(result["test_result"]) >= {"ndcg@20", "hit@20"} and 0 <= result["test_result"]["ndcg@20"] <= 1
    assert os.path.isfile(result["saved_model_file"])  # rank 0's file, which every rank loaded for the test


def test_nccl_without_gpus_is_one_clear_error(tiny):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    settings = dict(tiny, local_rank=0, nproc=2, world_size=2, ip="localhost", port=free_port(), offset=0,
                    dist_backend="nccl")
    with pytest.raises(UserError, match="dist_backend=nccl with nproc=2 needs as many GPUs"):
        Config(model="VELI_SASRec", dataset="tiny", config_dict=settings)
    del settings["local_rank"]  # the launching process says so before it starts any rank
    with pytest.raises(UserError, match="dist_backend=nccl with nproc=2 needs as many GPUs"):
        objective_function(settings, model="VELI_SASRec", dataset="tiny")
    with pytest.raises(UserError, match="dist_backend: 'mpi' is not a backend here"):
        objective_function(dict(settings, dist_backend="mpi"), model="VELI_SASRec", dataset="tiny")
