"""Collaborative intent enrichment under RecBole's distributed training: one enrichment's cost for N ranks.

Under RecBole's ``DistributedDataParallel`` every rank holds the same parameters (broadcast from rank 0 at start,
gradients averaged at every step). Enrichment (VELI4SBR Algorithm 2, Eq. 14-16; SPRINT Eq. 11-14) needs h_S of
every training session; run as it is on each rank, every rank would encode all of them for the same result. Here:
- each rank encodes a contiguous share of the sessions, whole enrichment batches of ``train_batch_size`` rows,
  and computes their relevance y_hat (Eq. 9) (``encode_sharded``);
- one ``all_gather`` assembles h [N, d] and y_hat [N, |G|] in session order on every rank;
- the neighbours (Eq. 14 / SPRINT Eq. 12) and Eq. 15-16 are then computed from those same tensors by every rank,
  so all ranks hold identical labels by construction, and DDP does not re-send them at each step (``compat``
  fix 3);
- the random choices of enrichment (SPRINT's random partition of the sessions into batches, IVF's k-means sample)
  come from ``enrichment_generator(seed, epoch)``, the same on every rank and in one process, whereas the global
  RNG differs per rank (RecBole seeds rank r with ``seed + r``).
Without an initialised process group every function here is the one-process computation.
"""

import torch
import torch.distributed as dist


def rank_and_world_size():
    """(rank, world size) of this process; (0, 1) outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def shard_rows(n, batch_size, rank, world_size):
    """Rows [start, stop) that ``rank`` encodes: ceil(n_batches / world_size) whole batches of ``batch_size``.

    Batches start at multiples of ``batch_size`` as in one process, so a session meets the same batch-mates."""
    n_batches = -(-n // batch_size)
    rows_per_rank = -(-n_batches // world_size) * batch_size
    return min(n, rank * rows_per_rank), min(n, (rank + 1) * rows_per_rank)


@torch.no_grad()
def encode_sharded(encode, n, batch_size):
    """(h [n, d], y_hat [n, |G|]) of all n training sessions, in order, on every rank.

    ``encode(rows)`` gives (h, y_hat) of the session rows ``rows`` (all of them for ``None``: the one-process path,
    unchanged). Under a process group each rank encodes only its ``shard_rows`` share, then one all_gather of
    n x (d + |G|) values assembles the rest, so the n sessions are encoded once in all, not once per rank."""
    rank, world_size = rank_and_world_size()
    if world_size == 1:
        return encode(None)
    start, stop = shard_rows(n, batch_size, rank, world_size)
    # an empty share (more ranks than batches) still encodes one row, to learn d, |G| and the dtype
    h, y_hat = encode(torch.arange(start, stop, device=_device()) if stop > start else
                      torch.zeros(1, dtype=torch.long, device=_device()))
    if stop <= start:
        h, y_hat = h[:0], y_hat[:0]
    rows_per_rank = shard_rows(n, batch_size, 0, world_size)[1]
    dim = h.size(1)
    # one buffer [world * rows_per_rank, d + |G|]: shards are contiguous and only the last ones are short, so
    # its first n rows are the sessions in order
    out = h.new_zeros(world_size * rows_per_rank, dim + y_hat.size(1))
    local = out.new_zeros(rows_per_rank, out.size(1))  # all_gather needs equal sizes on every rank
    local[: h.size(0), :dim], local[: h.size(0), dim:] = h, y_hat
    dist.all_gather(list(out.chunk(world_size)), local)
    return out[:n, :dim], out[:n, dim:]


def _device():
    """The device of this rank's collectives: its GPU under nccl, the CPU under gloo."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def enrichment_generator(seed, epoch):
    """A CPU generator for the random choices of enrichment at ``epoch``: the same stream on every rank."""
    generator = torch.Generator()
    generator.manual_seed(int(seed) * 1_000_003 + int(epoch))
    return generator

