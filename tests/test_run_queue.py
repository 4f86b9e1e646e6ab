"""benchmarks/run_queue.py: priority order, tune groups selected on validation, failures kept, the packed cache."""

import json
import os
import sys
import tarfile
from types import SimpleNamespace

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
import compare  # noqa: E402
import run_queue  # noqa: E402
import tuning  # noqa: E402


def fake_trainer(calls, valid_of, fail=()):
    """Stands in for compare.run_one: records the call, writes the cache file run_one would write."""

    def run_one(name, seed, args):
        calls.append((args.dataset, args.protocol, name, seed))
        if name in fail:
            raise RuntimeError(f"{name} broke")
        path = compare.cache_path(name, seed, args)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # validation favours the name's value; the test split says the opposite, and must never decide
        result = {"valid": {"ndcg@20": valid_of(name)}, "test": {"ndcg@20": -valid_of(name)}}
        with open(path, "w") as f:
            json.dump({"model": compare.RUNS[name][0], "settings": {}, "result": result}, f)
        return name, seed, result

    return run_one


def cli(tmp_path, **kw):
    return SimpleNamespace(cache=str(tmp_path / "cache"), threads=1, jobs=1, checkpoint_root=str(tmp_path / "ck"),
                           deadline=float("inf"), hard=float("inf"), pack=str(tmp_path / "runs.tar.gz"), **kw)


def drain(queue):
    queue.worker()  # one worker: jobs run in exactly the queue's order


