"""Stage 1 of VELI4SBR / SPRINT: LLM intent generation with a global intent pool and the predict-and-correct loop.

Run ``python -m recbole_intent.generate --help``. Modules, one job each:
settings (YAML + CLI), data (atomic files in/out), selection + warmup (SPRINT §4.1.1), prompts (P1-P3),
validate (answer checks), cache (JSONL replay), backends + llm_client (LLM calls), gip (the pool), refine (P1),
pnc_loop (Algorithm 1), dry_run, report, runner (the stages), fake_server + synthetic (test and benchmark aids).
"""
