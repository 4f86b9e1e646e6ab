"""Config that layers recbole-intent's YAML files over RecBole's (RecBole-GNN's plugin shape).

Order, later wins: RecBole's own internal files, then ours: ``properties/overall.yaml``,
``properties/intent.yaml`` (intent models only), ``properties/model/<Model>.yaml``,
``properties/dataset/<dataset>.yaml``, ``properties/protocol/<protocol>.yaml`` (``--protocol=papers|strong``); then
the user's files, dict and command line.
A VELI model does not inherit its backbone's YAML: its own file repeats what it needs.

For models that read intents, the RecBole loading keys for the intent files are derived here from the model's
``intent_*`` keys, so they always agree (``load_col``, ``additional_feat_suffix``, ``alias_of_*``, ``preload_weight``).
"""

import sys
from contextlib import contextmanager
from pathlib import Path

import yaml
from recbole.config import Config as RecBoleConfig

from recbole_intent.checks import UserError, check_device, check_settings, line_of, read_config_file
from recbole_intent.paths import PROPERTIES
from recbole_intent.utils import get_model

# The repository's committed datasets (beauty); a user's own data_path always wins.
REPO_DATASETS = Path(__file__).resolve().parent.parent / "dataset"


class Config(RecBoleConfig):
    def _get_model_and_dataset(self, model, dataset):
        if model is None:
            model = self.external_config_dict.get("model")
            if model is None:
                raise KeyError("model must be given (argument, config file, config dict or --model=...)")
        if isinstance(model, str):
            model_class = get_model(model)
        else:
            model_class, model = model, model.__name__
        if dataset is None:
            dataset = self.external_config_dict.get("dataset")
            if dataset is None:
                raise KeyError("dataset must be given (argument, config file, config dict or --dataset=...)")
        return model, model_class, dataset

    def _load_internal_config_dict(self, model, model_class, dataset):
        super()._load_internal_config_dict(model, model_class, dataset)
        files = [PROPERTIES / "overall.yaml", PROPERTIES / "model" / f"{model}.yaml",
                 PROPERTIES / "dataset" / f"{dataset}.yaml"]
        if getattr(model_class, "input_intents", False):
            files.insert(1, PROPERTIES / "intent.yaml")
        for file in files:
            if file.is_file():
                config_dict = self._update_internal_config_dict(file)
                if file.parent.name == "dataset" and config_dict:
                    self.parameters["Dataset"] += [k for k in config_dict if k not in self.parameters["Dataset"]]
        self._load_protocol(model_class)
        if "data_path" not in self.external_config_dict and (REPO_DATASETS / dataset).is_dir():
            self.internal_config_dict["data_path"] = str(REPO_DATASETS)

    def _load_protocol(self, model_class):
        """``protocol: papers | strong`` (command line, config dict or file): properties/protocol/<name>.yaml over the
        model and dataset files. ``backbone_defaults`` lists keys taken from RecBole's own YAML of the backbone (for
        ``VELI_SASRec``: SASRec.yaml), so a VELI model and its backbone are regularised alike."""
        name = self.external_config_dict.get("protocol", self.internal_config_dict.get("protocol"))
        if not name:
            return
        file = PROPERTIES / "protocol" / f"{name}.yaml"
        if not file.is_file():
            choices = sorted(p.stem for p in (PROPERTIES / "protocol").glob("*.yaml"))
            raise UserError(f"protocol {name!r} is unknown: choose one of {choices} (files in {file.parent})")
        protocol = self._update_internal_config_dict(file) or {}
        keys = protocol.get("backbone_defaults") or []
        backbone = backbone_yaml(model_class)
        if keys and backbone is not None:
            with open(backbone, encoding="utf-8") as f:
                defaults = yaml.load(f.read(), Loader=self.yaml_loader) or {}
            self.internal_config_dict.update({k: defaults[k] for k in keys if k in defaults})

    def _load_config_files(self, file_list):
        """RecBole's, with a one-line error for an unreadable or malformed file; remembers where each key was set."""
        self._key_sources = {}
        values = {}
        for file in file_list or []:
            loaded = read_config_file(file, self.yaml_loader)
            values.update(loaded)
            self._key_sources.update({key: line_of(file, key) for key in loaded})
        return values

    def _get_final_config_dict(self):
        final = super()._get_final_config_dict()
        sources = {**self._key_sources, **dict.fromkeys(self.variable_config_dict, "config_dict"),
                   **dict.fromkeys(self.cmd_config_dict, "command line")}
        check_settings(self.external_config_dict, sources, final)  # before anything is loaded: recbole_intent/checks
        check_device(self.external_config_dict)
        if getattr(self.model_class, "input_intents", False):
            _derive_intent_loading(final)
        return final


def backbone_yaml(model_class):
    """RecBole's YAML file of the first RecBole model class in ``model_class``'s MRO (the class itself for RecBole's
    models, the backbone for ``VELI_X(IntentEnhanced, X)``), or None."""
    import recbole

    folder = Path(recbole.__file__).resolve().parent / "properties" / "model"
    for cls in model_class.__mro__:
        if cls.__module__.startswith("recbole.model") and (folder / f"{cls.__name__}.yaml").is_file():
            return folder / f"{cls.__name__}.yaml"
    return None


def _derive_intent_loading(cfg):
    """Turn the model's ``intent_*`` keys into RecBole's own loading mechanisms (see README, "Intent files")."""
    uid = cfg["USER_ID_FIELD"]
    load_col = dict(cfg.get("load_col") or {})
    load_col["user"] = [uid, cfg["intent_field"], cfg["hard_negative_field"]]
    # Only the ids: RecBole never remaps token fields of additional files unless aliased, and the model needs
    # no names (tools read them from the file).
    load_col[cfg["intent_pool_suffix"]] = [cfg["intent_id_field"]]
    suffixes = [cfg["intent_pool_suffix"]]
    alias_item = list(cfg.get("alias_of_item_id") or [])
    alias_item.append(cfg["hard_negative_field"])
    if cfg.get("use_text_emb"):
        suffixes.append(cfg["text_emb_suffix"])
        load_col[cfg["text_emb_suffix"]] = [cfg["text_emb_id_field"], cfg["text_emb_field"]]
        alias_item.append(cfg["text_emb_id_field"])
        cfg["preload_weight"] = {**(cfg.get("preload_weight") or {}), cfg["text_emb_id_field"]: cfg["text_emb_field"]}
    cfg["load_col"] = load_col
    cfg["additional_feat_suffix"] = list(dict.fromkeys(list(cfg.get("additional_feat_suffix") or []) + suffixes))
    cfg["alias_of_item_id"] = list(dict.fromkeys(alias_item))
    cfg["alias_of_intent_id"] = [cfg["intent_field"]]


@contextmanager
def without_cmd_line():
    """RecBole's Config also parses ``sys.argv`` for ``--key=value``. Tools with flags of their own (the generator,
    explain) build their Config inside this, so their flags (or pytest's) never leak into RecBole's settings."""
    saved = sys.argv
    sys.argv = saved[:1]
    try:
        yield
    finally:
        sys.argv = saved
