"""Checks of a run's settings before anything is loaded or trained, so that a mistake costs one line, not a run.

Every key that one of our YAML files defines (``properties/overall.yaml``, ``intent.yaml``, ``model/*.yaml``,
``dataset/*.yaml``, ``protocol/*.yaml``) has a type: the ``# (type)`` of its comment, else its default's own type. A
value the user gives (command line, config file, config dict) must have that type, and, for the keys in
``choices()`` / ``RANGES``, a valid value, so ``--lambda_intent=abc`` or ``--enrich_k=-1`` stops before the first
epoch instead of crashing at the first enrichment. A command-line or config-file key that no YAML file defines
(RecBole's or ours) is most likely misspelt: it gets one warning line, naming the closest known key.
New keys need no code here: their YAML default gives their type.
"""

import difflib
import os
import re
from functools import lru_cache
from logging import getLogger
from pathlib import Path

import yaml

from recbole_intent.errors import UserError  # defined below data/ in the import order; used here too


def choices():
    """Keys with a fixed set of values, taken from the model code that reads them (which raises on others, but only
    when it first uses them: enrichment at epoch rho)."""
    from recbole_intent.model import enrichment, intent_predictor

    return {
        "rec_loss": ("bce", "ce"),  # Eq. 12 or RecBole's softmax CE (model/veli.py)
        "enrich_mode": (*enrichment.MODES, "none"),  # Eq. 16, its ablations, or the LLM labels only
        "enrich_scope": enrichment.SCOPES,  # VELI4SBR Eq. 14 / SPRINT Eq. 12
        "enrich_search": enrichment.SEARCHES,
        "intent_fusion_rule": intent_predictor.FUSION_RULES,  # phi (Eq. 11) and our variants
        "intent_fusion_grad": intent_predictor.FUSION_GRADS,
        "intent_init": intent_predictor.INITS,
    }


# (low, high, low included, high included); None = unbounded.
RANGES = {
    "lambda_intent": (0, None, True, False),  # Eq. 17 weights
    "lambda_ortho": (0, None, True, False),
    "intent_tau": (0, 1, True, True),  # phi's threshold on sigmoid outputs (Eq. 11)
    "intent_dropout_prob": (0, 1, True, False),
    "intent_ratio": (0, 1, True, True),  # a share of sessions (SPRINT Fig. 5)
    "enrich_k": (1, None, True, False),  # K neighbours (Eq. 14)
    "enrich_rho": (1, None, True, False),  # refresh every rho epochs
    "enrich_nprobe": (1, None, True, False),
    "epochs": (0, None, True, False),
    "train_batch_size": (1, None, True, False),
    "eval_batch_size": (1, None, True, False),
    "learning_rate": (0, None, False, False),
    "weight_decay": (0, None, True, False),
    "MAX_ITEM_LIST_LENGTH": (1, None, True, False),
    "hidden_size": (1, None, True, False),
    "embedding_size": (1, None, True, False),
    "inner_size": (1, None, True, False),
    "n_layers": (1, None, True, False),
    "n_heads": (1, None, True, False),
    "hidden_dropout_prob": (0, 1, True, False),
    "attn_dropout_prob": (0, 1, True, False),
    "dropout_prob": (0, 1, True, False),
    "threads": (0, None, True, False),
    "intent_fusion_factor": (0, None, False, False),
    "intent_fusion_m": (1, None, True, False),
    "intent_holdout": (0, 1, True, False),
    "enrich_memory_mb": (0, None, False, False),
}  # lr_decay_step / lr_decay_gamma: checked (together) by trainer.py, before the first epoch
# Keys RecBole sets or reads without a YAML default, and the flags of our run scripts (RecBole's Config also reads
# those from sys.argv).
RUNTIME_KEYS = {
    "model", "dataset", "config_files", "device", "local_rank", "single_spec", "nproc", "world_size", "offset", "ip",
    "port", "MODEL_TYPE", "MODEL_INPUT_TYPE", "eval_type", "valid_metric_bigger", "valid_neg_sample_args",
    "test_neg_sample_args", "params_file", "algo", "max_evals", "output_file",
}
_TYPE_WORDS = {"str": str, "int": int, "float": float, "bool": bool, "none": type(None), "list": list, "dict": dict}
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "True or False", type(None): "None"}
_COMMENT_TYPE = re.compile(r"^([A-Za-z_]\w*)\s*:.*#\s*\(([^)]*)\)")
_warned = set()


def warn_once(message):
    """One warning line per distinct message and process (``HyperTuning`` builds a Config per trial)."""
    if message not in _warned:
        _warned.add(message)
        getLogger("recbole_intent").warning(f"warning: {message}")


def _yaml_files(folder):
    return sorted(Path(folder).rglob("*.yaml"))


def _properties():
    """Our YAML folder, ``recbole_intent.config.PROPERTIES`` (imported late: config imports this module)."""
    from recbole_intent import config

    return Path(config.PROPERTIES)


