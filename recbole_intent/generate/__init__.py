"""Stage 1 of VELI4SBR / SPRINT and of LLM4SBR / LLM-DMsRec: LLM output written as data files that the models read.

Run ``python -m recbole_intent.generate --help`` (P&C intents) or ``python -m recbole_intent.generate.views --help``
(LLM4SBR / LLM-DMsRec views). Nothing under model/, data/ or config imports this package. Modules, one job each:

- common/ (both pipelines): settings (YAML + CLI), data (atomic files in/out), prompts (P1-P3 and rendering), validate
  (answer checks), cache (JSONL replay), backends + llm_client (LLM calls), report, text_embed (offline text
  encoder), backbone (RecBole settings of the backbones Stage 1 trains).
- pnc/ (VELI4SBR / SPRINT): selection + warmup (SPRINT §4.1.1), gip (the pool), refine (P1), pnc_loop (Algorithm 1),
  dry_run, runner (the stages), batch (provider batch files), offline (the no-LLM backend), import_answers.
- views/ (LLM4SBR / LLM-DMsRec): llm_views (a view per row of every split), candidates (LLM-DMsRec's Phase I).
- import_answers: the ``python -m recbole_intent.generate.import_answers`` command (pnc/import_answers.py).

Test doubles (fake server, scripted answers, synthetic data) live in recbole_intent/testing/.
"""
