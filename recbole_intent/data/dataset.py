"""``IntentDataset``: RecBole's SequentialDataset plus the intent files, loaded through RecBole's own mechanisms.

The loading keys come from ``Config`` (``load_col.user``, ``additional_feat_suffix``, ``alias_of_item_id``,
``alias_of_intent_id``, ``preload_weight``). Two things are added here: the files are checked before RecBole reads
them (``intent_files``), and the intent ids of the ``.user`` file share one id space with the pool file, the way
``alias_of_item_id`` works for items (RecBole only knows user/item aliases, so we register ``intent_id``).
"""

import os

import numpy as np
from recbole.data.dataset import SequentialDataset
from recbole.utils import FeatureSource

from recbole_intent.data.intent_files import check_intent_files, intent_dir, require_files

# The pre-split session format of the shipped datasets (properties/dataset/beauty.yaml says the same in YAML), for
# tools and tests that load a session dataset which has no YAML of its own.
SESSION_BENCHMARK_CONFIG = {
    "field_separator": "\t",
    "seq_separator": " ",
    "USER_ID_FIELD": "session_id",
    "ITEM_ID_FIELD": "item_id",
    "TIME_FIELD": None,
    "LIST_SUFFIX": "_list",
    "benchmark_filename": ["train", "valid", "test"],
    "alias_of_item_id": ["item_id_list"],
    "load_col": {"inter": ["session_id", "item_id_list", "item_id"]},
}


class SessionDataset(SequentialDataset):
    """SequentialDataset whose pre-split (benchmark) item lists respect ``MAX_ITEM_LIST_LENGTH``.

    RecBole truncates benchmark lists only through ``seq_len``, which keeps the *oldest* items, and otherwise sizes
    the model's position table by the longest list in the files; we keep the most recent items, as its own
    data augmentation does for unsplit data.
    """

    def _benchmark_presets(self):
        super()._benchmark_presets()
        limit, field = self.max_item_list_len, self.item_id_list_field
        if self.field2seqlen[field] <= limit:
            return
        self.inter_feat[field] = [seq[-limit:] for seq in self.inter_feat[field].values]
        self.inter_feat[self.item_list_length_field] = self.inter_feat[field].map(len)  # agg(len): FutureWarning
        self.field2seqlen[field] = limit


class IntentDataset(SessionDataset):
    """The intent files (``.user``, ``.intent``) come from the dataset folder, or from its subfolder
    ``intent_set`` when that key is set (e.g. ``intent_set: llm`` reads ``dataset/beauty/llm/beauty.user``), so one
    dataset can carry several intent sets; ``.itememb`` always comes from the dataset folder."""

    def _load_data(self, token, dataset_path):
        intent_path, data_root = intent_dir(self.config), os.path.dirname(os.path.normpath(dataset_path))
        require_files(intent_path, token, ["user", self.config["intent_pool_suffix"]], data_root,
                      self.config["intent_set"])
        if self.config["use_text_emb"]:
            require_files(dataset_path, token, [self.config["text_emb_suffix"]], data_root)
        self._load_inter_feat(token, dataset_path)
        self._check_intent_files(token)
        self.user_feat = self._load_user_or_item_feat(token, intent_path, FeatureSource.USER, "uid_field")
        self._apply_intent_ratio()
        self.item_feat = self._load_user_or_item_feat(token, dataset_path, FeatureSource.ITEM, "iid_field")
        for suffix in self.config["additional_feat_suffix"] or []:  # RecBole's loop, with the folder per file
            folder = intent_path if suffix == self.config["intent_pool_suffix"] else dataset_path
            feat_path = os.path.join(folder, f"{token}.{suffix}")
            if not os.path.isfile(feat_path):
                raise ValueError(f"Additional feature file [{feat_path}] not found.")
            setattr(self, f"{suffix}_feat", self._load_feat(feat_path, suffix))

    def _check_intent_files(self, token):
        sessions = self.inter_feat[self.uid_field].values
        n_train = self.file_size_list[0] if self.benchmark_filename_list else len(sessions)
        item_list_field = self.iid_field + self.config["LIST_SUFFIX"]
        items = set(self.inter_feat[self.iid_field].values)
        if item_list_field in self.inter_feat:
            items.update(np.concatenate(list(self.inter_feat[item_list_field].values)).tolist())
        n_intents, n_labelled = check_intent_files(self.config, token, set(sessions[:n_train]), set(sessions), items)
        self.logger.info(f"intent pool: {n_intents} intents; {n_labelled} training sessions with an intent row")

    def _apply_intent_ratio(self):
        """SPRINT §5.4.2 / Fig. 5, the intent supervision ratio: keep the LLM's output (validated intents and hard
        negatives) for a seeded random ``intent_ratio`` of the sessions it processed and drop it for the rest, as if
        the LLM had never been called for them. Those sessions then learn only from collaborative enrichment."""
        ratio = self.config["intent_ratio"]
        if ratio is None or ratio == 1:
            return
        if not 0 <= ratio <= 1:
            raise ValueError(f"intent_ratio must be in [0, 1], got {ratio!r}")
        rows = len(self.user_feat)
        dropped = np.random.default_rng(self.config["seed"]).permutation(rows)[round(ratio * rows):]
        for field in (self.config["intent_field"], self.config["hard_negative_field"]):
            if field in self.user_feat:
                values = self.user_feat[field].to_numpy(copy=True)
                for i in dropped:
                    values[i] = values[i][:0]
                self.user_feat[field] = values
        self.logger.info(f"intent_ratio={ratio}: LLM output kept for {rows - len(dropped)} of {rows} sessions")

    def _init_alias(self):
        intent_id = self.config["intent_id_field"]
        if intent_id in self.field2type:
            self._set_alias("intent_id", [intent_id])
        super()._init_alias()
