"""LLM-DMsRec's Phase I (paper 003 §4.1, Eq. 2): the candidate set of a pretrained backbone for every row, which the
LLM then chooses intents from (llm_views.py). Training a RecBole model is Stage 1 work: it lives here, not in the
model file.
"""

import json
import os

import torch

from recbole_intent.generate.common.backbone import backbone_config, train_backbone
from recbole_intent.generate.common.data import write_atomic_text


def backbone_candidates(cfg, rows, k):
    """LLM-DMsRec §4.1, Eq. 2: the top-k items of ``dmsrec_backbone`` trained on the training split only, for every
    row's prefix (its last MAX_ITEM_LIST_LENGTH items; in-session items are not excluded, as in the paper's Prompt 2).
    Written to cache_dir and reused, so a resumed run sends exactly the same prompts."""
    path = os.path.join(cfg["cache_dir"], f"dmsrec_candidates_{cfg['dmsrec_backbone']}_{k}.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            cached = json.load(fh)
        if all(r.key in cached for r in rows):
            return cached
    from recbole.data import data_preparation
    from recbole.data.interaction import Interaction
    from recbole.utils import init_seed

    from recbole_intent.config import Config, without_cmd_line
    from recbole_intent.utils import create_dataset, get_model, get_trainer

    extra = {"epochs": int(cfg["dmsrec_backbone_epochs"]), "embedding_size": int(cfg["warmup_hidden_size"])}
    with without_cmd_line():  # RecBole's Config would parse our CLI flags
        config = Config(model=cfg["dmsrec_backbone"], dataset=cfg["dataset"],
                        config_dict={**backbone_config(cfg), **extra})
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    train = data_preparation(config, dataset)[0]
    model = get_model(config["model"])(config, train._dataset).to(config["device"])
    train_backbone(config, model, train, get_trainer, f"LLM-DMsRec candidates: {config['model']}")
    token2id, id2token = dataset.field2token_id[dataset.iid_field], dataset.field2id_token[dataset.iid_field]
    limit, out = int(config["MAX_ITEM_LIST_LENGTH"]), {}
    model.eval()
    for start in range(0, len(rows), 256):
        seqs = [[token2id[i] for i in r.items][-limit:] for r in rows[start : start + 256]]
        seq = torch.zeros(len(seqs), max(map(len, seqs)), dtype=torch.long)
        for b, ids in enumerate(seqs):
            seq[b, : len(ids)] = torch.as_tensor(ids)  # RecBole pads at the end
        inter = Interaction({model.ITEM_SEQ: seq, model.ITEM_SEQ_LEN: torch.as_tensor([len(x) for x in seqs])})
        with torch.no_grad():
            scores = model.full_sort_predict(inter.to(config["device"])).view(len(seqs), -1)
        scores[:, 0] = -torch.inf  # RecBole's [PAD] is no item
        top = scores.topk(min(k, scores.size(1) - 1), dim=1).indices.tolist()
        out.update({r.key: [str(id2token[i]) for i in t] for r, t in zip(rows[start : start + 256], top, strict=True)})
    write_atomic_text(path, json.dumps(out))
    return out
