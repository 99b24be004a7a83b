r"""What theory says the Gaussian chains (gaussian.py) must do, generation by generation.

Setting. A chain fits a Gaussian to N points, draws N points from its fit, refits, and so on.
Generation 0 fits N points of the real N(0, I_d). A chain's *variance* is the geometric mean
of its covariance's eigenvalues, v = det(Sigma)^(1/d) (the variance itself when d = 1), and
`mean_log_variance` in metrics.csv is the mean of log v over the chains.

1. One refit multiplies the variance by a scaled chi-square (replace).
   Draw x_i = mu + L z_i with Sigma = L L^T and z_i ~ N(0, I_d). The scatter of the x's is
   L S_z L^T, where S_z = sum (z_i - z_bar)(z_i - z_bar)^T ~ Wishart_d(N - 1, I) depends on
   the noise alone, so it is independent of mu, Sigma and every earlier generation. The
   refitted covariance is L S_z L^T / c with c = N - 1 (unbiased) or c = N (mle), hence
       log det Sigma' - log det Sigma = log det S_z - d log c.
   Bartlett's decomposition: det S_z is a product of independent chi-squares with
   N - 1, N - 2, ..., N - d degrees of freedom. For X ~ chi^2_k, E[log X] = psi(k/2) + log 2
   and Var[log X] = psi'(k/2) (psi the digamma function, psi' the trigamma). So each
   generation adds to log v an independent increment with
       mean      delta    = (1/d) sum_{i=1..d} psi((N - i)/2) + log(2/c)
       variance  omega^2  = (1/d^2) sum_{i=1..d} psi'((N - i)/2).
   For d = 1: delta = psi((N-1)/2) + log(2/(N-1)) for the unbiased estimator and
   psi((N-1)/2) + log(2/N) for the mle; omega^2 = psi'((N-1)/2). Both deltas are negative
   (Jensen: E[log X] < log E[X]; for the unbiased estimator E[v'] = v exactly, so the
   variance's mean stays put while its logarithm drifts down and its median goes to 0):
   about -1/(N-1) (unbiased) and -1/(N-1) - 1/N (mle) per generation. Sampling bias scales
   z by `temperature` t, which adds 2 log t to every increment but generation 0's (it fits
   real data, not samples).

2. Over generations. Generation g has taken g + 1 increments (generation 0 fits real data of
   variance 1, log v = 0), all independent and alike, so
       E[log v_g] = (g + 1) delta (+ 2 g log t),   Var[log v_g] = (g + 1) omega^2.
   Chains are independent, so `mean_log_variance` over C chains has expectation
   (g + 1) delta and standard error sqrt((g + 1) omega^2 / C). The tests hold the simulated
   column to this within a few standard errors at several generations; N - 1 or N + 1, or
   the other estimator, moves the expectation by many standard errors at small N.

3. Keeping every sample (accumulate; Gerstgrasser et al. 2024). Generation g fits all
   n = (g + 1) N points: the real ones and every earlier generation's samples. Merging N new
   points, drawn from the current fit (mean M, variance s^2 = W/c(n), W the scatter, d = 1),
   into n points: W' = W + w + (n N / (n + N)) (y_bar - M)^2 with E[w] = (N - 1) s^2 and
   E[(y_bar - M)^2] = s^2 / N, so E[W' | past] = W + s^2 (N - N / (n + N)) and
       E[s'^2 | past] = s^2 (1 - N / ((n + N)(n + N - 1)))   (unbiased, c(n) = n - 1)
       E[s'^2 | past] = s^2 (1 - N / (n + N)^2)               (mle,      c(n) = n).
   The expected variance is therefore a convergent product, with n_k = (k + 1) N,
       E[v_g] = E[v_0] prod_{k=1..g} (1 - N / (n_k c(n_k))),
   and since prod (1 - a_k) >= 1 - sum a_k and N / (n_k c(n_k)) <= 1 / ((k + 1)^2 (N - 1)),
   it never falls below E[v_0] (1 - (pi^2/6 - 1)/(N - 1)): 0.65% under the start for
   N = 100, while replacing loses a factor e^delta in log variance every generation, for
   ever (the bound of Gerstgrasser et al. 2024, here for a Gaussian's variance). E[v_0] is
   1 (unbiased) or (N - 1)/N (mle). Under replace the recursion is E[v'] = v (N - 1)/c, so
   E[v_g] = ((N - 1)/c)^(g + 1): exactly 1 for the unbiased estimator.
"""

from __future__ import annotations

import math
from typing import Literal

from scipy.special import polygamma, psi

Estimator = Literal["unbiased", "mle"]


def divisor(samples: int, estimator: Estimator) -> int:
    """c: what the scatter of `samples` points is divided by."""
    return samples - 1 if estimator == "unbiased" else samples


def log_variance_drift(samples: int, estimator: Estimator, dim: int = 1) -> float:
    """delta: E[log v' - log v] for one refit on `samples` unbiased draws (section 1)."""
    digammas = sum(float(psi((samples - i) / 2)) for i in range(1, dim + 1)) / dim
    return digammas + math.log(2 / divisor(samples, estimator))


def log_variance_step_variance(samples: int, dim: int = 1) -> float:
    """omega^2: Var[log v' - log v] for one refit (section 1)."""
    trigammas = sum(float(polygamma(1, (samples - i) / 2)) for i in range(1, dim + 1))
    return trigammas / dim**2


def expected_mean_log_variance(
    generation: int, samples: int, estimator: Estimator, dim: int = 1, temperature: float = 1.0
) -> float:
    """E[mean_log_variance] at `generation` under replace: (g + 1) delta, plus 2 log t for
    each of the g generations fitted to samples drawn at temperature t (section 2)."""
    drift = log_variance_drift(samples, estimator, dim)
    return (generation + 1) * drift + generation * 2 * math.log(temperature)


def mean_log_variance_standard_error(
    generation: int, samples: int, chains: int, dim: int = 1
) -> float:
    """The standard error of mean_log_variance over `chains` chains (section 2)."""
    return math.sqrt((generation + 1) * log_variance_step_variance(samples, dim) / chains)


def accumulate_variance_floor(samples: int, estimator: Estimator) -> float:
    """The bound of section 3: E[v_g] under accumulate never falls below this, any g."""
    start = 1.0 if estimator == "unbiased" else (samples - 1) / samples
    return start * (1 - (math.pi**2 / 6 - 1) / (samples - 1))


def expected_variance(
    generation: int,
    samples: int,
    estimator: Estimator,
    regime: Literal["replace", "accumulate"],
) -> float:
    """E[v_g] for d = 1, the expectation of mean_variance (section 3)."""
    start = 1.0 if estimator == "unbiased" else (samples - 1) / samples
    if regime == "replace":
        return start * ((samples - 1) / divisor(samples, estimator)) ** generation
    value = start
    for k in range(1, generation + 1):
        total = (k + 1) * samples
        value *= 1 - samples / (total * divisor(total, estimator))
    return value
