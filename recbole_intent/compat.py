"""Run-time fixes that RecBole 1.2.1 needs on today's torch, in one place.

1. ``recbole/model/sequential_recommender/sine.py`` calls ``torch.autograd.set_detect_anomaly(True)`` at import
   time, and ``recbole.model`` imports it with every model: every backward pass then records stack traces
   (measured 1.6x slower epochs). We import RecBole's models once here and switch anomaly detection back off.
2. RecBole saves ``{'config': Config, ...}`` with ``torch.save`` and reads it back with a bare ``torch.load``,
   which torch >= 2.6 refuses (``weights_only=True`` by default cannot unpickle a ``Config``). We do NOT turn the
   safety off: our trainer saves checkpoints that hold only tensors and plain Python values (``plain_config``),
   and loads them with ``weights_only=True`` (``load_checkpoint``), so loading a checkpoint never executes code.
3. RecBole's ``Config._init_device`` starts every distributed run with ``backend="nccl"`` on ``cuda:<local_rank>``,
   so ranks cannot run on CPU; its Trainer wraps the model in ``DistributedDataParallel`` with buffer broadcasting
   on, which re-sends every buffer from rank 0 at each step (the intent label table [sessions x |G|]: 4 GB per step
   at 10^6 sessions x 1,000 intents). ``_init_device`` below takes the backend from the config (``dist_backend``;
   by default nccl on GPU, gloo on CPU) and the DDP wrapper broadcasts buffers at most once, at start (no RecBole
   model registers any; our label tables are identical on all ranks by construction, see
   ``recbole_intent.model.distributed``).

Importing ``recbole_intent`` applies (1) and (3); (2) is used by ``recbole_intent.trainer``.
"""

import enum
import inspect
import os

import torch
from torch.nn.parallel import DistributedDataParallel

_anomaly_before = torch.is_anomaly_enabled()
import recbole.model.sequential_recommender  # noqa: E402,F401  (imports SINE, which flips the global switch)

torch.autograd.set_detect_anomaly(_anomaly_before)
import recbole.config.configurator  # noqa: E402
import recbole.trainer.trainer  # noqa: E402

_PLAIN = (str, int, float, bool, type(None))


def plain_value(value):
    """Convert a config value into something ``torch.load(weights_only=True)`` accepts (no custom classes)."""
    if isinstance(value, enum.Enum):
        return plain_value(value.value) if isinstance(value.value, _PLAIN) else value.name
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, dict):
        return {str(k): plain_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain_value(v) for v in value]
    return str(value)  # torch.device, numpy scalars, ... : kept for the record, not for execution


def plain_config(config):
    """A RecBole ``Config`` as a dict of plain values (what a checkpoint stores instead of the object)."""
    return plain_value(dict(config.final_config_dict))


def load_checkpoint(path, map_location="cpu"):
    """Load a checkpoint written by our trainer; refuses any file that would need to run code to load."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises UnpicklingError / RuntimeError depending on the content
        raise RuntimeError(
            f"{path} is not a weights-only checkpoint (it would need to execute code to load). "
            "Checkpoints written by recbole-intent hold only tensors and plain values; files saved by plain "
            "RecBole embed a Config object and are not loaded here for safety."
        ) from err


def _init_device(self):
    """RecBole 1.2.1's ``Config._init_device`` with the process-group backend taken from the config (fix 3)."""
    cfg = self.final_config_dict
    gpu_id = cfg["gpu_id"]
    cfg["gpu_id"] = gpu_id = ",".join(map(str, gpu_id)) if isinstance(gpu_id, (tuple, list)) else str(gpu_id)
    os.environ["CUDA_VISIBLE_DEVICES"] = gpu_id
    on_gpu = len(gpu_id) > 0 and torch.cuda.is_available()
    if "local_rank" not in cfg:
        cfg["single_spec"], cfg["local_rank"] = True, 0
        cfg["device"] = torch.device("cuda" if on_gpu else "cpu")
        return
    backend = cfg.get("dist_backend") or ("nccl" if on_gpu else "gloo")
    if backend == "nccl" and (not on_gpu or len(gpu_id.split(",")) < cfg.get("nproc", 1)):
        raise ValueError(f"dist_backend=nccl with nproc={cfg.get('nproc', 1)} needs as many GPUs in gpu_id (got "
                         f"gpu_id={gpu_id!r}, CUDA available: {torch.cuda.is_available()}); "
                         "use e.g. --gpu_id=0,1, or dist_backend=gloo to run the ranks on CPU")
    torch.distributed.init_process_group(
        backend=backend, rank=cfg["local_rank"] + cfg.get("offset", 0), world_size=cfg["world_size"],
        init_method=f"tcp://{cfg['ip']}:{cfg['port']}")
    cfg["single_spec"] = False
    if backend == "nccl":
        cfg["device"] = torch.device("cuda", cfg["local_rank"])
        torch.cuda.set_device(cfg["local_rank"])
    else:
        cfg["device"] = torch.device("cpu")
    if cfg["local_rank"] != 0:  # as RecBole: only the first rank logs and shows progress
        cfg["state"], cfg["show_progress"], cfg["verbose"] = "error", False, False


def _distributed_data_parallel(module, device_ids=None, **kwargs):
    """The ``DistributedDataParallel`` that RecBole's Trainer builds, with no buffer broadcast per step (fix 3) and
    with ``device_ids`` left out for a CPU module (DDP refuses them there)."""
    on_cpu = all(p.device.type == "cpu" for p in module.parameters())
    # torch >= 2.13 splits the switch: buffers are still sent once at start, then never again.
    per_step = "forward_sync_buffers" if "forward_sync_buffers" in _DDP_ARGS else "broadcast_buffers"
    kwargs.setdefault(per_step, False)
    return DistributedDataParallel(module, device_ids=None if on_cpu else device_ids, **kwargs)


_DDP_ARGS = inspect.signature(DistributedDataParallel.__init__).parameters
recbole.config.configurator.Config._init_device = _init_device
recbole.trainer.trainer.DistributedDataParallel = _distributed_data_parallel
