"""CMS sampler against scipy's levy_stable cdf, closed forms and NaN traps."""

import numpy as np
import pytest
from scipy import stats
from scipy.stats import levy_stable

from gnitails.stable import sample, to_s0
from gnitails.stable.sampler import _cms_standard_s0

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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("alpha", "beta"), [(1.5, 0.5), (0.8, -1.0), (1.0, 1.0), (2.0, 0.0)])
def test_no_nan_at_interval_ends(dtype, alpha, beta):
    """u = 0 or u -> 1 (V = -+pi/2) and W = 0 are the naive formula's NaN traps."""
    eps = np.finfo(dtype).eps
    u = np.array([0.0, 1 - eps / 2, 0.5, 0.0, 1 - eps / 2], dtype=dtype)
    w = np.array([1.0, 1.0, 0.0, 0.0, 0.0], dtype=dtype)
    with np.errstate(divide="ignore", over="ignore", invalid="raise"):
        z = _cms_standard_s0(u, w, alpha, beta)
    assert not np.isnan(z).any()


def test_torch_backend_same_law_and_seeded():
    torch = pytest.importorskip("torch")
    x = sample(1.5, -0.5, 1.0, 0.0, N, dtype=np.float32, seed=4, backend="torch", device="cpu")
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float32
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
