"""Issue 18 on CPU: enrichment's temporaries stay under ``enrich_memory_mb`` (measured: every tensor allocated is
counted while it lives), and a VELI training step runs under autocast (bfloat16 on CPU)."""

import weakref

import pytest
import torch
from recbole.data import data_preparation
from recbole.utils import init_seed
from tiny_data import write_tiny_dataset
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from recbole_intent.config import Config
from recbole_intent.model.enrichment import enrich_labels, topk_neighbours
from recbole_intent.utils import create_dataset, get_model

MB = 2**20


class LiveBytes(TorchDispatchMode):
    """Peak bytes of the tensors allocated inside the block that are alive at the same time (outputs that alias an
    input, in-place writes and views, allocate nothing and are not counted)."""

    def __init__(self):
        super().__init__()
        self.live = self.peak = 0
        self.sizes = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        tensors = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        inputs = {t.untyped_storage().data_ptr() for t in tensors}
        for t in tree_flatten(out)[0]:
            if not isinstance(t, torch.Tensor):
                continue
            storage = t.untyped_storage()
            ptr = storage.data_ptr()
            if ptr in inputs or ptr in self.sizes or storage.nbytes() == 0:
                continue
            self.sizes[ptr] = storage.nbytes()
            self.live += storage.nbytes()
            self.peak = max(self.peak, self.live)
            weakref.finalize(storage, self._free, ptr)
        return out

    def _free(self, ptr):
        self.live -= self.sizes.pop(ptr)


def _peak(fn):
    with LiveBytes() as mode:
        result = fn()
    return mode.peak, result


def test_neighbour_search_stays_under_its_budget():
    torch.manual_seed(0)
    h = torch.randn(3000, 16)
    tables = 3000 * 16 * 4 + 3000 * 10 * (8 + 4)  # normalised h, idx and sim: the N-row outputs
    budget = 1 * MB
    peak, (idx, _) = _peak(lambda: topk_neighbours(h, 10, memory_bytes=budget))
    assert peak <= tables + budget
    unbounded, (reference, _) = _peak(lambda: topk_neighbours(h, 10, memory_bytes=64 * MB))
    assert unbounded > tables + 8 * budget  # the 3000 x 3000 similarity block (36 MB) when nothing bounds it
    assert torch.equal(idx, reference)
    peak, _ = _peak(lambda: topk_neighbours(h, 10, scope="batch", batch_size=2048, memory_bytes=budget))
    assert peak <= tables + 3000 * 8 + budget  # + the random partition


def test_label_mixing_accounts_for_k_and_the_pool_size():
    torch.manual_seed(0)
    n, k, g = 3000, 10, 200
    y_hat, sim = torch.rand(n, g), torch.rand(n, k)
    idx = torch.randint(0, n, (n, k))
    out = torch.empty(n, g)
    budget = 1 * MB
    peak, _ = _peak(lambda: enrich_labels(y_hat, idx, sim, memory_bytes=budget, out=out))
    assert peak <= budget  # written into ``out``: only the chunk temporaries count
    unbounded, _ = _peak(lambda: enrich_labels(y_hat, idx, sim, memory_bytes=256 * MB, out=out))
    assert unbounded >= n * k * g * 4  # the N x K x |G| gather (24 MB) when nothing bounds it
    assert torch.allclose(out, enrich_labels(y_hat, idx, sim))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    cfg, _ = write_tiny_dataset(str(tmp_path_factory.mktemp("data")))
    return cfg


def _build(cfg, **extra):
    config = Config(model="VELI_SASRec", dataset="tiny", config_dict=dict(cfg, **extra))
    init_seed(config["seed"], config["reproducibility"])
    train, _, _ = data_preparation(config, create_dataset(config))
    return get_model("VELI_SASRec")(config, train._dataset), train


def test_model_enrichment_stays_under_its_budget(tiny):
    model, _ = _build(tiny, enrich_memory_mb=0.05, train_batch_size=192)
    n, g = model.intent_labels.labels.shape
    tables = n * (16 + g) * 4 * 2 + n * 3 * (8 + 4)  # h and y_hat, normalised h and its copy, idx and sim
    peak, _ = _peak(model.enrich_intent_labels)
    assert peak <= tables + 0.05 * MB + 64 * 1024  # + the backbone's activations of one encoding batch


@pytest.mark.parametrize("rec_loss", ["bce", "ce"])
def test_training_step_under_bfloat16_autocast(tiny, rec_loss):
    model, train = _build(tiny, rec_loss=rec_loss, intent_fusion_rule="calibrated", intent_init="prior")
    batch = next(iter(train))
    full = [float(x.detach()) for x in model.calculate_loss(batch)]
    torch.manual_seed(0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        parts = model.calculate_loss(batch)
        sum(parts).backward()
    assert all(torch.isfinite(p) for p in parts)
    assert parts[1].dtype == torch.float32  # L_intent is taken in float32 from the logits
    assert float(parts[1].detach()) == pytest.approx(full[1], rel=0.05)
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
