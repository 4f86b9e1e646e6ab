"""``recbole_intent.explain`` and ``recbole_intent.plot`` on a tiny VELI_SASRec trained for one epoch."""

import json
import os
import subprocess
import sys

import pytest
import torch
from recbole.data.interaction import Interaction
from tiny_data import write_tiny_dataset

from recbole_intent.explain import explain_session, load_model, main
from recbole_intent.quick_start import objective_function

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain")
    cfg, info = write_tiny_dataset(str(root / "data"), text_emb_dim=8)  # the .itememb file is for +LE
    result = objective_function(dict(cfg, checkpoint_dir=str(root / "saved")), model="VELI_SASRec", dataset="tiny")
    return {"file": result["saved_model_file"], "cfg": cfg, "info": info, "root": root}


@pytest.fixture(scope="module")
def loaded(trained):
    return load_model(trained["file"])


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def tampered(trained, name, **config):
    checkpoint = torch.load(trained["file"], weights_only=True)
    checkpoint["config"].update(config)
    path = str(trained["root"] / name)
    torch.save(checkpoint, path)
    return path


def test_text_output_has_every_section(trained, capsys):
    session = trained["info"]["test"][0]
    code, out, _ = run(["--model_file", trained["file"], "--session_id", session, "--topk", "3"], capsys)
    assert code == 0
    assert f"session {session} (test split" in out and "held-out next item: i" in out
    assert "tau = 0.5" in out and "fused (y_Sc > tau, Eq. 11)" in out and "topic number" in out
    recs = out.split("recommendations:")[1].strip().splitlines()[1:]
    assert len(recs) == 3 and recs[0].split()[0] == "1."


def test_json_scores_sorted_tau_and_topk(trained, capsys):
    session = trained["info"]["test"][1]
    code, out, _ = run(["--model_file", trained["file"], "--session_id", session, "--topk", "4", "--intents", "6",
                        "--json"], capsys)
    r = json.loads(out)
    assert code == 0 and r["session"] == {"id": session, "split": "test"} and r["model"] == "VELI_SASRec"
    assert r["tau"] == 0.5 and r["n_intents"] == 6 and len(r["intents"]) == 6
    scores = [it["score"] for it in r["intents"]]
    assert scores == sorted(scores, reverse=True)
    assert all(it["fused"] == (it["score"] > r["tau"]) or abs(it["score"] - r["tau"]) < 1e-6 for it in r["intents"])
    assert r["n_fused"] == sum(it["fused"] for it in r["intents"])
    assert {it["name"] for it in r["intents"]} == {f"topic number {t}" for t in range(6)}
    recs = [it["score"] for it in r["recommendations"]]
    assert len(recs) == 4 == r["topk"] and recs == sorted(recs, reverse=True)
    with open(os.path.join(trained["cfg"]["data_path"], "tiny", "tiny.test.inter")) as f:
        rows = [line.rstrip("\n").split("\t") for line in f if line.startswith(session + "\t")]
    longest = max(rows, key=lambda row: len(row[1].split()))  # the longest prefix is the model's input
    assert [it["id"] for it in r["items"]] == longest[1].split() and r["target"]["id"] == longest[2]
    assert 1 <= r["target"]["rank"] <= r["n_items"]


def _check_against_full_sort_predict(model, dataset, tokens, topk=5):
    r = explain_session(model, dataset, tokens, topk=topk)
    assert [it["id"] for it in r["items"]] == tokens and "target" not in r
    assert len(r["recommendations"]) == topk
    seq = torch.zeros(1, dataset.field2seqlen[model.ITEM_SEQ], dtype=torch.long)
    seq[0, : len(tokens)] = torch.as_tensor(dataset.token2id(dataset.iid_field, tokens))
    batch = Interaction({model.ITEM_SEQ: seq, model.ITEM_SEQ_LEN: torch.tensor([len(tokens)])})
    with torch.no_grad():
        scores = model.full_sort_predict(batch)[0]
    scores[0] = -torch.inf
    top = dataset.id2token(dataset.iid_field, torch.topk(scores, topk).indices.numpy()).tolist()
    assert [it["id"] for it in r["recommendations"]] == top  # what RecBole's full ranking would recommend


def test_api_matches_full_sort_predict(loaded):
    _check_against_full_sort_predict(loaded.model, loaded.dataset, ["i1", "i7", "i13"])


@pytest.mark.parametrize("model, extra", [("VELI_BERT4Rec", {"use_text_emb": True}), ("VELI_SRGNN", {})])
def test_other_backbones(trained, model, extra, tmp_path):
    config = dict(trained["cfg"], checkpoint_dir=str(tmp_path), **extra)
    loaded = load_model(objective_function(config, model=model, dataset="tiny")["saved_model_file"])
    _check_against_full_sort_predict(loaded.model, loaded.dataset, ["i2", "i8", "i14", "i20"])


def test_training_session_shows_the_llm_label(trained, capsys):
    with open(os.path.join(trained["cfg"]["data_path"], "tiny", "tiny.user")) as f:
        session = next(line.split("\t")[0] for line in list(f)[1:] if line.split("\t")[1].strip())
    code, out, _ = run(["--model_file", trained["file"], "--session_id", session, "--json"], capsys)
    r = json.loads(out)
    assert code == 0 and r["session"]["split"] == "train" and r["session"]["llm_intents"]


