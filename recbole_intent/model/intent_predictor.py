"""Multi-intent prediction and fusion (VELI4SBR §4.2.1, SPRINT §4.2.1), independent of the backbone."""

import torch
import torch.nn.functional as F
from torch import nn


def threshold_filter(y, tau):
    """phi(x) = x * 1[x > tau] (Eq. 11): keeps the relevance of intents above tau, zero elsewhere."""
    return y * (y > tau).to(y.dtype)


class IntentPredictor(nn.Module):
    """Query-key-value relevance between a session and every intent of the Global Intent Pool.

    q_S = W_q h_S, k_c = W_k e_c, v_c = W_v e_c (Eq. 8); y_Sc = sigmoid(q_S . k_c) (Eq. 9);
    g_S = Dropout(LayerNorm(h_S + sum_c phi(y_Sc) v_c)), h~_S = h_S + g_S (Eq. 11).
    """

    def __init__(self, n_intents, dim, dropout_prob, tau):
        super().__init__()
        self.tau = tau
        # Randomly initialised intent embeddings E_G (the papers found text initialisation gave no gain).
        self.intent_embedding = nn.Embedding(n_intents, dim)
        self.W_q = nn.Linear(dim, dim, bias=False)
        self.W_k = nn.Linear(dim, dim, bias=False)
        self.W_v = nn.Linear(dim, dim, bias=False)
        self.layer_norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout_prob)
        nn.init.normal_(self.intent_embedding.weight, std=0.02)

    def relevance(self, h):
        """y_hat [B, |G|] in [0, 1] (Eq. 8-9): sigmoid, not softmax, so a session can hold several intents."""
        keys = self.W_k(self.intent_embedding.weight)
        return torch.sigmoid(self.W_q(h) @ keys.t())

    def fuse(self, h, y_hat):
        """h~_S = h_S + Dropout(LayerNorm(h_S + phi(y_hat) V)) (Eq. 11)."""
        values = self.W_v(self.intent_embedding.weight)
        guidance = self.dropout(self.layer_norm(h + threshold_filter(y_hat, self.tau) @ values))
        return h + guidance

    def forward(self, h):
        y_hat = self.relevance(h)
        return self.fuse(h, y_hat), y_hat

    def orthogonality_loss(self):
        """L_ortho = -1/(|G|(|G|-1)) sum_{i != j} ||e^_i - e^_j||^2 with L2-normalised e^ (SPRINT Eq. 17;
        VELI4SBR's L_decouple). Since ||a - b||^2 = 2 - 2 a.b for unit vectors, the sum is taken in closed form."""
        e = F.normalize(self.intent_embedding.weight, dim=-1)
        n = e.size(0)
        if n < 2:
            return e.new_zeros(())
        cos_sum = (e.sum(0) ** 2).sum() - (e * e).sum()  # sum_{i != j} e^_i . e^_j
        return -(2.0 * n * (n - 1) - 2.0 * cos_sum) / (n * (n - 1))


def intent_bce(y_hat, y, mask):
    """L_intent (Eq. 10): BCE averaged over the pool, then over the rows whose session has labels."""
    if mask is not None and not bool(mask.any()):
        return y_hat.new_zeros(())
    per_row = F.binary_cross_entropy(y_hat.clamp(1e-7, 1 - 1e-7), y, reduction="none").mean(-1)
    return per_row[mask].mean() if mask is not None else per_row.mean()
