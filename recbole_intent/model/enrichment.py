"""Collaborative intent enrichment (VELI4SBR §4.2.2 Eq. 13-16; SPRINT §4.2.2 Eq. 11-14).

Neighbours N(S) are the top-K sessions by cosine similarity of session representations h_S, S' != S:
- ``global`` (VELI4SBR Eq. 14): over all training sessions. Computed in row chunks, so memory is
  O(chunk * N + N * K) instead of the O(N^2) similarity matrix.
- ``batch`` (SPRINT Eq. 12): within mini-batches of sessions (a random partition of the training sessions into
  batches of ``batch_size``). Cost O(N * B) instead of O(N^2).
- ``global`` with ``search="ivf"`` (ours, not in the papers): an inverted-file index (k-means into ~sqrt(N)
  cells; each cell searches its ``nprobe`` nearest cells), approximate top-K in roughly O(N sqrt(N) nprobe d) for
  10^6 sessions; its recall against the exact search is measured by benchmarks/bench_enrichment_scale.py.
Weights are a softmax over the neighbours' similarities (footnote of Eq. 15), and the enriched label is
y^(t)_S = 1/2 (y_hat_S + y_hat^nbr_S) (Eq. 16). ``mode`` selects the ablations of SPRINT Table 5:
``both`` (the papers), ``self`` (y_hat_S only) and ``nbr`` (y_hat^nbr_S only).

Memory: ``memory_bytes`` bounds the temporaries of the exact search and of the label mixing (the chunk sizes are
computed from it, |G| and K included); the N-row tables themselves (h, y_hat, the neighbours, the labels) are not
temporaries. The IVF search is not budgeted (its blocks are ~nprobe * N similarities).
"""

import torch
import torch.nn.functional as F

MODES = ("both", "self", "nbr")
SCOPES = ("global", "batch")
SEARCHES = ("exact", "ivf")
IVF_MIN_SESSIONS = 16384
DEFAULT_MEMORY_BYTES = 2**27  # 128 MB, the old fixed block of 2^25 float32 similarities


