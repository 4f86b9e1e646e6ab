"""A tiny session dataset in the shipped beauty format, with intent files, written by the tests themselves.

Sessions follow latent "topics" (item id modulo the number of topics), so that intents carry real signal: the
intent of a session is its topic, which is what the LLM would have named.
"""

import os
import random

from recbole_intent.data.dataset import SESSION_BENCHMARK_CONFIG

SMALL_MODEL = {
    "epochs": 1,
    "hidden_size": 16,
    "inner_size": 32,
    "embedding_size": 16,
    "train_batch_size": 64,
    "eval_batch_size": 256,
    "MAX_ITEM_LIST_LENGTH": 10,
    "show_progress": False,
    "state": "ERROR",
    "seed": 7,
}

DATASET_YAML = SESSION_BENCHMARK_CONFIG


def write_tiny_dataset(root, name="tiny", n_sessions=240, n_items=60, n_topics=6, labelled=0.5, seed=0,
                       intents=True, text_emb_dim=0):
    """Write ``root/name/`` and return ``(config_dict, info)``; ``info`` has the session ids per split."""
    rng = random.Random(seed)
    folder = os.path.join(root, name)
    os.makedirs(folder, exist_ok=True)
    items = [f"i{k}" for k in range(1, n_items + 1)]
    sessions = []
    for s in range(n_sessions):
        topic = s % n_topics
        pool = [it for k, it in enumerate(items) if k % n_topics == topic]
        length = rng.randint(3, 8)
        sessions.append((f"s{s}", topic, [rng.choice(pool) for _ in range(length)]))
    n_train, n_valid = int(0.8 * n_sessions), int(0.1 * n_sessions)
    splits = {"train": sessions[:n_train], "valid": sessions[n_train:n_train + n_valid],
              "test": sessions[n_train + n_valid:]}
    for split, rows in splits.items():
        with open(os.path.join(folder, f"{name}.{split}.inter"), "w") as f:
            f.write("session_id:token\titem_id_list:token_seq\titem_id:token\n")
            for sid, _, seq in rows:
                for k in range(1, len(seq)):
                    f.write(f"{sid}\t{' '.join(seq[:k])}\t{seq[k]}\n")
    if intents:
        with open(os.path.join(folder, f"{name}.intent"), "w") as f:
            f.write("intent_id:token\tintent_name:token_seq\n")
            for t in range(n_topics):
                f.write(f"{t}\ttopic number {t}\n")
        with open(os.path.join(folder, f"{name}.user"), "w") as f:
            f.write("session_id:token\tintent_ids:token_seq\thard_negatives:token_seq\n")
            for sid, topic, seq in splits["train"]:
                if rng.random() < labelled:
                    other = [it for it in items if it not in seq]
                    f.write(f"{sid}\t{topic} {(topic + 1) % n_topics}\t{rng.choice(other)}\n")
                elif rng.random() < 0.3:
                    f.write(f"{sid}\t\t\n")  # an LLM failure: selected, no validated intent
    if text_emb_dim:
        with open(os.path.join(folder, f"{name}.itememb"), "w") as f:
            f.write("iid:token\titem_emb:float_seq\n")
            for k, it in enumerate(items):
                vec = [round(rng.gauss(0, 1) + (1.0 if d == k % n_topics else 0.0), 4) for d in range(text_emb_dim)]
                f.write(f"{it}\t{' '.join(map(str, vec))}\n")
    config = dict(DATASET_YAML, data_path=root, **SMALL_MODEL)
    info = {split: [sid for sid, _, _ in rows] for split, rows in splits.items()}
    return config, info
