"""LLM4SBR (paper 002) on RecBole's SRGNN, and ``LLMViewDataset``, which loads the per-row LLM view files of LLM4SBR
and LLM-DMsRec (contract: docs/llm4sbr_dmsrec.md; generator: ``python -m recbole_intent.generate.views``).

``<d>.llm4sbr`` holds, per row of every split (``<session_id>#<prefix length>``), the top-k items the long-term and
the short-term LLM answers were localised to and their cosines (§4.1.3, Eq. 4). The localised view embedding
Sum_j sim_j t_j (Eq. 5) is formed here from the frozen item text embeddings of ``<d>.itememb`` (the vectors the
generator localised against), so the file holds ids and weights, not vectors.
"""

import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from recbole.model.sequential_recommender import SRGNN
from recbole.utils import FeatureSource, FeatureType
from torch import nn

from recbole_intent.data.dataset import SessionDataset
from recbole_intent.data.intent_files import AtomicFileError, read_atomic
from recbole_intent.data.view_files import (
    VIEW_FIELDS,
    VIEW_KEY,
    VIEW_ROW,
    check_view_file,
    derive_view_loading,
    row_key,
)


class LLMViewDataset(SessionDataset):
    """SessionDataset + ``<d>.<view_suffix>`` + ``<d>.<text_emb_suffix>``, through RecBole's own mechanisms:
    additional_feat_suffix + load_col, the view file's item fields and ``iid`` aliased to item_id, preload_weight for
    the item text, and a ``view_row`` token (``<session_id>#<prefix length>``) added to every inter row and aliased to
    the file's ``view_key``. ``get_preload_weight(field)`` then gives, for each field of the view file, a table
    [n_rows + 1, k] indexed by ``interaction['view_row']``; rows without a line stay 0 ([PAD]: no LLM view)."""

    view_fields = {}  # the view file's fields -> RecBole types (class attribute of each method's dataset)
    method = ""

    def __init__(self, config):
        if not config["benchmark_filename"]:
            raise ValueError(f"{config['model']} needs pre-split session files (benchmark_filename): its LLM views "
                             "are keyed by <session_id>#<prefix length>")
        derive_view_loading(config, self.view_fields)  # like Config does for the intent models; idempotent
        super().__init__(config)

    def _load_inter_feat(self, token, dataset_path):
        super()._load_inter_feat(token, dataset_path)
        inter, suffix = self.inter_feat, self.config["view_suffix"]
        lists = inter[self.iid_field + self.config["LIST_SUFFIX"]].values  # full prefixes, before any truncation
        keys = [row_key(sid, len(seq)) for sid, seq in zip(inter[self.uid_field].values, lists, strict=True)]
        if len(set(keys)) != len(keys):
            raise ValueError(f"{token}: two inter rows share a session id and prefix length; view keys must be unique")
        inter[VIEW_ROW] = keys
        self.set_field_property(VIEW_ROW, FeatureType.TOKEN, FeatureSource.INTERACTION, 1)
        for name in (suffix, self.config["text_emb_suffix"]):
            if not os.path.isfile(os.path.join(dataset_path, f"{token}.{name}")):
                raise FileNotFoundError(f"{self.config['model']} reads {dataset_path}/{token}.{name}; write it with "
                                        f"python -m recbole_intent.generate.views --method {self.method} "
                                        f"--dataset {token} --view_suffix {suffix} (docs/llm4sbr_dmsrec.md)")
        items = set(inter[self.iid_field].values).union(*map(set, lists))
        emb_path = os.path.join(dataset_path, f"{token}.{self.config['text_emb_suffix']}")
        iid = self.config["text_emb_id_field"]
        for line_no, item in enumerate(read_atomic(emb_path, {iid: "token"})[iid], start=2):
            if item not in items:
                raise AtomicFileError(emb_path, line_no, iid, f"item {item!r} is not an item of the dataset")
        covered = check_view_file(os.path.join(dataset_path, f"{token}.{suffix}"), self.view_fields, set(keys), items)
        if not covered:
            raise ValueError(f"{dataset_path}/{token}.{suffix} holds no line: run (or resume) its generator first")
        bounds = np.cumsum([0] + list(self.file_size_list))
        for name, lo, hi in zip(self.benchmark_filename_list, bounds[:-1], bounds[1:], strict=True):
            missing = sum(k not in covered for k in keys[lo:hi])
            if missing:
                self.logger.warning(f"{suffix}: {missing} of {hi - lo} {name} rows have no LLM view (no valid answer "
                                    "or not generated yet); the model sees [PAD] views there")

    def _init_alias(self):
        self._set_alias("view_key", [VIEW_ROW, VIEW_KEY])  # one id space for the rows and the file's keys
        super()._init_alias()

    def _preload_weight_matrix(self):
        super()._preload_weight_matrix()
        feat = getattr(self, f"{self.config['view_suffix']}_feat")
        for field, ftype in self.view_fields.items():
            width = max(self.field2seqlen[field], 1)
            table = np.zeros((self.num(VIEW_KEY), width), dtype=np.int64 if ftype == "token_seq" else np.float32)
            for row, values in zip(feat[VIEW_KEY].values, feat[field].values, strict=True):
                table[row, : len(values)] = values
            self._preloaded_weight[field] = table


class LLM4SBRDataset(LLMViewDataset):
    method = "llm4sbr"  # Eq. 4: per view, the localised items (best first) and their cosines
    view_fields = VIEW_FIELDS["llm4sbr"]