def test_groups_run_in_priority_order_seed_major(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(run_queue, "run_one", fake_trainer(calls, lambda n: 0.1))
    plan = [{"dataset": "a", "protocol": "strong", "runs": ["sasrec", "gru4rec"], "seeds": [1, 2]},
            {"dataset": "b", "protocol": None, "runs": ["srgnn_pd"], "seeds": [1]}]
    drain(run_queue.Queue(plan, cli(tmp_path)))
    assert calls == [("a", "strong", "sasrec", 1), ("a", "strong", "gru4rec", 1), ("a", "strong", "sasrec", 2),
                     ("a", "strong", "gru4rec", 2), ("b", None, "srgnn_pd", 1)]


def test_tune_group_selects_on_validation_then_trains_the_seeds_first(tmp_path, monkeypatch):
    calls = []
    group = {"tune": "SASRec", "dataset": "a", "protocol": "papers", "base": "sasrec", "tune_seed": 7,
             "grid": {"learning_rate": [0.001, 0.002], "dropout": [0.2, 0.5]}, "seeds": [1, 2]}
    names = tuning.points(group)
    best = names[2]  # lr 0.002, dropout 0.2: the best validation score below, the worst test score
    monkeypatch.setattr(run_queue, "run_one", fake_trainer(calls, lambda n: 0.9 if n == best else 0.1))
    later = {"dataset": "a", "protocol": "papers", "runs": ["gru4rec"], "seeds": [1]}
    queue = run_queue.Queue([group, later], cli(tmp_path))
    drain(queue)
    assert [c[2:] for c in calls] == [(n, 7) for n in names] + [(best, 1), (best, 2), ("gru4rec", 1)]
    assert queue.selections == {"a/papers/SASRec": best}
    assert compare.RUNS[best] == ("SASRec", {"learning_rate": 0.002, "hidden_dropout_prob": 0.2,
                                             "attn_dropout_prob": 0.2, "dropout_prob": 0.2})


def test_tune_group_also_points_change_one_key_of_the_first_point():
    group = {"base": "veli", "grid": {"learning_rate": [0.001, 0.002]}, "also": [{"enrich_k": 5}]}
    names = tuning.points(group)
    assert len(names) == 3
    assert compare.RUNS[names[-1]][1] == {**compare.RUNS["veli"][1], "learning_rate": 0.001, "enrich_k": 5}


def test_a_failed_run_is_kept_and_the_queue_goes_on(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(run_queue, "run_one", fake_trainer(calls, lambda n: 0.1, fail={"sasrec"}))
    args = cli(tmp_path)
    queue = run_queue.Queue([{"dataset": "a", "protocol": None, "runs": ["sasrec", "gru4rec"], "seeds": [1]}], args)
    drain(queue)
    assert (queue.done, queue.failed) == (2, 1)
    with open(os.path.join(args.cache, "_failed", "a_None_sasrec_1.txt")) as f:
        assert f.read() == "sasrec broke"
    with tarfile.open(args.pack) as tar:
        assert "cache/a/gru4rec_1.json" in tar.getnames()


def test_a_job_expected_to_outlast_the_kill_time_is_skipped_for_one_that_fits(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(run_queue, "run_one", fake_trainer(calls, lambda n: 0.1))
    queue = run_queue.Queue([{"dataset": "big", "protocol": None, "runs": ["sasrec"], "seeds": [1, 2]},
                             {"dataset": "small", "protocol": None, "runs": ["sasrec"], "seeds": [1]}],
                            cli(tmp_path, ))
    queue.cli.hard = 100.0
    queue.took[("big", "sasrec")] = [95.0]  # a big run took 95 s: 1.1 x 95 no longer fits in the 100 s left
    drain(queue)
    assert [c[0] for c in calls] == ["small"]
    assert len(queue.jobs) == 2


@pytest.mark.parametrize("deadline", [0.0])
def test_nothing_starts_after_the_deadline(tmp_path, monkeypatch, deadline):
    calls = []
    monkeypatch.setattr(run_queue, "run_one", fake_trainer(calls, lambda n: 0.1))
    args = cli(tmp_path)
    args.deadline = deadline
    queue = run_queue.Queue([{"dataset": "a", "protocol": None, "runs": ["sasrec"], "seeds": [1]}], args)
    queue.start -= 1
    drain(queue)
    assert calls == []


def test_tuned_tables_read_the_cache_select_on_valid_and_name_the_machine(tmp_path, monkeypatch):
    calls = []
    group = {"tune": "SASRec", "dataset": "a", "protocol": "papers", "base": "sasrec", "tune_seed": 7,
             "grid": {"learning_rate": [0.001, 0.002]}, "seeds": [7, 8]}
    names = tuning.points(group)
    score = {names[0]: 0.2, names[1]: 0.3}
    monkeypatch.setattr(run_queue, "run_one", fake_trainer(calls, lambda n: score[n]))
    args = cli(tmp_path)
    drain(run_queue.Queue([group], args))
    metrics = {m: 0.5 for m in compare.METRICS}
    for seed in (7, 8):  # the fake results lack what a table shows: give the final runs real-looking ones
        path = compare.cache_path(names[1], seed, tuning.group_namespace(group, args.cache))
        with open(path) as f:
            kept = json.load(f)
        kept["result"].update(test=metrics, epochs=3, seconds_per_epoch=1.0,
                              machine="one NVIDIA H200 GPU, 15 run(s) at a time" if seed == 7 else "CPU")
        kept["model"], kept["settings"] = "SASRec", {**compare.RUNS[names[1]][1], "seed": seed, "protocol": "papers"}
        with open(path, "w") as f:
            json.dump(kept, f)
    for seed, name in ((7, names[0]),):
        path = compare.cache_path(name, seed, tuning.group_namespace(group, args.cache))
        with open(path) as f:
            kept = json.load(f)
        kept["model"], kept["settings"] = "SASRec", {**compare.RUNS[name][1], "seed": seed, "protocol": "papers"}
        with open(path, "w") as f:
            json.dump(kept, f)
    grid, selected, rows = tuning.protocol_tables([group], args)
    assert selected == {"SASRec": names[1]}
    assert [g["run"] for g in grid] == names
    assert rows[0]["machines"] == {"7": "GPU", "8": "CPU"}
    assert rows[0]["ndcg@20"] == (0.5, 0.0)


def test_tuned_tables_refuse_a_missing_run(tmp_path):
    group = {"tune": "SASRec", "dataset": "a", "protocol": "papers", "base": "sasrec", "tune_seed": 7,
             "grid": {"learning_rate": [0.001]}, "seeds": [7]}
    with pytest.raises(SystemExit, match="not in the cache"):
        tuning.protocol_tables([group], cli(tmp_path))