def rows_per_chunk(memory_bytes, bytes_per_row):
    """How many rows fit a temporary budget (at least one: a single row is the smallest unit of work)."""
    return max(1, int((memory_bytes or DEFAULT_MEMORY_BYTES) // max(bytes_per_row, 1)))


@torch.no_grad()
def topk_neighbours(h, k, scope="global", batch_size=2048, chunk_size=None, generator=None, search="exact",
                    nprobe=8, ivf_min_sessions=IVF_MIN_SESSIONS, memory_bytes=None):
    """Indices [N, k] and cosine similarities [N, k] of each session's k nearest other sessions.

    ``chunk_size`` rows are compared with all N (or with their mini-batch) at a time; by default as many as
    ``memory_bytes`` allows: a row costs its similarities and topk's copy of them, plus k values and indices.
    """
    if scope not in SCOPES:
        raise ValueError(f"enrich_scope must be one of {SCOPES}, got {scope!r}")
    if search not in SEARCHES:
        raise ValueError(f"enrich_search must be one of {SEARCHES}, got {search!r}")
    n = h.size(0)
    width = min(batch_size, n) if scope == "batch" else n
    members = width * h.size(1) * h.element_size() if scope == "batch" else 0  # the batch's own copy of h
    chunk_size = chunk_size or rows_per_chunk((memory_bytes or DEFAULT_MEMORY_BYTES) - members,
                                              2 * width * h.element_size() + k * 16)
    if scope == "batch":
        return _batch_neighbours(h, k, batch_size, generator, chunk_size)
    if search == "ivf" and n > ivf_min_sessions:  # small sets: the exact search is as fast
        return _ivf_neighbours(h, k, nprobe, generator)
    k = min(k, n - 1)
    hn = F.normalize(h, dim=-1)
    idx = torch.empty(n, k, dtype=torch.long, device=h.device)
    sim = torch.empty(n, k, dtype=h.dtype, device=h.device)
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        s = hn[start:stop] @ hn.t()
        rows = torch.arange(stop - start, device=h.device)
        s[rows, rows + start] = -float("inf")  # S' != S
        sim[start:stop], idx[start:stop] = s.topk(k, dim=-1)
    return idx, sim


def _batch_neighbours(h, k, batch_size, generator, chunk_size):
    n = h.size(0)
    perm = torch.randperm(n, generator=generator).to(h.device)
    k = min(k, max(min(batch_size, n) - 1, 0))
    idx = torch.empty(n, k, dtype=torch.long, device=h.device)
    sim = torch.empty(n, k, dtype=h.dtype, device=h.device)
    hn = F.normalize(h, dim=-1)
    for start in range(0, n, batch_size):
        members = perm[start:start + batch_size]
        kk = min(k, members.numel() - 1)
        hm = hn[members]
        for first in range(0, members.numel(), chunk_size):  # rows of the batch in chunks: bounded memory
            rows = members[first:first + chunk_size]
            s = hm[first:first + chunk_size] @ hm.t()
            local = torch.arange(rows.numel(), device=h.device)
            s[local, local + first] = -float("inf")  # S' != S
            top_sim, top_pos = s.topk(kk, dim=-1)
            # A last, smaller batch may offer fewer than k neighbours: repeat its best one with weight parity kept
            # by the softmax (duplicates only re-weight among the same few neighbours).
            if kk < k:
                top_sim = torch.cat([top_sim, top_sim[:, :1].expand(-1, k - kk)], dim=1)
                top_pos = torch.cat([top_pos, top_pos[:, :1].expand(-1, k - kk)], dim=1)
            idx[rows], sim[rows] = members[top_pos], top_sim
    return idx, sim


def _kmeans(x, n_cells, iters, generator):
    """Spherical k-means on unit vectors (a sample suffices for the centroids)."""
    sample = x[torch.randperm(x.size(0), generator=generator)[: 64 * n_cells].to(x.device)]
    centroids = sample[: n_cells].clone()
    for _ in range(iters):
        assign = (sample @ centroids.t()).argmax(1)
        sums = torch.zeros_like(centroids).index_add_(0, assign, sample)
        empty = sums.norm(dim=1) == 0
        centroids = torch.where(empty.unsqueeze(1), centroids, F.normalize(sums, dim=-1))
    return centroids


def _ivf_neighbours(h, k, nprobe, generator, iters=10):
    n = h.size(0)
    hn = F.normalize(h, dim=-1)
    n_cells = max(1, int(n ** 0.5))
    centroids = _kmeans(hn, n_cells, iters, generator)
    assign = torch.cat([(hn[s:s + 65536] @ centroids.t()).argmax(1) for s in range(0, n, 65536)])
    order = torch.argsort(assign)
    counts = torch.bincount(assign, minlength=n_cells)
    starts = torch.cumsum(counts, 0) - counts
    probes = (centroids @ centroids.t()).topk(min(nprobe, n_cells), dim=1).indices  # includes the cell itself
    idx = torch.empty(n, k, dtype=torch.long, device=h.device)
    sim = torch.full((n, k), -float("inf"), dtype=h.dtype, device=h.device)
    for cell in range(n_cells):
        if counts[cell] == 0:
            continue
        queries = order[starts[cell]: starts[cell] + counts[cell]]
        cand = torch.cat([order[starts[c]: starts[c] + counts[c]] for c in probes[cell].tolist()])
        s = hn[queries] @ hn[cand].t()
        s[queries.unsqueeze(1) == cand.unsqueeze(0)] = -float("inf")  # S' != S
        kk = min(k, cand.numel())
        top_sim, top_pos = s.topk(kk, dim=1)
        sim[queries, :kk], idx[queries, :kk] = top_sim, cand[top_pos]
        if kk < k:  # too few candidates: repeat the best one (only re-weights the same neighbour)
            sim[queries, kk:], idx[queries, kk:] = top_sim[:, :1], cand[top_pos[:, :1]]
    return idx, sim


@torch.no_grad()
def enrich_labels(y_hat, idx, sim, mode="both", chunk_size=None, memory_bytes=None, out=None, keep=None):
    """y^(t) from the predictions y_hat [N, |G|] and the neighbours (Eq. 15-16), in chunks of sessions.

    A chunk row costs its K gathered neighbour rows and three |G| rows (y_nbr, the mix, the kept values), so the
    default chunk keeps that under ``memory_bytes``. ``out``: the table to write into (a new one by default);
    ``keep`` [N] bool: rows of ``out`` left as they are.
    """
    if mode not in MODES:
        raise ValueError(f"enrich_mode must be one of {MODES} or 'none', got {mode!r}")
    out = torch.empty_like(y_hat) if out is None else out
    n, n_intents = y_hat.shape
    chunk_size = chunk_size or rows_per_chunk(memory_bytes, (idx.size(1) + 3) * n_intents * y_hat.element_size())
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        if mode == "self" or idx.size(1) == 0:
            new = y_hat[start:stop].clone()
        else:
            w = torch.softmax(sim[start:stop], dim=-1)  # w_S' = exp(sim_S') / sum exp(sim_S'')
            y_nbr = torch.einsum("nk,nkc->nc", w, y_hat[idx[start:stop]])  # Eq. 15
            new = y_nbr if mode == "nbr" else y_nbr.add_(y_hat[start:stop]).mul_(0.5)  # Eq. 16
        new.clamp_(0.0, 1.0)  # softmax weights sum to 1 only up to rounding (1.0000001 breaks BCE targets)
        if keep is not None:
            new = torch.where(keep[start:stop].unsqueeze(1), out[start:stop], new)
        out[start:stop] = new
    return out
