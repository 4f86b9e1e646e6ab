from recbole_intent.data.dataset import IntentDataset, SessionDataset
from recbole_intent.data.intent_files import AtomicFileError

__all__ = ["IntentDataset", "SessionDataset", "AtomicFileError"]
