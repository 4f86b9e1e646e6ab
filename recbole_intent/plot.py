"""Figures as PNG files (matplotlib, Agg backend: no display needed).

``python -m recbole_intent.plot intents --model_file saved/X.pth [--session_id ID | --items "a b"] --out fig.png``
    t-SNE of the learned intent embeddings E_G with one session and its top intents marked (VELI4SBR Fig. 4,
    SPRINT Fig. 7, right panels). The session is placed at u_S = W_k^T W_q h_S, the vector of the intent-embedding
    space whose dot product with e_c is the logit of y_Sc (Eq. 8-9: q_S . k_c = (W_k^T W_q h_S) . e_c); the map is
    computed on L2-normalised vectors, so nearby means similar direction (cosine). scikit-learn's exact t-SNE is
    used (scikit-learn comes with RecBole); without it the map falls back to PCA and the title says so.
``python -m recbole_intent.plot report --report <dataset>.generate_report.json --out fig.png``
    The generator's run report: accepted-at-try histogram and the intent pool's growth.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch

from recbole_intent.explain.cli import add_model_arguments, resolve_session
from recbole_intent.explain.load import ExplainError, load_model
from recbole_intent.explain.session import explain_session, intent_names, session_input


def new_figure(**kwargs):
    """A bare matplotlib Figure: no pyplot, so no global backend or open-figure state (PNG goes through Agg).
    matplotlib is imported here so that the rest of the package works without it."""
    try:
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ExplainError("the plot commands need matplotlib: pip install matplotlib") from err
    return Figure(**kwargs)


def project_2d(points, seed=0):
    """(coordinates [n, 2], method name). Exact t-SNE: the pool is small (tens to hundreds of intents)."""
    x = points / np.linalg.norm(points, axis=1, keepdims=True).clip(1e-12)
    try:
        from sklearn.manifold import TSNE
    except ImportError:
        TSNE = None
    if TSNE is not None and len(x) >= 4:
        perplexity = float(min(30.0, max(1.0, (len(x) - 1) / 3)))  # must stay below the number of points
        tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", method="exact", random_state=seed)
        return tsne.fit_transform(x), "t-SNE"
    centred = x - x.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    why = "scikit-learn not installed" if TSNE is None else "too few intents for t-SNE"
    return centred @ vt[:2].T, f"PCA ({why}, no t-SNE)"


@torch.no_grad()
def intent_map(loaded, tokens=None):
    """Intent embeddings, plus the session's u_S as the last row when ``tokens`` is given."""
    predictor = loaded.model.intent_predictor
    points = [predictor.intent_embedding.weight]
    if tokens is not None:
        _, seq, length = session_input(loaded.model, loaded.dataset, tokens)
        h = loaded.model.session_representation(seq, length)
        points.append(predictor.W_q(h) @ predictor.W_k.weight)  # u_S = W_k^T W_q h_S (row-vector form)
    return torch.cat(points).cpu().numpy()