@lru_cache(maxsize=1)
def key_specs():
    """``{key: (allowed types, example value, file)}`` from our YAML files (the generator's keys are its own)."""
    from recbole.config import Config as RecBoleConfig

    loader = RecBoleConfig._build_yaml_loader(None)  # RecBole's loader reads 1e-4 as a float, as Config does
    specs = {}
    for file in _yaml_files(_properties()):
        if file.name == "generate.yaml":
            continue
        text = file.read_text(encoding="utf-8")
        defaults = yaml.load(text, Loader=loader) or {}
        commented = {m.group(1): m.group(2) for m in map(_COMMENT_TYPE.match, text.splitlines()) if m}
        for key, default in defaults.items():
            words = re.split(r"\s+or\s+|\s*,\s*", commented.get(key, "").strip().lower())
            types = {_TYPE_WORDS[w] for w in words if w in _TYPE_WORDS}
            if not types and type(default) in (str, int, float, bool):
                types = {type(default)}
            if not types:
                continue
            if default is None:
                types.add(type(None))
            old = specs.get(key)
            specs[key] = (types, default, file) if old is None else (old[0] | types, old[1], old[2])
    return specs


@lru_cache(maxsize=1)
def known_keys():
    """Every key some YAML file defines (RecBole's properties and ours) plus ``RUNTIME_KEYS``."""
    import recbole
    from recbole.utils import argument_list

    keys = set(RUNTIME_KEYS)
    for group in ("general_arguments", "training_arguments", "evaluation_arguments", "dataset_arguments"):
        keys.update(getattr(argument_list, group))
    for file in _yaml_files(Path(recbole.__file__).parent / "properties") + _yaml_files(_properties()):
        if file.name != "url.yaml" and file.name != "kg_url.yaml":
            keys.update((yaml.safe_load(file.read_text(encoding="utf-8")) or {}).keys())
    return keys


def _interval(low, high, low_in, high_in):
    if high is None:
        return f">= {low}" if low_in else f"> {low}"
    return f"in {'[' if low_in else '('}{low}, {high}{']' if high_in else ')'}"


def check_value(key, value, where):
    """The value to use for ``key`` (an int is accepted for a float, a number for a string), or a ``UserError``
    naming the key, the value, where it came from and what is expected."""
    spec = key_specs().get(key)
    if spec is not None:
        types, example, file = spec
        ok = type(value) in types or (float in types and type(value) is int)
        if not ok and str in types and type(value) in (int, float):
            value, ok = str(value), True  # RecBole's command line turns --intent_set=2024 into an int
        if not ok:
            expected = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in sorted(types, key=str))
            raise UserError(f"{key}={value!r} ({where}): expected {expected}, e.g. {key}: {example!r} "
                            f"(defined in {file.parent.name}/{file.name})")
    if value is None:
        return value
    allowed = choices().get(key)
    if allowed and value not in allowed:
        raise UserError(f"{key}={value!r} ({where}): must be one of {', '.join(map(repr, allowed))}")
    if key in RANGES and isinstance(value, (int, float)) and not isinstance(value, bool):
        low, high, low_in, high_in = RANGES[key]
        if (value < low if low_in else value <= low) or (high is not None and (value > high if high_in else
                                                                                value >= high)):
            raise UserError(f"{key}={value!r} ({where}): must be {_interval(*RANGES[key])}")
    return value


def check_settings(external, sources, final):
    """Check every user-given value (``external``, each key's origin in ``sources``) and write the accepted value
    into ``final``; warn once about command-line / config-file keys that no YAML file defines."""
    for key, value in external.items():
        final[key] = check_value(key, value, sources.get(key, "config_dict"))
    warn_unknown({key: where for key, where in sources.items() if where != "config_dict"})


def warn_unknown(sources):
    """One warning line for the keys of ``{key: where it was set}`` that no YAML file defines."""
    hints = []
    for key in (key for key in sources if key not in known_keys()):
        close = difflib.get_close_matches(key, known_keys(), n=1, cutoff=0.75)
        hints.append(f"{key} ({sources[key]}{f'; did you mean {close[0]}?' if close else ''})")
    if hints:
        warn_once(f"no YAML file (RecBole's or ours) defines {', '.join(hints)}: misspelt?")


def check_device(external):
    """``--device=cuda`` / ``--gpu_id=0`` on a machine where torch sees no GPU: RecBole silently runs on the CPU;
    say so once."""
    import torch

    asked = [f"{k}={external[k]}" for k in ("device", "gpu_id") if k in external and str(external[k]).strip()
             and (k != "device" or "cuda" in str(external[k]).lower())]
    if asked and not torch.cuda.is_available():
        warn_once(f"{' / '.join(asked)} asks for a GPU, but torch sees none (torch.cuda.is_available() is False): "
                  "running on the CPU")