def test_unknown_item_and_session_errors(trained, capsys):
    code, out, err = run(["--model_file", trained["file"], "--items", "i1 zzz i2 yyy"], capsys)
    assert code == 2 and out == "" and "unknown item token(s) 'zzz', 'yyy'" in err
    code, _, err = run(["--model_file", trained["file"], "--session_id", "no_such_session"], capsys)
    assert code == 2 and "session 'no_such_session' is in no split" in err


def test_other_model_or_dataset_is_refused(trained, capsys):
    code, _, err = run(["--model_file", trained["file"], "--model", "VELI_GRU4Rec"], capsys)
    assert code == 2 and "holds a VELI_SASRec model" in err and "'VELI_GRU4Rec'" in err
    code, _, err = run(["--model_file", tampered(trained, "sasrec.pth", model="SASRec")], capsys)
    assert code == 2 and "SASRec model, which has no intent predictor" in err
    code, _, err = run(["--model_file", tampered(trained, "gru.pth", model="VELI_GRU4Rec")], capsys)
    assert code == 2 and "do not fit VELI_GRU4Rec" in err
    write_tiny_dataset(trained["cfg"]["data_path"], name="tiny2", n_items=50)
    code, _, err = run(["--model_file", tampered(trained, "tiny2.pth", dataset="tiny2")], capsys)
    assert code == 2 and "do not fit VELI_SASRec rebuilt on 'tiny2'" in err and "item_embedding" in err


class _RunsCode:
    def __reduce__(self):
        return (os.makedirs, ("pwned_by_checkpoint",))


def test_unsafe_or_foreign_files_are_refused(trained, capsys, tmp_path):
    unsafe = tmp_path / "unsafe.pth"
    torch.save({"config": _RunsCode(), "state_dict": {}}, unsafe)
    code, _, err = run(["--model_file", str(unsafe)], capsys)
    assert code == 2 and "not a weights-only checkpoint" in err and not os.path.exists("pwned_by_checkpoint")
    foreign = tmp_path / "foreign.pth"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, foreign)
    code, _, err = run(["--model_file", str(foreign)], capsys)
    assert code == 2 and "not a recbole-intent checkpoint" in err


def test_command_line_of_the_caller_does_not_leak_into_config(trained, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["pytest", "--hidden_size=99", "--intent_tau=0.01"])
    code, out, _ = run(["--model_file", trained["file"], "--items", "i1 i7", "--json"], capsys)
    assert code == 0 and json.loads(out)["tau"] == 0.5


def test_module_runs_as_a_command(trained):
    proc = subprocess.run([sys.executable, "-m", "recbole_intent.explain", "--model_file", trained["file"],
                           "--topk=2", "--json"], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert r["session"]["split"] == "test" and len(r["recommendations"]) == 2


def _png(path):
    with open(path, "rb") as f:
        assert f.read(8) == PNG_MAGIC
    assert os.path.getsize(path) > 1024


def test_plot_intents_and_report(trained, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from recbole_intent.plot import main as plot_main

    out = tmp_path / "intents.png"
    code = plot_main(["intents", "--model_file", trained["file"], "--session_id", trained["info"]["test"][0],
                      "--out", str(out)])
    assert code == 0 and "(t-SNE)" in capsys.readouterr().out
    _png(out)
    report = tmp_path / "tiny.generate_report.json"
    report.write_text(json.dumps({"status": "complete", "accepted": 7, "failed": 2, "failure_rate": 0.22,
                                  "tries_histogram": {"1": 4, "2": 2, "3": 1, "failed": 2},
                                  "pool_initial": 30, "pool_final": 34}))
    assert plot_main(["report", "--report", str(report), "--out", str(tmp_path / "report.png")]) == 0
    _png(tmp_path / "report.png")


def test_report_reading_is_tolerant_and_pca_fallback_is_named(monkeypatch):
    pytest.importorskip("matplotlib")
    import numpy as np

    from recbole_intent.plot import pool_sizes, project_2d, tries_counts

    assert tries_counts({"tries_histogram": {"failed": 1, "10": 1, "2": 3}}) == {"2": 3, "10": 1, "failed": 1}
    assert tries_counts({"accepted": 5, "failed": 1}) == {"accepted": 5, "failed": 1}  # an import report
    assert tries_counts({"tries_histogram": {"1": 3}, "failed": 0}) == {"1": 3, "failed": 0}
    assert tries_counts({}) == {}
    assert pool_sizes({"pool_sizes_per_round": [10, 12, 15]}) == (["round 0", "round 1", "round 2"], [10, 12, 15])
    assert pool_sizes({"pool_file": 66, "pool_size": 70}) == (["initial", "final"], [66, 70])
    assert pool_sizes({}) == ([], [])
    monkeypatch.setitem(sys.modules, "sklearn.manifold", None)  # as if scikit-learn were not installed
    xy, method = project_2d(np.random.default_rng(0).normal(size=(9, 5)))
    assert xy.shape == (9, 2) and method.startswith("PCA (scikit-learn not installed")
