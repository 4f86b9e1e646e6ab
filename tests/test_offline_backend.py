"""Offline (sentence-embedding) backend and text encoder: offline loading, pool mining, P&C rules, .itememb output."""

import json
import os
import socket

import numpy as np
import pytest

from recbole_intent.generate.common.text_embed import EMB_DIM, TextEncoder, write_item_embeddings
from recbole_intent.generate.pnc import offline
from recbole_intent.generate.pnc.offline import OfflineBackend

TITLES = [
    "Maybelline New York Color Sensational Matte Lipstick, Red, 0.15 oz",
    "Maybelline New York Volume Mascara, Black, 0.3 fl oz",
    "Revlon Super Lustrous Matte Lipstick, Pink 12",
    "Revlon ColorStay Liquid Eyeliner, 2 Count",
    "NYX Eyeshadow Palette Warm Neutrals",
    "Urban Decay Eyeshadow Palette Naked 3",
    "CeraVe Hydrating Facial Cleanser for Dry Skin, 16 oz",
    "Neutrogena Hydrating Facial Cleanser, 6.7 fl oz",
    "Olay Anti-Aging Night Cream with Retinol, 1.7 oz",
    "L'Oreal Paris Revitalift Anti-Aging Night Cream 1.7 oz",
    "Pantene Argan Oil Shampoo for Dry Hair 12 oz",
    "OGX Argan Oil Shampoo, 13 fl oz",
]
POOL = ["lip makeup", "hair care", "pet supplies", "eye makeup", "garden tools"]
PNC = {
    "session": [
        {"id": "s1", "title": "Revlon Matte Lipstick, Cherry Red"},
        {"id": "s2", "title": "Maybelline Lip Liner Pencil, Nude"},
    ],
    "candidates": [
        {"id": "c1", "title": "Dog Food Chicken Flavor 20 lb"},
        {"id": "c2", "title": "NYX Butter Lip Gloss, Rose"},
        {"id": "c3", "title": "Garden Hose 50 ft"},
        {"id": "c4", "title": "Moisturizing Shampoo for Dry Hair"},
        {"id": "c5", "title": "Liquid Eyeliner, Black"},
        {"id": "c6", "title": "Burt's Bees Lip Balm"},
    ],
    "pool": POOL,
    "tries": [],
}


@pytest.fixture(scope="module")
def encoder():
    # The first load happens with sockets disabled: any attempt to reach a model hub fails the test.
    def no_network(*args, **kwargs):
        raise OSError("network access attempted while loading the offline encoder")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", no_network)
        mp.setattr(socket, "create_connection", no_network)
        enc = TextEncoder()
        enc.encode(["warm up"])
    return enc


@pytest.fixture(scope="module")
def backend(encoder):
    return OfflineBackend({}, encoder=encoder)


def ask(backend, payload):
    reply = backend.complete("pnc", payload, [{"role": "user", "content": "ignored"}])
    assert (reply.prompt_tokens, reply.completion_tokens) == (0, 0)
    return json.loads(reply.text)


def test_encoder_gives_unit_vectors_with_sensible_similarity(encoder):
    emb = encoder.encode(["red lipstick", "matte lip color", "dog food"])
    assert emb.shape == (3, EMB_DIM) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert emb[0] @ emb[1] > emb[0] @ emb[2] + 0.2
    assert encoder.encode([]).shape == (0, EMB_DIM)
    np.testing.assert_array_equal(encoder.encode(["dog food", "red lipstick"]), emb[[2, 0]])  # served from cache


def test_pool_mining_finds_product_phrases(backend):
    pool = json.loads(backend.complete("pool", {"domain": "Beauty", "titles": TITLES, "n": 64}, []).text)["intents"]
    expected = {
        "matte lipstick",
        "eyeshadow palette",
        "hydrating facial cleanser",
        "anti-aging night cream",
        "argan oil shampoo",
    }
    assert expected <= set(pool)
    assert len(pool) == len(set(pool))
    words = {w for p in pool for w in p.split()}
    assert not any(ch.isdigit() for p in pool for ch in p)
    assert not words & {"oz", "fl", "count", "maybelline", "revlon", "york", "red", "for"}  # units, brands, stopwords
    assert "facial cleanser" not in pool  # only ever a fragment of "hydrating facial cleanser"
    assert backend.build_pool(TITLES, 2) == pool[:2]


