"""CMS sampler against scipy's levy_stable cdf, closed forms, the exact tails and NaN traps."""

import math

import numpy as np
import pytest
from scipy import special, stats
from scipy.stats import levy_stable

from gnitails.stable import rvs, sample, to_s0
from gnitails.stable.cms import REFINE, Streams, Workspace, cms_law, s1_numpy, z_from_ends

N = 60_000
PROBS = np.linspace(0.04, 0.96, 24)


def chi2_pvalue(x, cdf):
    """Chi-square test of x against `cdf` on bins cut at the sample's quantiles."""
    edges = np.quantile(x, PROBS)
    p = np.diff(np.concatenate([[0.0], cdf(edges), [1.0]]))
    counts = np.bincount(np.searchsorted(edges, x), minlength=edges.size + 1)
    return stats.chisquare(counts, p * x.size).pvalue


CASES = [
    # alpha, beta, scale, loc, parametrization, dtype
    (2.0, 0.0, 1.0, 0.0, "S1", np.float64),
    (2.0, 0.7, 0.5, 1.0, "S0", np.float32),
    (1.0, 0.0, 1.0, 0.0, "S1", np.float64),
    (1.0, 1.0, 2.0, 0.5, "S1", np.float64),
    (1.0, -1.0, 1.0, 0.0, "S0", np.float32),
    (1.5, 1.0, 1.0, 0.0, "S1", np.float32),
    (1.5, -0.5, 3.0, -2.0, "S1", np.float64),
    (1.8, 0.5, 1.0, 0.0, "S0", np.float32),
    (1.2, -1.0, 0.7, 0.0, "S1", np.float64),
    (0.7, 0.3, 1.0, 1.0, "S1", np.float64),
    (0.5, -1.0, 1.0, 0.0, "S0", np.float64),
    (1.05, 0.8, 1.0, 0.0, "S1", np.float32),  # near alpha = 1: float64 inside
]


@pytest.mark.parametrize(("alpha", "beta", "scale", "loc", "par", "dtype"), CASES)
def test_sampler_matches_scipy_cdf(alpha, beta, scale, loc, par, dtype):
    x = sample(alpha, beta, scale, loc, N, parametrization=par, dtype=dtype, seed=11)
    assert x.dtype == dtype and x.shape == (N,)
    assert np.isfinite(x).all()
    old = levy_stable.parameterization
    try:
        levy_stable.parameterization = par
        pv = chi2_pvalue(x.astype(float), lambda q: levy_stable.cdf(q, alpha, beta, loc, scale))
    finally:
        levy_stable.parameterization = old
    assert pv > 1e-3, f"sample does not follow S({alpha}, {beta}) in {par}: p = {pv:.2g}"


def test_alpha_two_is_normal_with_variance_two_scale_squared():
    x = sample(2.0, 0.3, 1.5, -1.0, 200_000, seed=3)
    assert stats.kstest(x, stats.norm(-1.0, np.sqrt(2) * 1.5).cdf).pvalue > 1e-3
    assert x.var() == pytest.approx(2 * 1.5**2, rel=0.02)


def test_s0_and_s1_describe_the_same_draws():
    a, b, g, d = 1.4, 0.6, 2.0, 0.5
    x1 = sample(a, b, g, d, 1000, seed=5)
    x0 = sample(a, b, g, to_s0(a, b, g, d), 1000, seed=5, parametrization="S0")
    np.testing.assert_allclose(x0, x1, rtol=1e-12, atol=1e-12)


