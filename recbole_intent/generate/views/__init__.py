"""Stage 1 of LLM4SBR and LLM-DMsRec: an LLM view for every row of every split (llm_views.py), and LLM-DMsRec's
candidate sets from a backbone trained on the training split (candidates.py). The file contract: data/view_files.py."""
