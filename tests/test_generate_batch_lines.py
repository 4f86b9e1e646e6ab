"""``--backend batch`` against hostile responses files (issue 16, items 5-6): vLLM's refusals (a ``response`` with
status 400 AND an ``error``) are failed tries, not resent forever; a duplicate line with another answer is reported;
the report keeps the run's line problems; a line is warned about once; "1 request waits"."""

import json
import logging
import os

from recbole_intent.generate.__main__ import main
from recbole_intent.generate.pnc.batch_lines import parse_response
from recbole_intent.testing.fake_policy import ScriptedPolicy
from recbole_intent.testing.fake_server import completion
from recbole_intent.testing.synthetic import write_dataset

TOO_LONG = "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens."


def vllm_refusal(cid):
    """What ``vllm run-batch`` writes for a request it refuses (both a response and an error)."""
    error = {"object": "error", "message": TOO_LONG, "type": "BadRequestError", "param": None, "code": 400}
    return {"id": f"vllm-{cid}", "custom_id": cid, "response": {"status_code": 400, "request_id": cid, "body": error},
            "error": error}  # fmt: skip


def answer(cid, body, content):
    return {"id": f"ok-{cid}-{len(content)}", "custom_id": cid, "error": None,
            "response": {"status_code": 200, "request_id": cid, "body": completion(body, content)}}  # fmt: skip


def test_a_response_is_classified_by_its_status_code_and_keeps_the_providers_message():
    assert parse_response(vllm_refusal("s1")) == ("refused", f"HTTP 400: {TOO_LONG}")
    expired = {"custom_id": "s1", "response": None, "error": {"code": "batch_expired", "message": "Batch expired"}}
    assert parse_response(expired) == ("resend", "Batch expired")
    busy = {"custom_id": "s1", "response": {"status_code": 503, "body": {"error": {"message": "overloaded"}}}}
    assert parse_response(busy) == ("resend", "HTTP 503: overloaded")
    assert parse_response({"custom_id": "s1", "response": {"status_code": 200, "body": {}}})[0] == "resend"
    body = {"messages": [{"role": "user", "content": "x"}], "model": "m"}
    assert parse_response(answer("s1", body, "hi")) == ("answer", ("hi", {"prompt_tokens": 0, "completion_tokens": 0}))


def _provide(batch, name, lines):
    with open(os.path.join(batch, f"{name}_responses.jsonl"), "w", encoding="utf-8") as fh:
        fh.write("".join(line if isinstance(line, str) else json.dumps(line) + "\n" for line in lines))


def _requests(batch, name):
    with open(os.path.join(batch, f"{name}_requests.jsonl"), encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _report(root):
    with open(os.path.join(str(root), "tiny", "tiny.generate_report.json"), encoding="utf-8") as fh:
        return json.load(fh)


def test_refusals_duplicates_and_the_runs_line_problems(tmp_path, capsys, caplog):
    ds = write_dataset(str(tmp_path), n_sessions=10, n_items=40)
    (tmp_path / "gip.txt").write_text("budget-friendly\ntrendy\n", encoding="utf-8")
    batch = str(tmp_path / "batch")
    argv = ["--dataset", "tiny", "--data_path", str(tmp_path), "--backend", "batch", "--batch_dir", batch,
            "--select", "all", "--llm_model", "fake-model", "--no_refine", "--pool_file", str(tmp_path / "gip.txt"),
            "--max_tries", "2"]  # fmt: skip
    policy = ScriptedPolicy(ds["answer_key"], plan=lambda context, t: "correct")

    def right(req):
        return answer(req["custom_id"], req["body"], policy(req["body"], None).content)

    assert main(argv) == 3
    round1 = _requests(batch, "round_1")
    refused, flaky, twice = (r["custom_id"] for r in round1[:3])
    lines = [vllm_refusal(refused), {**right(round1[1]), "response": {"status_code": 500, "body": {}}}]
    lines += [right(r) for r in round1[2:]] + ["not json\n"]
    lines.append(answer(twice, round1[2]["body"], json.dumps({"intents": ["x"], "next_item": "elsewhere"})))
    _provide(batch, "round_1", lines)

    caplog.set_level(logging.WARNING, logger="recbole_intent.generate")
    assert main(argv) == 3  # the 500 is sent again; the refusal was a failed try: not in the retry file
    assert [r["custom_id"] for r in _requests(batch, "round_1_retry1")] == [flaky]
    problems = _report(tmp_path)["batch"]
    assert problems["line_problems"] == {"refused_request": 1, "provider_error": 1, "malformed": 1,
                                         "duplicate_custom_id": 1}  # fmt: skip
    assert f"round_1_responses.jsonl:1: refused_request: HTTP 400: {TOO_LONG}; a failed try (transport)" in \
        problems["line_problem_examples"]
    assert (f"round_1_responses.jsonl:{len(lines)}: duplicate_custom_id: {twice!r} answered again, differently; "
            "line 3's answer was kept") in problems["line_problem_examples"]
    assert sum("problems in the responses files" in r.getMessage() for r in caplog.records) == 1
    assert "1 request waits for answers." in capsys.readouterr().out

    assert main(argv) == 3  # nothing new: the same lines are not warned about again
    assert sum("problems in the responses files" in r.getMessage() for r in caplog.records) == 1
    _provide(batch, "round_1_retry1", [right(_requests(batch, "round_1_retry1")[0])])

    assert main(argv) == 3  # round 2 resends the refused session's conversation (its try 2), and only that
    assert [r["custom_id"] for r in _requests(batch, "round_2")] == [refused]
    _provide(batch, "round_2", [vllm_refusal(refused)])
    assert main(argv) == 0  # done: refused twice, failed; before, it was resent forever
    rep = _report(tmp_path)
    assert rep["status"] == "complete" and rep["failed"] == 1 and rep["failed_try_reasons"] == {"transport": 2}
    assert rep["batch"]["line_problems"] == {"refused_request": 1}  # this invocation's ...
    assert rep["batch"]["line_problems_run"] == {"refused_request": 2, "provider_error": 1, "malformed": 1,
                                                 "duplicate_custom_id": 1}  # ... and the whole run's  # fmt: skip
