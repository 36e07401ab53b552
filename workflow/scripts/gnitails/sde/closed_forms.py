r"""Closed forms for quadratic potentials: where the stationary law sits, exactly.

Notation: f(w) = theta (w - w*)^2 / 2 per coordinate, noise sigma dL with L_1 ~ S1(alpha,
beta, 1, mu) (mu = 0 for S1 increments, -zeta for S0 with the exact shift, where
zeta = beta tan(pi alpha/2); see noise.py), 1 < alpha <= 2. All laws are written in S1,
S1(alpha, beta, gamma, delta1), and converted to S0 by delta0 = delta1 + beta gamma tan(pi alpha/2).

1. **Continuous-time OU.** W_t - w* = e^{-theta t}(W_0 - w*) + int_0^t e^{-theta(t-s)} sigma dL_s.
   Split L_s = L~_s + mu s with L~ strictly stable. A deterministic integral of a strictly
   alpha-stable motion is S1(alpha, beta', (int |g|^alpha)^(1/alpha), 0), beta' = beta
   int sign(g)|g|^alpha / int |g|^alpha (characteristic function of the Riemann sums). With
   g = sigma e^{-theta s} > 0: int_0^inf g^alpha ds = sigma^alpha / (alpha theta), so

       W_inf - w* ~ S1(alpha, beta, sigma (alpha theta)^(-1/alpha), sigma mu / theta).

   S1 increments (mu = 0): mean = w*, **no mean bias**; the S0 location, near the mode, is
   w* + beta gamma tan(pi alpha/2): for 1 < alpha < 2 and beta > 0 it lies *below* w* (the
   heavy right tail pulls the mean up to w*, the bulk sits left of it).

2. **Euler scheme, exact.** W_{k+1} - w* = q (W_k - w*) + r (m Z_k + a), Z_k ~ S1(alpha, beta,
   1, 0) i.i.d., m = sigma h^(1/alpha), a = (per-step noise mean) = sigma mu h (S0 with
   shift), 0 (S1) or -m zeta (S0 per step); explicit: q = 1 - h theta, r = 1; drift-implicit:
   q = r = 1/(1 + h theta). Unrolling n steps from W_0 = w0:

       W_n - w* = q^n (w0 - w*) + r sum_{k<n} q^k (m Z_k + a)
               ~ S1(alpha, beta_n, r m (sum |q|^{k alpha})^(1/alpha), q^n (w0-w*) + r a sum q^k),

   beta_n = beta sum sign(q^k)|q|^{k alpha} / sum |q|^{k alpha} (= beta when q >= 0); needs
   |q| < 1. As n -> inf the scale is r m (1 - |q|^alpha)^(-1/alpha), which tends to
   sigma (alpha theta)^(-1/alpha) as h -> 0, and the location offset r a / (1 - q) equals
   a / (h theta) for both schemes.

3. **SGD form.** w <- w - eta (theta (w - w*) + Z), Z ~ S0(alpha, beta, s, 0) i.i.d. (the
   authors' injected noise). Taking expectations at stationarity (alpha > 1):
   theta (E w - w*) = -E Z = beta s tan(pi alpha/2), so

       E w = w* + beta s tan(pi alpha/2) / theta,

   a mean bias of order s that does not vanish as eta -> 0. In the SDE notation this is the
   "S0_per_step" increment with sigma = eta^(1 - 1/alpha) s and skewness -beta (the update
   subtracts Z). More generally, for any potential and either Euler scheme, stationarity of
   E W gives E grad f(W) = a / h, the noise mean per unit time.

4. **Mode and median** of S1(alpha, beta, gamma, delta1) are delta0 + gamma m0(alpha, beta)
   and delta0 + gamma q0(alpha, beta), with m0, q0 the mode and median of the standard
   S0(alpha, beta, 1, 0) law, computed numerically (scipy's pdf/cdf, cached). 0 at alpha = 2.

5. **E f(W) - f(w*)** = theta/2 E (W - w*)^2 is infinite for alpha < 2 (stable laws have no
   second moment), and theta/2 (2 gamma^2 + delta^2) at alpha = 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from .validate import check_alpha, check_beta, check_count, check_positive


def tan_half_pi_alpha(alpha: float) -> float:
    """tan(pi alpha/2), exactly 0 at alpha = 2 (no S0/S1 shift for the Gaussian)."""
    return 0.0 if alpha == 2.0 else math.tan(math.pi * alpha / 2)


@lru_cache(maxsize=512)
def _standard_s0(alpha: float, beta: float) -> tuple[float, float, float, float]:
    """(mode, median, q_0.25, q_0.75) of S0(alpha, beta, 1, 0)."""
    if alpha == 2.0:  # N(0, 2)
        q = 0.6744897501960817 * math.sqrt(2)
        return 0.0, 0.0, -q, q
    from scipy import optimize
    from scipy.stats import levy_stable

    old = levy_stable.parameterization
    levy_stable.parameterization = "S0"  # global state, read when freezing: set, then restore
    try:
        dist = levy_stable(alpha, beta)
        z = tan_half_pi_alpha(alpha) * beta
        lo, hi = min(-1.0, -2 * abs(z)), max(1.0, 2 * abs(z))
        res = optimize.minimize_scalar(
            lambda x: -dist.pdf(x), bounds=(lo, hi), method="bounded", options={"xatol": 1e-7}
        )
        quant = [
            optimize.brentq(lambda x, p=p: dist.cdf(x) - p, -60, 60, xtol=1e-9)
            for p in (0.5, 0.25, 0.75)
        ]
    finally:
        levy_stable.parameterization = old
    if beta == 0:  # symmetric: exact zeros, not the optimiser's tolerance
        return 0.0, 0.0, -float(quant[2]), float(quant[2])
    return float(res.x), *map(float, quant)


def standard_s0_mode(alpha: float, beta: float) -> float:
    """Mode of the standard S0(alpha, beta, 1, 0) law."""
    return _standard_s0(float(alpha), float(beta))[0]


def standard_s0_median(alpha: float, beta: float) -> float:
    """Median of the standard S0(alpha, beta, 1, 0) law."""
    return _standard_s0(float(alpha), float(beta))[1]


def standard_iqr(alpha: float, beta: float) -> float:
    """Interquartile range of the standard law (scale 1): turns an IQR into a scale estimate."""
    _, _, q1, q3 = _standard_s0(float(alpha), float(beta))
    return q3 - q1


@dataclass(frozen=True)
class StableLaw:
    """S1(alpha, beta, scale, loc) with 1 < alpha <= 2, and its location summaries."""

    alpha: float
    beta: float
    scale: float
    loc: float  # S1 location = mean

    @property
    def mean(self) -> float:
        return self.loc

    @property
    def s0_loc(self) -> float:
        return self.loc + self.beta * self.scale * tan_half_pi_alpha(self.alpha)

    @property
    def mode(self) -> float:
        return self.s0_loc + self.scale * standard_s0_mode(self.alpha, self.beta)

    @property
    def median(self) -> float:
        return self.s0_loc + self.scale * standard_s0_median(self.alpha, self.beta)

    def second_moment_about(self, c: float) -> float:
        """E (X - c)^2: infinite unless alpha = 2, where X ~ N(loc, 2 scale^2)."""
        if self.alpha < 2:
            return math.inf
        return 2 * self.scale**2 + (self.loc - c) ** 2


def ou_stationary(alpha, beta, sigma, theta, center=0.0, drift=0.0) -> StableLaw:
    """Stationary law of dW = -theta (W - center) dt + sigma dL + drift dt (continuous time).

    ``drift`` is the noise mean per unit time, sigma mu (see noise.drift_per_time).
    """
    alpha, beta = check_alpha(alpha), check_beta(beta)
    sigma, theta = check_positive("sigma", sigma), check_positive("theta", theta)
    return StableLaw(alpha, beta, sigma * (alpha * theta) ** (-1 / alpha), center + drift / theta)


def euler_ou_law(
    alpha,
    beta,
    sigma,
    theta,
    step,
    *,
    center=0.0,
    step_mean=0.0,
    n_steps: int | None = None,
    w0=None,
    scheme: str = "euler",
) -> StableLaw:
    """Exact law of the Euler iterate after ``n_steps`` from ``w0`` (None: stationary).

    ``step_mean`` is the mean of one step's noise increment (noise.increment_affine()[1]).
    """
    alpha, beta = check_alpha(alpha), check_beta(beta)
    sigma, theta = check_positive("sigma", sigma), check_positive("theta", theta)
    step = check_positive("step", step)
    if scheme == "euler":
        q, r = 1 - step * theta, 1.0
    elif scheme == "implicit":
        q = r = 1 / (1 + step * theta)
    else:
        raise ValueError(f"scheme must be 'euler' or 'implicit', got {scheme!r}")
    if abs(q) >= 1:
        raise ValueError(f"Euler step {step} with theta {theta} diverges: |1 - step*theta| >= 1")
    qa = abs(q) ** alpha
    if n_steps is None:  # sums over k of |q|^(k alpha), sign(q^k)|q|^(k alpha) and q^k
        mass, geo, lead = 1 / (1 - qa), 1 / (1 - q), 0.0
        signed = 1 / (1 + qa) if q < 0 else mass
    else:
        n = check_count("n_steps", n_steps, minimum=0)
        mass = (1 - qa**n) / (1 - qa)
        signed = (1 - (-qa) ** n) / (1 + qa) if q < 0 else mass
        geo = (1 - q**n) / (1 - q)
        lead = q**n * ((center if w0 is None else float(w0)) - center)
    beta_n = beta * signed / mass if mass > 0 else beta
    scale = r * sigma * step ** (1 / alpha) * mass ** (1 / alpha)
    return StableLaw(alpha, beta_n, scale, center + lead + r * step_mean * geo)


def sgd_stationary_mean(alpha, beta, s, theta, center=0.0) -> float:
    """E w at stationarity of w <- w - eta (theta (w - center) + Z), Z ~ S0(alpha, beta, s, 0)."""
    alpha, beta = check_alpha(alpha), check_beta(beta)
    s, theta = check_positive("s", s), check_positive("theta", theta)
    return center + beta * s * tan_half_pi_alpha(alpha) / theta


__all__ = [
    "StableLaw",
    "euler_ou_law",
    "ou_stationary",
    "sgd_stationary_mean",
    "standard_iqr",
    "standard_s0_median",
    "standard_s0_mode",
    "tan_half_pi_alpha",
]
