"""recbole-intent: LLM-inferred session intents for RecBole's session-based recommenders (VELI4SBR, SPRINT)."""

import recbole_intent.compat  # noqa: F401  (switches RecBole's import-time anomaly detection back off)

__version__ = "0.1.0"
