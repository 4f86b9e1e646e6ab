"""Multi-intent prediction and fusion (VELI4SBR §4.2.1, SPRINT §4.2.1), independent of the backbone."""

import torch
import torch.nn.functional as F
from torch import nn


def threshold_filter(y, tau):
    """phi(x) = x * 1[x > tau] (Eq. 11): keeps the relevance of intents above tau, zero elsewhere."""
    return y * (y > tau).to(y.dtype)


FUSION_RULES = ("tau", "calibrated", "topm")
FUSION_GRADS = ("full", "detach")
INITS = ("normal", "prior")


class IntentPredictor(nn.Module):
    """Query-key-value relevance between a session and every intent of the Global Intent Pool.

    q_S = W_q h_S, k_c = W_k e_c, v_c = W_v e_c (Eq. 8); y_Sc = sigmoid(q_S . k_c) (Eq. 9);
    g_S = Dropout(LayerNorm(h_S + sum_c phi(y_Sc) v_c)), h~_S = h_S + g_S (Eq. 11).

    Options beyond the papers (each off by default, see properties/intent.yaml):
    - ``fusion_rule``: which intents phi passes. ``tau``: y > tau (Eq. 11). ``calibrated``: y_c > factor * prior_c,
      i.e. the predictor holds c ``factor`` times likelier than the label base rate prior_c says; with ~2 % base
      rates a single tau = 0.5 passes almost nothing once y is calibrated. ``topm``: the m highest y_c.
    - ``fusion_grad = detach``: phi sees y_hat without gradient, so L_rec does not train the predictor through the
      fusion (h_S and the values v_c still learn through it); y_hat then learns from L_intent only.
    - ``init = prior``: a per-intent bias b_c, y_Sc = sigmoid(q_S . k_c + b_c), initialised to logit(prior_c), so
      y starts at the base rate instead of 0.5 = tau for every intent (a deviation: Eq. 9 has no bias).
    """

    def __init__(self, n_intents, dim, dropout_prob, tau, fusion_rule="tau", fusion_m=3, fusion_factor=2.0,
                 fusion_grad="full", init="normal", prior=None):
        super().__init__()
        for key, value, allowed in (("intent_fusion_rule", fusion_rule, FUSION_RULES),
                                    ("intent_fusion_grad", fusion_grad, FUSION_GRADS), ("intent_init", init, INITS)):
            if value not in allowed:
                raise ValueError(f"{key} must be one of {allowed}, got {value!r}")
        if fusion_rule == "topm" and not (isinstance(fusion_m, int) and fusion_m >= 1):
            raise ValueError(f"intent_fusion_m must be an integer >= 1, got {fusion_m!r}")
        if fusion_rule == "calibrated" and not (isinstance(fusion_factor, int | float) and fusion_factor > 0):
            raise ValueError(f"intent_fusion_factor must be a number > 0, got {fusion_factor!r}")
        self.tau, self.fusion_rule, self.fusion_grad = tau, fusion_rule, fusion_grad
        self.fusion_m = min(fusion_m, n_intents)
        prior = torch.full((n_intents,), 0.5) if prior is None else prior.float()
        self.register_buffer("threshold", fusion_factor * prior, persistent=False)
        # Randomly initialised intent embeddings E_G (the papers found text initialisation gave no gain).
        self.intent_embedding = nn.Embedding(n_intents, dim)
        self.W_q = nn.Linear(dim, dim, bias=False)
        self.W_k = nn.Linear(dim, dim, bias=False)
        self.W_v = nn.Linear(dim, dim, bias=False)
        self.layer_norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout_prob)
        nn.init.normal_(self.intent_embedding.weight, std=0.02)
        self.bias = nn.Parameter(torch.logit(prior)) if init == "prior" else None

    def logits(self, h):
        """q_S . k_c (+ b_c) [B, |G|]: the logits of Eq. 9, which L_intent takes (BCE in logits form)."""
        keys = self.W_k(self.intent_embedding.weight)
        z = self.W_q(h) @ keys.t()
        return z + self.bias if self.bias is not None else z

    def relevance(self, h):
        """y_hat [B, |G|] in [0, 1] (Eq. 8-9): sigmoid, not softmax, so a session can hold several intents."""
        return torch.sigmoid(self.logits(h))

    def passes(self, y_hat):
        """[B, |G|] bool: the intents phi lets through (Eq. 11 under ``fusion_rule``)."""
        if self.fusion_rule == "tau":
            return y_hat > self.tau
        if self.fusion_rule == "calibrated":
            return y_hat > self.threshold
        top = y_hat.topk(self.fusion_m, dim=-1).indices
        return torch.zeros_like(y_hat, dtype=torch.bool).scatter_(-1, top, True)

    def fuse(self, h, y_hat):
        """h~_S = h_S + Dropout(LayerNorm(h_S + phi(y_hat) V)) (Eq. 11)."""
        values = self.W_v(self.intent_embedding.weight)
        y = y_hat.detach() if self.fusion_grad == "detach" else y_hat
        phi = threshold_filter(y, self.tau) if self.fusion_rule == "tau" else y * self.passes(y).to(y.dtype)
        guidance = self.dropout(self.layer_norm(h + phi @ values))
        return h + guidance

    def forward(self, h, return_logits=False):
        z = self.logits(h)
        y_hat = torch.sigmoid(z)
        h_tilde = self.fuse(h, y_hat)
        return (h_tilde, y_hat, z) if return_logits else (h_tilde, y_hat)

    def orthogonality_loss(self):
        """L_ortho = -1/(|G|(|G|-1)) sum_{i != j} ||e^_i - e^_j||^2 with L2-normalised e^ (SPRINT Eq. 17;
        VELI4SBR's L_decouple). Since ||a - b||^2 = 2 - 2 a.b for unit vectors, the sum is taken in closed form."""
        e = F.normalize(self.intent_embedding.weight, dim=-1)
        n = e.size(0)
        if n < 2:
            return e.new_zeros(())
        cos_sum = (e.sum(0) ** 2).sum() - (e * e).sum()  # sum_{i != j} e^_i . e^_j
        return -(2.0 * n * (n - 1) - 2.0 * cos_sum) / (n * (n - 1))


def intent_bce(logits, y, weight=None):
    """L_intent (Eq. 10): BCE averaged over the pool, then over the rows with weight 1 (sessions with labels).

    Taken in logits form (-y log sigmoid(z) - (1 - y) log(1 - sigmoid(z)), the same value, without a clamp that rounds
    to 1 in half precision, and autocast-safe) and in float32; the row mean is weighted by the mask instead of
    indexed with it, so the loss never waits for the host (no ``mask.any()``, no boolean indexing).
    """
    per_row = F.binary_cross_entropy_with_logits(logits.float(), y.float(), reduction="none").mean(-1)
    if weight is None:
        return per_row.mean()
    weight = weight.to(per_row.dtype)
    return (per_row * weight).sum() / weight.sum().clamp(min=1.0)  # no labelled row: 0, not 0 / 0