def next_item_loss(model, seq_output, interaction):
    """The backbone's own L_rec: softmax CE over all items (LLM4SBR Eq. 13-14, LLM-DMsRec Eq. 13-14) or BPR."""
    pos = interaction[model.POS_ITEM_ID]
    if model.loss_type == "BPR":
        pos_score = (seq_output * model.item_embedding(pos)).sum(-1)
        return model.loss_fct(pos_score, (seq_output * model.item_embedding(interaction[model.NEG_ITEM_ID])).sum(-1))
    return model.loss_fct(seq_output @ model.item_embedding.weight.t(), pos)


def alignment(x, y):
    """Eq. 8 (DirectAU): E ||x~ - y~||^2 over L2-normalised pairs."""
    return (F.normalize(x, dim=-1) - F.normalize(y, dim=-1)).norm(dim=1).pow(2).mean()


def uniformity(x):
    """Eq. 9 (DirectAU): log E exp(-2 ||x~_i - x~_j||^2) over the pairs of the batch; in float32 under AMP (pdist
    has no bfloat16 kernel on CPU, and float16 loses the small exp terms)."""
    return torch.pdist(F.normalize(x.float(), dim=-1)).pow(2).mul(-2).exp().mean().log()


def au_loss(session, view, present):
    """One view's alignment + uniformity (Eq. 8-9), over the rows that have an LLM view."""
    session, view = session[present], view[present]
    if session.size(0) < 2:
        return session.new_zeros(())
    return alignment(session, view) + (uniformity(session) + uniformity(view)) / 2


class ViewScoring:
    """Scoring shared by the LLM-view models: the first output of ``forward(*_inputs(...))`` is the final session
    representation, scored against the item embeddings (Eq. 13, before the softmax)."""

    def predict(self, interaction):
        return (self.forward(*self._inputs(interaction))[0] * self.item_embedding(interaction[self.ITEM_ID])).sum(-1)

    def full_sort_predict(self, interaction):
        return self.forward(*self._inputs(interaction))[0] @ self.item_embedding.weight.t()


class LLM4SBR(ViewScoring):
    """Put before RecBole's SRGNN: ``class LLM4SBR_SRGNN(LLM4SBR, SRGNN)``. SR-GNN's global embedding s_g (soft
    attention) pairs with the long-term view, its local embedding s_l (last click) with the short-term one (Eq. 6,
    10-12). Training: L_rec + au_weight * sum over views of (alignment + uniformity) (Eq. 15)."""

    dataset_class = LLM4SBRDataset

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        d, k = self.embedding_size, config["localize_topk"]
        self.au_weight = config["au_weight"]
        text = torch.as_tensor(dataset.get_preload_weight(config["text_emb_id_field"]), dtype=torch.float32)
        self.register_buffer("item_text", text, persistent=False)  # frozen text embeddings t_i; row 0 = [PAD]
        for field in self.dataset_class.view_fields:  # the first k localised items of each row (stored best first)
            self.register_buffer(field, torch.as_tensor(dataset.get_preload_weight(field))[:, :k], persistent=False)
        self.text_proj = nn.Linear(text.size(1), d)  # W of Eq. 7, one for both views (as in the released code)
        self.q_long, self.q_short = nn.Linear(d, 1, bias=False), nn.Linear(d, 1, bias=False)  # Eq. 10-11
        for p in (*self.text_proj.parameters(), self.q_long.weight, self.q_short.weight):
            nn.init.uniform_(p, -1 / math.sqrt(d), 1 / math.sqrt(d))  # SR-GNN's initialisation, as for its layers

    def view_embedding(self, rows, view):
        """Eq. 5: Sum_j sim_j t_j over the row's localised items, and whether the row has this view at all."""
        ids, sims = getattr(self, f"{view}_items")[rows], getattr(self, f"{view}_sims")[rows]
        return (sims.unsqueeze(-1) * self.item_text[ids]).sum(1), ids[:, 0] > 0

    def global_local(self, item_seq, item_seq_len):
        """SR-GNN's [s_g ; s_l] (Eq. 6): its own forward with the final linear_transform switched off."""
        final = self._modules["linear_transform"]
        self._modules["linear_transform"] = nn.Identity()
        try:
            return super().forward(item_seq, item_seq_len).split(self.embedding_size, dim=1)
        finally:
            self._modules["linear_transform"] = final

    def forward(self, item_seq, item_seq_len, rows):
        s_g, s_l = self.global_local(item_seq, item_seq_len)
        (e_long, has_long), (e_short, has_short) = self.view_embedding(rows, "long"), self.view_embedding(rows, "short")
        e_long, e_short = self.text_proj(e_long), self.text_proj(e_short)  # Eq. 7
        a_long = self.q_long(torch.sigmoid(s_g + e_long))  # Eq. 10: scalar weight of the long-term (global) side
        a_short = self.q_short(torch.sigmoid(s_l + e_short))  # Eq. 11: of the short-term (local) side
        s_h = self.linear_transform(torch.cat([a_long * s_g, a_short * s_l], dim=1))  # Eq. 12, SR-GNN's W_3
        return s_h, ((s_g, e_long, has_long), (s_l, e_short, has_short))

    def _inputs(self, interaction):
        return interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN], interaction[VIEW_ROW]

    def calculate_loss(self, interaction):
        s_h, views = self.forward(*self._inputs(interaction))
        au = sum(au_loss(*view) for view in views)  # Eq. 8-9 for each view separately
        return next_item_loss(self, s_h, interaction), self.au_weight * au  # Eq. 15


class LLM4SBR_SRGNN(LLM4SBR, SRGNN):
    pass
