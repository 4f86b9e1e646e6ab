"""What a trained intent model's predictor does: does it use the intents, and does it agree with the LLM?

    python benchmarks/intent_diagnostics.py --model_file saved/VELI_SASRec-....pth [--out results/diag_x]

Reports, on the test split: how many intents pass tau per row (the ones fused, Eq. 11), how concentrated the fused
intents are (share of the most frequent one, entropy), and the size of the guidance term ||g_S|| relative to ||h_S||;
on the held-out training sessions (``intent_holdout``): precision@3 / recall@3 of y_hat against their LLM labels
(``IntentEnhanced.intent_diagnostics``, which every run's result also holds). Prints JSON and writes <out>.json.
"""

import argparse
import json
import os
from collections import Counter

import numpy as np
import torch

from recbole_intent.explain.load import load_model


@torch.no_grad()
def diagnose(loaded):
    model = loaded.model.eval()
    fused, counts, ratios = [], Counter(), []
    test = loaded.splits["test"].inter_feat
    for start in range(0, len(test), 1024):
        rows = test[start:start + 1024]
        h = model.session_representation(rows[model.ITEM_SEQ], rows[model.ITEM_SEQ_LEN])
        y = model.intent_predictor.relevance(h)
        h_tilde = model.intent_predictor.fuse(h, y)
        ratios += ((h_tilde - h).norm(dim=-1) / h.norm(dim=-1)).tolist()
        above = model.intent_predictor.passes(y)  # phi's rule (Eq. 11)
        fused += above.sum(1).tolist()
        counts.update(torch.nonzero(above)[:, 1].tolist())
    total = sum(counts.values())
    shares = np.array([c / total for c in counts.values()]) if total else np.array([])
    out = {"test_rows": len(fused), "fused_per_row_mean": float(np.mean(fused)),
           "rows_with_no_fused_intent": float(np.mean(np.array(fused) == 0)),
           "distinct_fused_intents": len(counts), "top_fused_intent_share": float(shares.max()) if total else 0.0,
           "fused_intent_entropy_bits": float(-(shares * np.log2(shares)).sum()) if total else 0.0,
           "guidance_to_h_norm_ratio": float(np.mean(ratios))}
    out.update(model.intent_diagnostics(loaded.splits["test"]))  # precision / recall@3 on the held-out sessions
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model_file", required=True)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    result = {"model_file": os.path.basename(args.model_file), **diagnose(load_model(args.model_file))}
    print(json.dumps(result, indent=2))
    if args.out:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        with open(args.out + ".json", "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
