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
4. RecBole 1.2.1's own code raises pandas and torch ``FutureWarning``s on every run (chained ``fillna(inplace=True)``,
   ``Series.agg(len)``, ``torch.cuda.amp.GradScaler``), hyperopt 0.2.5 (RecBole's tuner) warns that it imports
   ``pkg_resources``, and RecBole's config prints ``use_gpu = True`` on a machine without a GPU: nothing a user can
   act on. ``quiet_recbole`` silences exactly those warnings (by category, message and the module that raises them;
   every other warning stays visible) and the config says ``use_gpu = False`` when the device is the CPU.

Importing ``recbole_intent`` applies (1), (3) and (4); (2) is used by ``recbole_intent.trainer``.
"""

import enum
import inspect
import os
import warnings

import torch
from torch.nn.parallel import DistributedDataParallel

_anomaly_before = torch.is_anomaly_enabled()
import recbole.model.sequential_recommender  # noqa: E402,F401  (imports SINE, which flips the global switch)

torch.autograd.set_detect_anomaly(_anomaly_before)
import recbole.config.configurator  # noqa: E402
import recbole.trainer.trainer  # noqa: E402

from recbole_intent.errors import UserError  # noqa: E402

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


def dist_backend(cfg):
    """The process-group backend of a run on several ranks: ``dist_backend``, by default nccl when CUDA is available
    and gloo otherwise; a ``UserError`` if nccl is asked for without as many GPUs as ranks on this machine."""
    gpu_id = str(cfg.get("gpu_id") or "")
    on_gpu = len(gpu_id) > 0 and torch.cuda.is_available()
    backend = cfg.get("dist_backend") or ("nccl" if on_gpu else "gloo")
    if backend not in ("nccl", "gloo"):
        raise UserError(f"dist_backend: {backend!r} is not a backend here; use 'nccl' (GPUs), 'gloo' (CPU) or ~ "
                        "(nccl when CUDA is available, else gloo)")
    nproc = int(cfg.get("nproc") or 1)
    if backend == "nccl" and (not on_gpu or len(gpu_id.split(",")) < nproc):
        raise UserError(f"dist_backend=nccl with nproc={nproc} needs as many GPUs in gpu_id (got gpu_id={gpu_id!r}, "
                        f"CUDA available: {torch.cuda.is_available()}); use e.g. --gpu_id=0,1, or "
                        "--dist_backend=gloo to run the ranks on CPU")
    return backend


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
    backend = dist_backend(cfg)
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


# (category, start of the message, module that raises it): calls in RecBole 1.2.1 and hyperopt 0.2.5, the pinned
# releases, that no user setting changes.
RECBOLE_WARNINGS = [
    (FutureWarning, "A value is trying to be set on a copy of a DataFrame or Series through chained assignment",
     r"recbole\.data\."),  # pandas 2.2, Dataset._fill_nan / _remap: df[field].fillna(..., inplace=True)
    (FutureWarning, "using <built-in function len> in Series.agg cannot aggregate", r"recbole\.data\."),
    (FutureWarning, r"`torch.cuda.amp.GradScaler\(args...\)` is deprecated", r"recbole\.trainer\."),
    (UserWarning, "pkg_resources is deprecated as an API", r"hyperopt\."),  # at `import hyperopt` (HyperTuning)
]


def quiet_recbole():
    """Ignore the warnings of ``RECBOLE_WARNINGS`` (fix 4), only where RecBole raises them; idempotent."""
    for category, message, module in RECBOLE_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)


def _quiet(init_device):
    """Every run builds a Config before RecBole's data and trainer code: the filters are (re)installed there, since
    ``warnings.catch_warnings`` (pytest's, a user's) drops the ones installed at import time on exit."""
    def init(self):
        quiet_recbole()
        init_device(self)
        self.final_config_dict["use_gpu"] = self.final_config_dict["device"].type == "cuda"  # fix 4
    return init


quiet_recbole()
recbole.config.configurator.Config._init_device = _quiet(recbole.config.configurator.Config._init_device)
