"""``--backend batch``: the test plays the provider. It reads each requests file, writes the responses file in the
Batch API output format with scripted answers (right at try 1, 2 or 3, garbage, provider errors, a truncated
download), reruns the command, and checks the files, the report, the refusals, and that a finished run is left alone.
"""

import io
import json
import os

import pytest

from recbole_intent.generate.__main__ import main
from recbole_intent.generate.common.settings import make_config
from recbole_intent.generate.pnc.runner import run
from recbole_intent.testing.fake_policy import DEFAULT_POOL, ScriptedPolicy
from recbole_intent.testing.fake_server import FakeOpenAIServer, FakeResponse, completion, request_data, stable_hash
from recbole_intent.testing.synthetic import write_dataset

PLANS = {  # stable_hash(context) % 5 -> the answer of each try (try index = answers already in the conversation)
    0: ["correct"],
    1: ["wrong", "correct"],
    2: ["not_json", "wrong", "correct"],
    3: ["bad_schema", "too_many", "echo"],
    4: ["wrong", "wrong", "wrong"],
}


def category(context):
    return stable_hash(*context) % 5


def plan(context, t):
    return PLANS[category(context)][t]


def provider(root, name, policy, status=None, cut=False, junk=()):
    """Answer ``<name>_requests.jsonl`` as the Batch API would; returns the usage of the answers it wrote."""
    batch = os.path.join(str(root), "batch")
    with open(os.path.join(batch, f"{name}_requests.jsonl"), encoding="utf-8") as fh:
        requests = [json.loads(line) for line in fh]
    lines, usage = [], {}
    for n, req in enumerate(requests):
        code = (status or {}).get(req["custom_id"], 200)
        body = completion(req["body"], policy(req["body"], None).content) if code == 200 else {"error": {}}
        if code == 200:
            usage[req["custom_id"]] = body["usage"]
        response = {"status_code": code, "request_id": f"req_{name}_{n}", "body": body}
        lines.append(json.dumps({"id": f"batch_req_{name}_{n}", "custom_id": req["custom_id"], "response": response,
                                 "error": None}))  # fmt: skip
    text = "\n".join([*lines, *junk]) + "\n"
    if cut:  # the download broke off in the middle of the last line
        text = text[: -len(lines[-1]) // 2]
        usage.pop(requests[-1]["custom_id"])
    with open(os.path.join(batch, f"{name}_responses.jsonl"), "w", encoding="utf-8") as fh:
        fh.write(text)
    return requests, usage


def argv(root):
    return ["--dataset", "tiny", "--data_path", str(root), "--backend", "batch", "--batch_dir",
            os.path.join(str(root), "batch"), "--select", "all", "--llm_model", "fake-model"]  # fmt: skip


def report(root):
    with open(os.path.join(str(root), "tiny", "tiny.generate_report.json"), encoding="utf-8") as fh:
        return json.load(fh)


def snapshot(root):
    found = {}
    for folder, _, files in os.walk(str(root)):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as fh:
                found[path] = (fh.read(), os.stat(path).st_mtime_ns)
    return found


def jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def pool_shown(request):
    return request_data(request["body"])["global_intent_pool"]


def test_three_rounds_end_to_end_with_errors_refusals_and_a_truncated_download(tmp_path, capsys):
    ds = write_dataset(str(tmp_path), n_sessions=30, n_items=40)
    context = {sid: tuple(items[:-1]) for sid, items in ds["train"]}
    cats = {sid: category(ctx) for sid, ctx in context.items()}
    assert set(cats.values()) == set(PLANS)
    policy = ScriptedPolicy(ds["answer_key"], plan=plan)
    refused, flaky, stale = [sid for sid, c in cats.items() if c == 0][:3]  # all right at their first answer
    usage = {}

    assert main(argv(tmp_path)) == 3  # round 0: P1 for every item shown, P2 for the pool
    assert "upload" in capsys.readouterr().out and os.path.exists(tmp_path / "batch" / "selection.json")
    requests, got = provider(tmp_path, "round_0", policy)
    usage.update({("r0", k): v for k, v in got.items()})
    refined = {r["custom_id"][len("item:") :] for r in requests} - {""}
    assert "pool" in {r["custom_id"] for r in requests} and len(requests) == len(refined) + 1
    assert {i for ctx in context.values() for i in ctx} <= refined <= {i for _, s in ds["train"] for i in s}

    assert main(argv(tmp_path)) == 3  # round 1: try 1 of every session, custom_id = session id
    out = capsys.readouterr().out
    path = tmp_path / "batch" / "round_1_requests.jsonl"
    assert f"upload {path}" in out and "round_1_responses.jsonl" in out and "run this command again" in out
    lines = jsonl(path)
    assert [r["custom_id"] for r in lines] == list(context)
    assert {(r["method"], r["url"]) for r in lines} == {("POST", "/v1/chat/completions")}
    assert list(lines[0]["body"]) == ["model", "messages", "response_format", "temperature"]
    assert lines[0]["body"]["response_format"] == {"type": "json_object"} and lines[0]["body"]["model"] == "fake-model"
    assert pool_shown(lines[0]) == DEFAULT_POOL and all(len(r["body"]["messages"]) == 2 for r in lines)
    stale_line = next(r for r in lines if r["custom_id"] == stale)  # answers a request we would not send now
    stale_line["body"]["temperature"] = 0.7
    path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    junk = ['{"custom_id": "no-such-session", "response": {"status_code": 200, "body": {}}}', "not json at all"]
    _, got = provider(tmp_path, "round_1", policy, status={refused: 400, flaky: 500}, junk=junk)
    usage.update({("r1", k): v for k, v in got.items() if k != stale})

    assert main(argv(tmp_path)) == 3  # the 500 and the stale answer are asked again; the 400 was a failed try
    problems = report(tmp_path)["batch"]["line_problems"]
    assert problems == {"refused_request": 1, "provider_error": 1, "stale": 1, "unknown_custom_id": 1, "malformed": 1}
    retry = jsonl(tmp_path / "batch" / "round_1_retry1_requests.jsonl")
    assert sorted(r["custom_id"] for r in retry) == sorted([flaky, stale])
    usage.update({("r1b", k): v for k, v in provider(tmp_path, "round_1_retry1", policy)[1].items()})

    assert main(argv(tmp_path)) == 3  # round 2: the pool grown by round 1, the feedback in the conversation
    round2 = {r["custom_id"]: r for r in jsonl(tmp_path / "batch" / "round_2_requests.jsonl")}
    assert set(round2) == {sid for sid, c in cats.items() if c != 0} | {refused}
    assert len(round2[refused]["body"]["messages"]) == 2  # no answer to refer to: the same conversation again
    wrong = next(sid for sid, c in cats.items() if c == 1)
    assistant, feedback = round2[wrong]["body"]["messages"][2:]
    assert assistant["role"] == "assistant" and feedback["content"].startswith("The prediction ")
    grown = pool_shown(round2[wrong])
    assert grown[: len(DEFAULT_POOL)] == DEFAULT_POOL and len(grown) > len(DEFAULT_POOL)
    requests, got = provider(tmp_path, "round_2", policy, cut=True)
    usage.update({("r2", k): v for k, v in got.items()})

    assert main(argv(tmp_path)) == 3  # the truncated line: the answers before it are kept, its session stays open
    retry = jsonl(tmp_path / "batch" / "round_2_retry1_requests.jsonl")
    assert [r["custom_id"] for r in retry] == [requests[-1]["custom_id"]]
    assert report(tmp_path)["batch"]["line_problems"] == {"malformed": 1}
    usage.update({("r2b", k): v for k, v in provider(tmp_path, "round_2_retry1", policy)[1].items()})

    assert main(argv(tmp_path)) == 3
    usage.update({("r3", k): v for k, v in provider(tmp_path, "round_3", policy)[1].items()})
    assert main(argv(tmp_path)) == 0  # done: .intent, .user and the report
    n = {c: sum(v == c for v in cats.values()) for c in PLANS}
    rep = report(tmp_path)
    assert rep["status"] == "complete" and rep["accepted"] == n[0] + n[1] + n[2] and rep["failed"] == n[3] + n[4]
    assert rep["tries_histogram"] == {"1": n[0] - 1, "2": n[1] + 1, "3": n[2], "failed": n[3] + n[4]}
    assert rep["failed_try_reasons"] == {"wrong_item": n[1] + n[2] + 3 * n[4], "not_json": n[2], "bad_schema": n[3],
                                         "too_many_intents": n[3], "echo": n[3], "transport": 1}  # fmt: skip
    assert rep["llm_calls"] == len(usage) and rep["calls_failed_transport"] == 1 and rep["cache_hits"] == 0
    assert rep["prompt_tokens"] == sum(u["prompt_tokens"] for u in usage.values()) > 0
    assert rep["completion_tokens"] == sum(u["completion_tokens"] for u in usage.values())
    assert rep["pool_size_per_round"][1] == len(grown) and rep["pool_final"] == rep["pool_size_per_round"][-1]
    names = [line.split("\t")[1] for line in (tmp_path / "tiny" / "tiny.intent").read_text().splitlines()[1:]]
    assert names[: len(DEFAULT_POOL)] == DEFAULT_POOL and len(names) == rep["pool_final"]
    users = [line.split("\t") for line in (tmp_path / "tiny" / "tiny.user").read_text().splitlines()[1:]]
    assert [u[0] for u in users] == list(context)
    for sid, ids, negatives in users:
        assert bool(ids) == (cats[sid] in (0, 1, 2)) and all(int(i) < len(names) for i in ids.split())
        assert (cats[sid] == 4) == (len(negatives.split()) == 3)

    before = snapshot(tmp_path)  # finished: a rerun imports nothing, sends nothing, writes nothing
    assert main(argv(tmp_path)) == 0 and "nothing written" in capsys.readouterr().out
    assert snapshot(tmp_path) == before


@pytest.fixture
def api_key(monkeypatch):
    monkeypatch.setenv("GEN_BATCH_KEY", "sk-batch-test")


def test_batch_sends_the_live_requests_and_shares_the_live_cache(tmp_path, api_key):
    ds = write_dataset(str(tmp_path), n_sessions=20, n_items=40)
    live = ["--dataset", "tiny", "--data_path", str(tmp_path), "--select", "all", "--llm_model", "fake-model"]
    with FakeOpenAIServer(ScriptedPolicy(ds["answer_key"])) as server:
        live_argv = [*live, "--pool_sync", "100", "--api_key_env", "GEN_BATCH_KEY", "--base_url", server.base_url]
        assert run(make_config(live_argv), live_argv, out=io.StringIO())["status"] == "complete"
    first_tries = [r for r in server.requests if len(r["body"]["messages"]) == 2]  # refine, pool, P&C try 1
    batch = run(make_config(argv(tmp_path)), argv(tmp_path), out=io.StringIO())
    # rounds 0 and 1 are the live run's first requests, byte for byte: all served by its cache
    assert batch["cache_hits"] == len(first_tries) and batch["batch"]["round"] == 2
    assert not os.path.exists(tmp_path / "batch" / "round_0_requests.jsonl")
    assert not os.path.exists(tmp_path / "batch" / "round_1_requests.jsonl")


def test_round_0_is_skipped_with_a_pool_file_and_no_refine_and_p2_retries_stay_in_round_0(tmp_path, capsys):
    ds = write_dataset(str(tmp_path / "a"), n_sessions=20, n_items=40)
    (tmp_path / "gip.txt").write_text("budget-friendly\ntrendy\n", encoding="utf-8")
    fixed = [*argv(tmp_path / "a"), "--no_refine", "--pool_file", str(tmp_path / "gip.txt")]
    assert main([*fixed, "--dry_run"]) == 0 and not os.path.exists(tmp_path / "a" / "batch")  # prints, writes nothing
    assert "No call was made" in capsys.readouterr().out
    assert main(fixed) == 3 and sorted(os.listdir(tmp_path / "a" / "batch")) == ["round_1_requests.jsonl",
                                                                                 "selection.json"]  # fmt: skip
    assert pool_shown(jsonl(tmp_path / "a" / "batch" / "round_1_requests.jsonl")[0]) == ["budget-friendly", "trendy"]
    before = snapshot(tmp_path / "a" / "batch")
    assert main(fixed) == 3 and snapshot(tmp_path / "a" / "batch") == before  # still waiting: the same file to upload
    assert "upload " + str(tmp_path / "a" / "batch" / "round_1_requests.jsonl") in capsys.readouterr().out

    write_dataset(str(tmp_path / "b"), n_sessions=20, n_items=40)
    policy = ScriptedPolicy(ds["answer_key"])
    assert main([*argv(tmp_path / "b"), "--no_refine"]) == 3
    provider(tmp_path / "b", "round_0", lambda body, server: FakeResponse("no JSON, sorry"))
    assert main([*argv(tmp_path / "b"), "--no_refine"]) == 3  # P2's second try, with its feedback, still round 0
    (retry,) = jsonl(tmp_path / "b" / "batch" / "round_0_retry1_requests.jsonl")
    assert retry["custom_id"] == "pool" and retry["body"]["messages"][-1]["content"].startswith("Invalid answer")
    provider(tmp_path / "b", "round_0_retry1", policy)
    assert main([*argv(tmp_path / "b"), "--no_refine"]) == 3
    assert pool_shown(jsonl(tmp_path / "b" / "batch" / "round_1_requests.jsonl")[0]) == DEFAULT_POOL