def read_config_file(path, loader):
    """One of the user's ``--config_files`` as a dict, or a ``UserError`` naming the file (and the line of a YAML
    syntax error) instead of PyYAML's traceback."""
    try:
        with open(path, encoding="utf-8") as f:
            values = yaml.load(f.read(), Loader=loader)
    except OSError as err:
        raise UserError(f"config file {path}: cannot be read ({err.strerror or err})") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        what = " ".join(str(getattr(err, "problem", None) or err).split())
        raise UserError(f"{where}: not valid YAML ({what})") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise UserError(f"config file {path}: must hold 'key: value' lines, not a {type(values).__name__}")
    return values


def line_of(path, key):
    """``path:line`` of ``key``'s top-level line in a YAML file (for messages), or ``path``."""
    try:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if re.match(rf"{re.escape(key)}\s*:", line):
                    return f"{path}:{number}"
    except OSError:
        pass
    return str(path)


def unknown_model(name, err):
    """The ``UserError`` for a model name that neither our package nor RecBole has (RecBole's own search ends in a
    34-line ImportError about lightgbm, which its external-library models need)."""
    import recbole

    ours = sorted(p.stem for p in (_properties() / "model").glob("*.yaml"))
    recboles = sorted(p.stem for p in (Path(recbole.__file__).parent / "properties" / "model").glob("*.yaml"))
    if name in recboles and isinstance(err, ImportError):
        return UserError(f"RecBole's model {name!r} needs the package {err.name or err}, which is not installed")
    close = difflib.get_close_matches(str(name), ours + recboles, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return UserError(f"unknown model {name!r}{hint}: recbole-intent's models are {', '.join(ours)}; any RecBole "
                     "model also runs (e.g. SASRec, GRU4Rec, NARM)")


def check_dataset(config):
    """A dataset name with no folder under ``data_path`` (and none RecBole can download): one line naming the
    folder and the datasets there are, before a model asks for intent files of a dataset that does not exist."""
    import recbole

    from recbole_intent.config import REPO_DATASETS

    folder = Path(config["data_path"])  # RecBole's Config already joined data_path and the dataset name
    name = config["dataset"]
    if folder.is_dir():
        return
    urls = Path(recbole.__file__).parent / "properties" / "dataset" / "url.yaml"
    if name in (yaml.safe_load(urls.read_text(encoding="utf-8")) or {}):
        return  # RecBole downloads it
    places = []
    for parent in dict.fromkeys([folder.parent.resolve(), Path(REPO_DATASETS).resolve()]):  # data_path, ours
        there = sorted(p.name for p in parent.iterdir() if p.is_dir() and not p.name.startswith(".")) \
            if parent.is_dir() else []
        if there:
            close = difflib.get_close_matches(name, there, n=1, cutoff=0.6)
            places.append((f"did you mean {close[0]}? " if close else "") + f"the datasets in {parent} are "
                          f"{', '.join(there)}")
    raise UserError(f"dataset {name!r} not found: there is no folder {folder}"
                    + "".join(f" ({place})" for place in places) + "; or set data_path to the folder that holds it")


def check_inputs(config):
    """Before the run logs its settings: the dataset folder (``check_dataset``) and, for a model that reads intents,
    its intent files (``intent_files.require_files``), so a misspelt dataset or intent set is the only line."""
    from recbole_intent.data.intent_files import intent_dir, require_files
    from recbole_intent.utils import get_model

    check_dataset(config)
    if getattr(get_model(config["model"]), "input_intents", False):
        root = os.path.dirname(os.path.normpath(config["data_path"]))
        require_files(intent_dir(config), config["dataset"], ["user", config["intent_pool_suffix"]], root,
                      config["intent_set"])


def check_params_file(path):
    """Every value of a ``HyperTuning`` search space (RecBole's format: ``name choice [..]``, ``name uniform lo,hi``,
    ``quniform lo,hi,q``, ``loguniform lo,hi``), checked like a setting before the first trial trains."""
    import ast
    import math

    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as err:
        raise UserError(f"params file {path}: cannot be read ({err.strerror or err})") from None
    names = {}
    for number, line in enumerate(lines, start=1):
        parts = line.strip().split(" ")
        if len(parts) < 3:
            continue  # RecBole skips such lines too
        name, kind, text, where = parts[0], parts[1], "".join(parts[2:]), f"{path}:{number}"
        try:
            if kind == "choice":
                values = list(ast.literal_eval(text))
            elif kind in ("uniform", "quniform", "loguniform"):
                values = [float(v) for v in text.split(",")][:2]
                values = [math.exp(v) for v in values] if kind == "loguniform" else values
            else:
                raise UserError(f"{where}: {kind!r} is not a search type (choice, uniform, quniform, loguniform)")
        except (ValueError, SyntaxError, TypeError) as err:
            if isinstance(err, UserError):
                raise
            raise UserError(f"{where}: cannot read the values {text!r} of {name} ({kind})") from None
        for value in values:
            check_value(name, value, where)
        names[name] = where
    warn_unknown(names)
