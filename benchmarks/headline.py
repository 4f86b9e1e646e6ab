"""The README's headline table: backbone, VELI and SPRINT on SASRec, ours under each protocol next to the papers'.

    python benchmarks/headline.py --tables results/beauty_table2_papers.json results/beauty_table2_strong.json \
        --out results/headline

Reads tables written by ``compare.py`` (runs ``sasrec``, ``veli``, ``sprint``; one table per protocol) and prints /
writes ``<out>.md`` and ``<out>.json``: H@20 and N@20 (mean over seeds), the gain over SASRec and its paired
t-test p-value, beside the Beauty numbers of VELI4SBR Table 2 and SPRINT Table 2 (SASRec backbone).
"""

import argparse
import json
import os
import sys
from datetime import date

# VELI4SBR Table 2 / SPRINT Table 2, Beauty, SASRec backbone: (H@20, N@20). The backbone row is the same in both.
PAPERS = {"sasrec": (0.0456, 0.0203), "veli": (0.0577, 0.0274), "sprint": (0.0740, 0.0316)}
ROWS = ("sasrec", "veli", "sprint")
LABELS = {"sasrec": "SASRec", "veli": "VELI4SBR (VELI_SASRec)", "sprint": "SPRINT (SPRINT_SASRec)"}


def cell(row, metric):
    mean = row[metric][0]
    gain = row.get(metric + "_gain")
    if gain is None:
        return f"{mean:.4f}"
    p = row.get(metric + "_p")
    if p is None:
        return f"{mean:.4f} ({gain:+.1%})"
    return f"{mean:.4f} ({gain:+.1%}, p = {p:.2f})" if p >= 0.01 else f"{mean:.4f} ({gain:+.1%}, p = {p:.1g})"


def paper_cell(run, index):
    value, base = PAPERS[run][index], PAPERS["sasrec"][index]
    return f"{value:.4f}" if run == "sasrec" else f"{value:.4f} ({value / base - 1:+.1%})"


def tuned_rows(path, summary):
    """One row per protocol of a ``tuning.py`` table: the tuned SASRec, the tuned VELI_SASRec (SPRINT not tuned)."""
    with open(path) as f:
        tuned = json.load(f)
    lines = []
    for protocol, table in tuned["protocols"].items():
        rows = {family: row for family, row in zip(table["selected"], table["rows"], strict=True)}
        if "SASRec" not in rows or "VELI_SASRec" not in rows:
            sys.exit(f"error: {path} ({protocol}) lacks a tuned SASRec or VELI_SASRec")
        base, veli = rows["SASRec"], rows["VELI_SASRec"]
        seeds = len(base["machines"])
        lines.append(f"| ours, tuned on valid, `{os.path.basename(path)}` | {protocol} | {seeds} | "
                     f"{base['hit@20'][0]:.4f} / {base['ndcg@20'][0]:.4f} | {cell(veli, 'hit@20')} | "
                     f"{cell(veli, 'ndcg@20')} | not tuned | not tuned |")
        summary.append({"table": path, "protocol": protocol, "tuned": True, "seeds": seeds,
                        "rows": {"sasrec": {m: base[m] for m in ("hit@20", "ndcg@20")},
                                 "veli": {m: veli[m] for m in ("hit@20", "ndcg@20")} |
                                 {m + "_gain": veli.get(m + "_gain") for m in ("hit@20", "ndcg@20")} |
                                 {m + "_p": veli.get(m + "_p") for m in ("hit@20", "ndcg@20")}}})
    return lines


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tables", nargs="+", required=True, help="compare.py JSON files, one per protocol")
    parser.add_argument("--tuned", default=None, help="tuning.py JSON: SASRec, VELI tuned on valid")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    head = ["| | protocol | seeds | SASRec H@20 / N@20 | VELI H@20 | VELI N@20 | SPRINT H@20 | SPRINT N@20 |",
            "|---|---|---|---|---|---|---|---|",
            "| papers (VELI4SBR, SPRINT Table 2) | sampled BCE | not stated | "
            f"{PAPERS['sasrec'][0]:.4f} / {PAPERS['sasrec'][1]:.4f} | {paper_cell('veli', 0)} | {paper_cell('veli', 1)}"
            f" | {paper_cell('sprint', 0)} | {paper_cell('sprint', 1)} |"]
    summary = []
    for path in args.tables:
        with open(path) as f:
            table = json.load(f)
        rows = {r["run"]: r for r in table["rows"]}
        missing = [r for r in ROWS if r not in rows]
        if missing:
            sys.exit(f"error: {path} has no run {missing}: run compare.py with --runs {' '.join(ROWS)}")
        base = rows["sasrec"]
        head.append(f"| ours, `{os.path.basename(path)}` | {table['protocol']} | {len(table['seeds'])} | "
                    f"{base['hit@20'][0]:.4f} / {base['ndcg@20'][0]:.4f} | " + " | ".join(
                        cell(rows[r], m) for r in ROWS[1:] for m in ("hit@20", "ndcg@20")) + " |")
        summary.append({"table": path, "protocol": table["protocol"], "seeds": table["seeds"],
                        "rows": {r: {m: rows[r][m] for m in ("hit@20", "ndcg@20")} |
                                 {m + "_gain": rows[r].get(m + "_gain") for m in ("hit@20", "ndcg@20")} |
                                 {m + "_p": rows[r].get(m + "_p") for m in ("hit@20", "ndcg@20")} for r in ROWS}})
    if args.tuned:
        head += tuned_rows(args.tuned, summary)
    text = "\n".join([f"# Headline: SASRec, VELI4SBR and SPRINT on beauty ({date.today()})", "",
                      f"Command: `python benchmarks/headline.py {' '.join(sys.argv[1:])}`", "",
                      "Gains are relative to SASRec under the same protocol; p: paired t-test over seeds.", "",
                      *head]) + "\n"
    with open(args.out + ".md", "w") as f:
        f.write(text)
    with open(args.out + ".json", "w") as f:
        json.dump({"date": str(date.today()), "command": "python benchmarks/headline.py " + " ".join(sys.argv[1:]),
                   "papers": PAPERS, "ours": summary}, f, indent=2)
    print(text)


if __name__ == "__main__":
    main()
