"""Run-time fixes that RecBole 1.2.1 needs on today's torch, in one place.

1. ``recbole/model/sequential_recommender/sine.py`` calls ``torch.autograd.set_detect_anomaly(True)`` at import
   time, and ``recbole.model`` imports it with every model: every backward pass then records stack traces
   (measured 1.6x slower epochs). We import RecBole's models once here and switch anomaly detection back off.
2. RecBole saves ``{'config': Config, ...}`` with ``torch.save`` and reads it back with a bare ``torch.load``,
   which torch >= 2.6 refuses (``weights_only=True`` by default cannot unpickle a ``Config``). We do NOT turn the
   safety off: our trainer saves checkpoints that hold only tensors and plain Python values (``plain_config``),
   and loads them with ``weights_only=True`` (``load_checkpoint``), so loading a checkpoint never executes code.

Importing ``recbole_intent`` applies (1); (2) is used by ``recbole_intent.trainer``.
"""

import enum

import torch

_anomaly_before = torch.is_anomaly_enabled()
import recbole.model.sequential_recommender  # noqa: E402,F401  (imports SINE, which flips the global switch)

torch.autograd.set_detect_anomaly(_anomaly_before)

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
