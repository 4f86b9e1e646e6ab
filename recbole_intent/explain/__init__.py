"""Explain a trained intent model: a session's inferred intents (y_Sc, which pass tau) and its recommendations.

``python -m recbole_intent.explain --model_file saved/X.pth [--session_id ID | --items "a b c"] [--topk 10] [--json]``
From Python: ``load_model(model_file)`` then ``explain_session(loaded.model, loaded.dataset, item_tokens, topk)``.
"""

from recbole_intent.explain.cli import main
from recbole_intent.explain.load import ExplainError, Loaded, load_model
from recbole_intent.explain.session import explain_session, find_session

__all__ = ["ExplainError", "Loaded", "explain_session", "find_session", "load_model", "main"]