def test_seeded_deterministic_and_thread_invariant():
    a = sample(1.5, 0.5, size=100_000, seed=7, threads=1)
    b = sample(1.5, 0.5, size=100_000, seed=7, threads=2)
    c = sample(1.5, 0.5, size=100_000, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    g1 = sample(1.5, 0.5, size=10, seed=np.random.default_rng(1))
    g2 = sample(1.5, 0.5, size=10, seed=np.random.default_rng(1))
    np.testing.assert_array_equal(g1, g2)
    assert sample(1.1, 0.0, size=(3, 4), seed=0).shape == (3, 4)
    assert sample(1.1, 0.0, size=0, seed=0).shape == (0,)


class Pinned:
    """Stand-in for a numpy Generator whose ``random`` returns one fixed value."""

    def __init__(self, value):
        self.value = value

    def random(self, size=None, dtype=np.float64, out=None):
        if out is None:
            return np.full(size, self.value, dtype=dtype)
        out[...] = self.value
        return out


class DeepStreams(Streams):
    """Streams whose first ``depth`` refinement levels of V return 0: V lands within
    pi 2^(-20 (depth + 1)) of its end, where the next level draws it uniformly."""

    def __init__(self, v, w, depth):
        super().__init__(v, w, (np.random.SeedSequence(1), np.random.SeedSequence(2)))
        self.depth = depth

    def level(self, kind, i):
        return Pinned(0.0) if kind == 0 and i < self.depth else super().level(kind, i)


def kernel(alpha, beta, n, v, w, dtype=np.float32, depth=0):
    """n standard S1 variates, V's uniform from generator ``v`` and W's from ``w``."""
    out = np.empty(n, dtype)
    law = cms_law(alpha, beta)
    return s1_numpy(DeepStreams(v, w, depth), n, law, 1.0, 0.0, out, Workspace(n, dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("alpha", "beta"), [(1.5, 0.5), (0.8, -1.0), (1.0, 1.0), (2.0, 0.0)])
def test_no_nan_at_interval_ends(dtype, alpha, beta):
    """U at either end of its grid for V (V = -+pi/2) and for W (W = 0 or its largest)."""
    last = 1 - np.finfo(np.float64).eps / 2
    with np.errstate(all="raise"):  # the kernel silences the 0 and inf it expects itself
        for u_v in (0.0, last):
            for u_w in (0.0, 1 - np.finfo(dtype).eps / 2):
                z = kernel(alpha, beta, 4, Pinned(u_v), Pinned(u_w), dtype)
                assert not np.isnan(z).any(), (u_v, u_w, z)
    e = np.array([1e-300, 2.0**-54, 1e-9, 0.5])
    with np.errstate(invalid="raise", over="ignore", divide="ignore"):  # 1e-300 gives +-inf
        for side in (1.0, -1.0):
            assert not np.isnan(z_from_ends(cms_law(alpha, beta), side, e, np.ones(4))).any()


def pareto_stratum_sf(z, alpha, k, eps):
    """P(Z > z) given V's end distance e ~ U(0, eps), when Z = k e^(-1/alpha) W^((alpha-1)/alpha)
    (the CMS formula to first order in e), W ~ Exp(1): closed form via incomplete gammas."""
    c = k**alpha / eps
    w_star = (z**alpha / c) ** (1 / (alpha - 1))  # c W^(alpha-1) z^-alpha = 1 there
    tail = c * z**-alpha * math.gamma(alpha)
    if alpha > 1:
        return tail * special.gammainc(alpha, w_star) + np.exp(-w_star)
    return -np.expm1(-w_star) + tail * special.gammaincc(alpha, w_star)


@pytest.mark.parametrize(("alpha", "beta", "side"), [(1.1, 1.0, 1), (1.5, -1.0, -1), (0.7, 0.5, 1)])
def test_kernel_is_exact_far_beyond_any_uniform_grid(alpha, beta, side):
    """Draws with V within pi 2^-60 of its heavy end follow the law's tail there.

    V's uniform is pinned to the last cell of its grid and the first two refinement levels to
    0, so every draw has e ~ U(0, 2^-60) from the third level (P(V that close) = 2^-59: no
    sample could reach it, and no uniform grid does: float32's ends at 2^-25, float64's at
    2^-54). To first order in e (error ~1e-18 here), Z = k e^(-1/alpha) W^((alpha-1)/alpha),
    whose conditional law is closed form: a Kolmogorov-Smirnov test against it. A kernel fed
    grid uniforms fails it already at 2^-20, where float32's grid has 16 cells: the old
    float32 sampler gave KS p = 6e-82, 2e-23 and 4e-40 on these three cells there.
    """
    law = cms_law(alpha, beta)
    i = 0 if side > 0 else 1
    k = law.s * law.sin_p[i] * abs(law.cos_q[i]) ** ((1 - alpha) / alpha) * math.pi ** (-1 / alpha)
    u_end = 1 - np.finfo(np.float64).eps / 2 if side > 0 else 0.0
    n = 50_000
    rng = np.random.default_rng(5)
    z = kernel(alpha, beta, n, Pinned(u_end), rng, np.float64, depth=2) * np.sign(k)
    assert np.all(z > 0) and np.isfinite(z).all()
    ks = stats.kstest(z, lambda q: 1 - pareto_stratum_sf(q, alpha, abs(k), REFINE[8] ** 3))
    assert ks.pvalue > 1e-3, f"KS distance {ks.statistic:.4f} in the tail stratum"


MEAN_N = {"numpy": 10_000_000, "torch": 1_000_000}  # torch on CPU is ~10x slower


@pytest.mark.parametrize(
    ("alpha", "beta", "dtype", "backend"),
    [
        (1.1, 1.0, np.float32, "numpy"),
        (1.1, -1.0, np.float32, "numpy"),
        (1.2, 1.0, np.float32, "numpy"),
        (1.2, -1.0, np.float32, "numpy"),
        (1.5, 1.0, np.float32, "numpy"),
        (1.5, -1.0, np.float32, "numpy"),
        (1.1, 1.0, np.float64, "numpy"),
        (1.2, -1.0, np.float32, "torch"),
    ],
)
def test_sample_mean_follows_the_law_of_the_mean(alpha, beta, dtype, backend):
    """The mean of n S1(alpha, beta, 1, 0) draws is exactly S1(alpha, beta, n^(1/alpha - 1), 0).

    Strict stability gives the law of the sample mean itself, so the band is its 1e-4 and
    1 - 1e-4 quantiles (a false alarm 2e-4 of the time), with no moment assumption. It catches a
    wrong location (S0 instead of S1 shifts the mean by beta tan(pi alpha/2), e.g. -6.3 at 1.1)
    or sign of beta. It cannot see a tail cut at probability p << 1/n: the old float32 grid
    (E Z = -1.15 at (1.1, 1)) moved the mean only in draws that land in its last cell, which 1e7
    draws reach with probability < 0.5; test_kernel_is_exact_far_beyond_any_uniform_grid does.
    """
    if backend == "torch":
        pytest.importorskip("torch")
    n = MEAN_N[backend]
    x = sample(alpha, beta, 1.0, 0.0, n, dtype=dtype, seed=2021, backend=backend)
    mean = float(x.double().mean()) if backend == "torch" else float(x.mean(dtype=np.float64))
    old = levy_stable.parameterization
    try:
        levy_stable.parameterization = "S1"
        lo, hi = levy_stable.ppf([1e-4, 1 - 1e-4], alpha, beta) * n ** (1 / alpha - 1)
    finally:
        levy_stable.parameterization = old
    assert lo < mean < hi, f"sample mean {mean:.4g} outside [{lo:.4g}, {hi:.4g}]"


def test_rvs_follows_scipy_argument_order():
    """rvs(alpha, beta, loc, scale, size, random_state) is sample(alpha, beta, scale, loc, ...)."""
    x = rvs(1.5, 0.5, 3.0, 0.5, size=1000, random_state=4)
    np.testing.assert_array_equal(x, sample(1.5, 0.5, 0.5, 3.0, 1000, seed=4))
    y = rvs(1.5, 0.5, loc=3.0, scale=0.5, size=(2, 3), random_state=np.random.default_rng(1))
    assert y.shape == (2, 3)
    assert isinstance(rvs(1.5, 0.5), float)
    r1 = rvs(1.2, 0.0, size=5, random_state=np.random.RandomState(3))
    r2 = rvs(1.2, 0.0, size=5, random_state=np.random.RandomState(3))
    np.testing.assert_array_equal(r1, r2)
    # scipy's law with the same arguments (loc 3, scale 0.5): its cdf at a few points
    x = rvs(1.5, 0.5, 3.0, 0.5, size=40000, random_state=1)
    q = np.array([2.0, 2.8, 3.0, 3.3, 4.5])
    old = levy_stable.parameterization
    try:
        levy_stable.parameterization = "S1"
        cdf = levy_stable.cdf(q, 1.5, 0.5, loc=3.0, scale=0.5)
    finally:
        levy_stable.parameterization = old
    ecdf = (x[:, None] <= q).mean(axis=0)
    assert np.all(np.abs(ecdf - cdf) < 5 * np.sqrt(cdf * (1 - cdf) / x.size)), (ecdf, cdf)


def test_overflowing_alpha_is_refused():
    """alpha -> 0: |X|^-alpha -> Exp(1), so alpha = 1e-9 puts 63% of draws beyond 1.8e308."""
    with pytest.raises(ValueError, match=r"alpha = 1e-09 .* 63% .* \+-inf"):
        sample(1e-9, size=10)
    with pytest.raises(ValueError, match="float64"):
        sample(0.05, size=10, dtype=np.float32)
    x = sample(0.05, size=100_000, seed=1)  # float64 at 0.05: P(overflow) ~ 1e-15
    assert np.isfinite(x).all()
    with pytest.raises(ValueError, match="alpha"):
        sample(1.5, scale=1e308, size=10)  # the scale overflows any alpha


def test_torch_backend_same_law_and_seeded():
    torch = pytest.importorskip("torch")
    x = sample(1.5, -0.5, 1.0, 0.0, N, dtype=np.float32, seed=4, backend="torch", device="cpu")
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float32
    assert torch.isfinite(x).all()
    y = sample(1.5, -0.5, 1.0, 0.0, N, dtype=np.float32, seed=4, backend="torch", device="cpu")
    assert torch.equal(x, y)
    pv = chi2_pvalue(x.double().numpy(), lambda q: levy_stable.cdf(q, 1.5, -0.5))
    assert pv > 1e-3


def test_bad_parameters():
    with pytest.raises(ValueError, match="alpha"):
        sample(2.1, 0.0)
    with pytest.raises(ValueError, match="beta"):
        sample(1.5, 1.5)
    with pytest.raises(ValueError, match="scale"):
        sample(1.5, 0.0, -1.0)
    with pytest.raises(ValueError, match="dtype"):
        sample(1.5, dtype=np.int32)