def test_pool_merges_near_duplicates(backend, monkeypatch):
    ranked = [
        ("moisturizer", 9),
        ("moisturizing", 8),
        ("lipsticks", 7),
        ("lipstick", 6),
        ("anti aging", 5),
        ("anti-aging", 4),
        ("dog food", 3),
    ]
    monkeypatch.setattr(offline, "mine_phrases", lambda *args, **kwargs: ranked)
    assert backend.build_pool([], 10) == ["moisturizer", "lipsticks", "anti aging", "dog food"]
    assert backend.build_pool([], 2) == ["moisturizer", "lipsticks"]


def test_pnc_answer_is_valid_and_honours_feedback(backend):
    cand_ids = [c["id"] for c in PNC["candidates"]]
    payload = dict(PNC, tries=[])
    first = ask(backend, payload)
    assert set(first) == {"intents", "next_item"}
    assert first["next_item"] in {"c2", "c6"}  # a lip product follows a lip session
    assert 1 <= len(first["intents"]) <= 3 and set(first["intents"]) <= set(POOL)
    assert first["intents"][0] == "lip makeup"

    wrong = []
    answer = first
    for _ in range(len(cand_ids) - 1):
        wrong.append(answer["next_item"])
        payload["tries"].append({**answer, "correct": False})
        answer = ask(backend, payload)
        assert answer["next_item"] in cand_ids and answer["next_item"] not in wrong
        assert answer["intents"] and set(answer["intents"]) <= set(POOL)
    assert sorted(wrong + [answer["next_item"]]) == sorted(cand_ids)  # every candidate tried exactly once


def test_pnc_retry_drops_intent_aligned_with_wrong_item(backend):
    payload = dict(PNC, tries=[{"intents": ["lip makeup"], "next_item": "c2", "correct": False}])
    answer = ask(backend, payload)
    assert "lip makeup" not in answer["intents"] and answer["next_item"] != "c2"


def test_offline_backend_is_deterministic(backend):
    fresh = OfflineBackend({"offline_max_intents": 3}, encoder=TextEncoder())
    for payload in (PNC, dict(PNC, tries=[{"intents": ["lip makeup"], "next_item": "c6", "correct": False}])):
        assert backend.complete("pnc", payload, []).text == fresh.complete("pnc", payload, []).text
    pool_payload = {"domain": "Beauty", "titles": TITLES, "n": 8}
    assert backend.complete("pool", pool_payload, []).text == fresh.complete("pool", pool_payload, []).text


def test_refine_returns_cleaned_title_and_unknown_task_fails(backend):
    reply = backend.complete("refine", {"item_id": "i1", "title": "  Rose &amp; Oud\tEau de Parfum  "}, [])
    assert json.loads(reply.text) == {"text": "Rose & Oud Eau de Parfum"}
    with pytest.raises(ValueError):
        backend.complete("summarise", {}, [])


def test_write_item_embeddings(tmp_path, encoder):
    rows = [("B01", "Matte Lipstick, Red"), ("B02", 'Shampoo "Extra" 12 oz'), ("B03", "Dog Food"), ("B04", "")]
    lines = ["item_id:token\ttitle:token_seq"] + [f"{i}\t{t}" for i, t in rows]
    (tmp_path / "toy.item").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "toy.itememb").write_text("stale\n", encoding="utf-8")  # replaced, not appended to

    path = write_item_embeddings(tmp_path, "toy", encoder)
    assert path == tmp_path / "toy.itememb"
    assert sorted(os.listdir(tmp_path)) == ["toy.item", "toy.itememb"]  # no temp file left behind
    out = path.read_text(encoding="utf-8").splitlines()
    assert out[0] == "iid:token\titem_emb:float_seq" and len(out) == len(rows) + 1
    for (iid, title), line in zip(rows, out[1:], strict=True):
        got_id, floats = line.split("\t")
        vec = np.array([float(x) for x in floats.split(" ")], dtype=np.float32)
        assert got_id == iid and vec.shape == (EMB_DIM,)
        np.testing.assert_allclose(vec, encoder.encode([title])[0], atol=1e-5)