def plot_intents(loaded, out, result=None, session_label=None):
    ds = loaded.dataset
    tokens = ds.field2id_token[ds.config["intent_id_field"]][1:]
    names = intent_names(ds)
    points = intent_map(loaded, [it["id"] for it in result["items"]] if result else None)
    xy, method = project_2d(points)
    fig = new_figure(figsize=(9, 7), dpi=110)
    ax = fig.subplots()
    n = len(tokens)
    ax.scatter(xy[:n, 0], xy[:n, 1], s=18, c="#9e9e9e", label="intent")
    if n <= 80:  # beyond that the labels would cover the map; the top intents are labelled anyway
        for k, tok in enumerate(tokens):
            ax.annotate(names.get(str(tok), str(tok)), xy[k], fontsize=6, color="#616161",
                        xytext=(3, 2), textcoords="offset points")
    if result:
        index = {str(tok): k for k, tok in enumerate(tokens)}
        for rank, it in enumerate(result["intents"]):
            k = index[it["id"]]
            colour = "#d84315" if it["fused"] else "#1565c0"
            ax.scatter(*xy[k], s=60 + 400 * it["score"], facecolors=colour if it["fused"] else "none",
                       edgecolors=colour, linewidths=1.8, zorder=3)
            ax.annotate(f"{rank + 1}. {it['name'] or it['id']} ({it['score']:.2f})", xy[k], fontsize=8,
                        color=colour, weight="bold", xytext=(5, -10), textcoords="offset points", zorder=4)
        ax.scatter(*xy[n], marker="*", s=380, c="red", edgecolors="black", zorder=5, label=session_label)
        ax.scatter([], [], s=80, facecolors="#d84315", label=f"top intent, fused (y > tau = {result['tau']:g})")
        ax.scatter([], [], s=80, facecolors="none", edgecolors="#1565c0", label="top intent, not fused")
        ax.legend(loc="best", fontsize=8)
    cfg = loaded.config
    ax.set_title(f"{method} of the learned intent embeddings: {cfg['model']} on {cfg['dataset']} ({n} intents)",
                 fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(out)
    return method


def _try_order(key):
    return (1, 0) if key == "failed" else (0, int(key)) if str(key).isdigit() else (0, 10**6)


def tries_counts(report):
    """Accepted-at-try counts plus failures, from whatever the report holds."""
    hist = report.get("tries_histogram") or report.get("tries") or {}
    if isinstance(hist, list):
        hist = {str(k + 1): v for k, v in enumerate(hist)}
    if not hist and ("accepted" in report or "failed" in report):  # e.g. an import report: no per-try counts
        hist = {"accepted": report.get("accepted", 0), "failed": report.get("failed", 0)}
    elif hist and "failed" not in hist and isinstance(report.get("failed"), int):  # the generator omits zeros
        hist = {**hist, "failed": report["failed"]}
    return dict(sorted(((str(k), int(v)) for k, v in hist.items()), key=lambda kv: _try_order(kv[0])))


def pool_sizes(report):
    """Per-round pool sizes when the report has a list of them, else [initial, final] (either may be absent)."""
    for key, value in report.items():
        if "pool" in key and isinstance(value, list) and value and all(isinstance(v, (int, float)) for v in value):
            return [f"round {k}" for k in range(len(value))], list(value)
    initial = next((report[k] for k in ("pool_initial", "pool_file") if isinstance(report.get(k), int)), None)
    final = next((report[k] for k in ("pool_final", "pool_size") if isinstance(report.get(k), int)), None)
    pairs = [(name, v) for name, v in (("initial", initial), ("final", final)) if v is not None]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def plot_report(report, out, name="report"):
    hist = tries_counts(report)
    labels, sizes = pool_sizes(report)
    fig = new_figure(figsize=(9, 3.6), dpi=110)
    left, right = fig.subplots(1, 2)
    if hist:
        colours = ["#c62828" if k == "failed" else "#2e7d32" for k in hist]
        bars = left.bar([f"try {k}" if k.isdigit() else k for k in hist], list(hist.values()), color=colours)
        left.bar_label(bars, fontsize=8)
    else:
        left.text(0.5, 0.5, "no tries in the report", ha="center", transform=left.transAxes)
    per_try = any(k.isdigit() for k in hist)
    left.set_title("sessions accepted at try k / failed" if per_try else "sessions accepted / failed (no per-try "
                   "counts in the report)", fontsize=10)
    left.yaxis.get_major_locator().set_params(integer=True)
    if len(sizes) > 2 or labels[:1] == ["round 0"]:
        # rounds on a numeric axis: one categorical label per round overlapped from about 15 rounds (beauty: 26)
        right.plot(range(len(sizes)), sizes, marker="o", markersize=3)
        right.set_xlabel("round (0 = the initial pool)", fontsize=9)
        right.xaxis.get_major_locator().set_params(integer=True)
    elif sizes:
        right.bar(labels, sizes, color="#1565c0")
        right.bar_label(right.containers[0], fontsize=8)
    else:
        right.text(0.5, 0.5, "no pool sizes in the report", ha="center", transform=right.transAxes)
    right.set_title("intent pool size", fontsize=10)
    rate = report.get("failure_rate")
    extra = f", failure rate {100 * rate:.1f} %" if isinstance(rate, (int, float)) else ""
    fig.suptitle(f"{name}{extra}", fontsize=10)
    fig.tight_layout()
    fig.savefig(out)


def parser():
    p = argparse.ArgumentParser(prog="python -m recbole_intent.plot", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    intents = sub.add_parser("intents", help="t-SNE map of the intent embeddings with one session marked")
    add_model_arguments(intents)
    intents.add_argument("--out", required=True, help="PNG file to write")
    report = sub.add_parser("report", help="the generator's run report as a figure")
    report.add_argument("--report", required=True, help="<dataset>.generate_report.json")
    report.add_argument("--out", required=True, help="PNG file to write")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        if args.command == "report":
            with open(args.report, encoding="utf-8") as f:
                plot_report(json.load(f), args.out, name=os.path.basename(args.report))
            print(f"wrote {args.out}")
            return 0
        loaded = load_model(args.model_file, model=args.model, dataset=args.dataset, data_path=args.data_path)
        result, label = None, None
        if args.session_id is not None or args.items is not None:
            tokens, _, session = resolve_session(loaded, args)
            result = explain_session(loaded.model, loaded.dataset, tokens, topk=1, n_intents=args.intents)
            who = f"session {session['id']}" if session["id"] else "session (--items)"
            label = f"{who}: u_S = W_k^T W_q h_S"
        method = plot_intents(loaded, args.out, result, label)
        print(f"wrote {args.out} ({method})")
        return 0
    except (ExplainError, OSError, json.JSONDecodeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
