"""compat fix 4: RecBole's own FutureWarnings are silenced where RecBole raises them, and only there."""

import warnings

import torch
from tiny_data import write_tiny_dataset

from recbole_intent.compat import quiet_recbole
from recbole_intent.config import Config
from recbole_intent.quick_start import objective_function


def test_recbole_future_warnings_are_silenced_and_others_kept(tmp_path):
    cfg, _ = write_tiny_dataset(str(tmp_path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # a fresh filter list that shows everything, as pytest's own capture does
        objective_function(dict(cfg, epochs=1, checkpoint_dir=str(tmp_path)), model="SASRec", dataset="tiny")
        # the same message raised by anybody but RecBole is still shown
        warnings.warn("A value is trying to be set on a copy of a DataFrame or Series through chained assignment",
                      FutureWarning, stacklevel=1)
    future = [w for w in caught if issubclass(w.category, FutureWarning)]
    assert [w.filename for w in future] == [__file__], [str(w.message)[:80] for w in future]


def test_use_gpu_says_what_the_device_is(tmp_path):
    cfg, _ = write_tiny_dataset(str(tmp_path))
    config = Config(model="SASRec", dataset="tiny", config_dict=cfg)
    assert config["use_gpu"] == (config["device"].type == "cuda") == torch.cuda.is_available()


def test_hyperopt_pkg_resources_warning_is_silenced_only_from_hyperopt():
    message = "pkg_resources is deprecated as an API. See https://setuptools.pypa.io/en/latest/pkg_resources.html."
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_recbole()
        warnings.warn_explicit(message, UserWarning, "atpe.py", 19, module="hyperopt.atpe")  # as hyperopt 0.2.5
        warnings.warn_explicit(message, UserWarning, "mine.py", 1, module="mine")
    assert [w.filename for w in caught] == ["mine.py"]
