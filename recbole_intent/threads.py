"""The ``threads`` key: how many intra-op threads torch may use in one run.

torch's default is one thread per core. On a machine that other jobs share, OpenMP threads that spin against each
other make a small model's epoch many times slower (measured on the project's 2-core server: 113-165 s per
SASRec epoch on beauty with torch's default, 13.7 s with one thread; see docs/troubleshooting.md). The default
(``threads: 1`` in ``properties/overall.yaml``) is therefore one thread; ``threads: 0`` keeps torch's default.
It is applied right after the config is read, before the dataset is built or a model trained.
"""

import torch

from recbole_intent.errors import UserError


def check_threads(value, where="threads"):
    """The number of threads as an int >= 0, or a ``UserError`` (one line, exit 2) naming the key and the value."""
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit():
        raise UserError(f"{where}: {value!r} is not a number of threads (an integer >= 1, or 0 for torch's "
                         "default of one thread per core)")
    return int(value)


def apply_threads(value, where="threads"):
    """Set torch's intra-op threads (0: leave torch's default). Returns the number torch now uses."""
    threads = check_threads(value, where)
    if threads > 0:
        torch.set_num_threads(threads)
    return torch.get_num_threads()
