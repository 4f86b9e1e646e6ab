"""A local OpenAI-compatible chat completions server with scripted answers, for the tests and the benchmark.

Standard library only. It listens on 127.0.0.1 with an ephemeral port, serves ``POST /v1/chat/completions``, and
answers through a ``policy(body, server) -> FakeResponse`` callable: scripted replies, latency, 429 with Retry-After,
5xx, malformed answers. Every request is recorded (body, headers, the cache-independent ``request_id``) so tests
can count hits and inspect exactly what was sent. Nothing here is used by a real run.
"""

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from recbole_intent.generate.common.prompts import DATA_HEADER


@dataclass
class FakeResponse:
    content: str | None = None  # the assistant text of a 200 answer
    status: int = 200
    raw: str | None = None  # a raw body instead of a completion (error bodies, garbage)
    headers: dict = field(default_factory=dict)
    delay: float | None = None  # overrides the server latency for this answer


def stable_hash(*parts):
    return int(hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:12], 16)


def request_id(body):
    """Identity of a request by its messages (what our cache keys on besides model/backend)."""
    return hashlib.sha256(json.dumps(body.get("messages"), sort_keys=True).encode()).hexdigest()


def request_data(body):
    """The JSON data object of our first user message (prompts.py format), or {}."""
    for message in body.get("messages", []):
        content = message.get("content") or ""
        if message.get("role") == "user" and content.startswith(DATA_HEADER):
            return json.loads(content[len(DATA_HEADER) :])
    return {}


def request_task(body):
    data = request_data(body)
    if "candidate_items" in data:
        return "pnc"
    return "refine" if "title" in data else "pool"


def try_index(body):
    """0 for the first try of a P&C conversation, +1 for every earlier answer replayed in the history."""
    return sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")


def completion(body, content):
    prompt_chars = sum(len(m.get("content") or "") for m in body.get("messages", []))
    usage = {"prompt_tokens": prompt_chars // 4, "completion_tokens": len(content) // 4}
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", "fake"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": usage,
    }


def error_body(status, message):
    return json.dumps({"error": {"message": message, "type": "fake_error", "code": status}})


class FakeOpenAIServer:
    def __init__(self, policy, latency=0.0):
        self.policy = policy
        self.latency = latency
        self.requests = []  # dicts: body, headers, id, status, answered (the whole answer was written)
        self._lock = threading.Lock()
        self._httpd = None

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def hits(self, task=None):
        with self._lock:
            return sum(1 for r in self.requests if task is None or r["task"] == task)

    def start(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real API server
            disable_nagle_algorithm = True  # headers and body are two writes: Nagle + delayed ACK would add ~40 ms

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    return self._send(404, error_body(404, "not found"), {})
                record = {
                    "body": body,
                    "headers": dict(self.headers),
                    "id": request_id(body),
                    "task": request_task(body),
                    "answered": False,
                }
                with server._lock:
                    record["n"] = len(server.requests)
                    server.requests.append(record)
                reply = server.policy(body, server)
                time.sleep(server.latency if reply.delay is None else reply.delay)
                text = reply.raw if reply.raw is not None else json.dumps(completion(body, reply.content or ""))
                record["status"] = reply.status
                self._send(reply.status, text, reply.headers)
                record["answered"] = True

            def _send(self, status, text, headers):
                payload = text.encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in headers.items():
                        self.send_header(name, str(value))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout) or was killed

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="fake-openai", daemon=True).start()
        return self

    def stop(self):
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
