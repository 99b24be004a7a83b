"""The Vendi score (Friedman and Dieng, TMLR 2023): how many distinct things a set still is.

For n samples with a similarity kernel K (K_ii = 1), the Vendi score is the exponential of the
Shannon entropy of the eigenvalues of K/n: n for n unrelated samples, 1 for n copies of one
sample. Late collapse, where a generator's samples crowd onto a few modes, shows as this
"effective number of distinct samples" falling.

The kernel is the cosine similarity of feature vectors, K = X X^T for the rows of X scaled to
unit length. The non-zero eigenvalues of X X^T / n are those of the d x d matrix X^T X / n,
so the score costs O(n d^2) time and O(d^2) memory instead of an n x n matrix's O(n^2) memory
and O(n^3) eigendecomposition. A zero feature vector stays zero, as in the `vendi-score`
package (its row of K is zero, so it adds no eigenvalue).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

# Rows of X accumulated into X^T X at once: bounds the float64 copy held in memory.
_ROWS = 16384


def vendi_score(features: Tensor) -> float:
    """exp(entropy of the eigenvalues of K/n), K the cosine-similarity kernel of the rows of
    `features` [n, d], computed in float64 through the d x d matrix."""
    if features.dim() != 2 or len(features) == 0:
        raise ValueError(f"a Vendi score needs features [n, d] with n >= 1, got {features.shape}")
    count, dim = features.shape
    gram = torch.zeros(dim, dim, dtype=torch.float64, device=features.device)
    for block in features.split(_ROWS):
        rows = block.double()
        norms = rows.norm(dim=1, keepdim=True)
        rows = rows / torch.where(norms > 0, norms, 1.0)
        gram += rows.T @ rows
    eigenvalues = torch.linalg.eigvalsh(gram / count)
    # Rounding leaves the zero eigenvalues at about +-1e-17; they carry no entropy.
    positive = eigenvalues[eigenvalues > 0]
    entropy = float(-(positive * positive.log()).sum())
    return math.exp(entropy)
