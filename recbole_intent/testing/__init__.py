"""Test doubles for the tests and benchmarks; nothing here is used by a real run: fake_server (an OpenAI-compatible
HTTP server), fake_policy (its scripted answers), synthetic (a small dataset with titles)."""
