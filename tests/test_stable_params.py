"""S0 <-> S1 parametrisations: exact conversion, closed forms, agreement with scipy."""

import numpy as np
import pytest
from scipy.stats import levy_stable

from gnitails.stable import convert_loc, crb_sd, log_cf, to_s0, to_s1
from gnitails.stable.params import check_parametrization, s0_phase

GRID = [(a, b) for a in (0.5, 0.9, 1.0, 1.3, 1.5, 1.99, 2.0) for b in (-1.0, -0.3, 0.0, 0.7, 1.0)]


@pytest.mark.parametrize(("alpha", "beta"), GRID)
def test_round_trip_and_closed_form(alpha, beta):
    scale, loc = 2.5, -0.75
    d0 = to_s0(alpha, beta, scale, loc)
    assert to_s1(alpha, beta, scale, d0) == pytest.approx(loc, abs=1e-12)
    if alpha == 1.0:
        expect = loc + 2 / np.pi * beta * scale * np.log(scale)
    else:
        expect = loc + beta * scale * np.tan(np.pi * alpha / 2)
    assert d0 == pytest.approx(expect, rel=1e-12, abs=1e-12)
    assert convert_loc(alpha, beta, scale, loc, "S1", "S1") == loc


def test_broadcasting_and_alpha_one_scale_one():
    a = np.array([1.0, 1.5, 1.0])
    out = to_s0(a, 0.5, np.array([1.0, 1.0, np.e]), 0.0)
    assert out[0] == 0.0  # log(1) = 0
    assert out[1] == pytest.approx(0.5 * np.tan(0.75 * np.pi))
    assert out[2] == pytest.approx(2 / np.pi * 0.5 * np.e)


@pytest.mark.parametrize(("alpha", "beta"), [(1.5, 0.5), (0.8, -0.9), (1.0, 0.6), (1.2, 1.0)])
def test_conversion_matches_scipy_cdf(alpha, beta):
    """The same law described in S1 by scipy and in S0 via to_s0 has the same cdf."""
    x = np.array([-3.0, -0.5, 0.4, 2.0])
    scale, loc = 1.7, 0.3
    old = levy_stable.parameterization
    try:
        levy_stable.parameterization = "S1"
        f1 = levy_stable.cdf(x, alpha, beta, loc=loc, scale=scale)
        levy_stable.parameterization = "S0"
        f0 = levy_stable.cdf(x, alpha, beta, loc=to_s0(alpha, beta, scale, loc), scale=scale)
    finally:
        levy_stable.parameterization = old
    np.testing.assert_allclose(f0, f1, atol=2e-6)


def test_log_cf_closed_forms():
    t = np.array([-2.0, -0.3, 0.5, 1.0, 3.0])
    # S1, alpha != 1: -g^a |t|^a (1 - i b sign(t) tan(pi a/2)) + i d t
    a, b, g, d = 1.3, -0.4, 0.8, 0.2
    expect = (
        -((g * np.abs(t)) ** a) * (1 - 1j * b * np.sign(t) * np.tan(np.pi * a / 2)) + 1j * d * t
    )
    np.testing.assert_allclose(log_cf(t, a, b, g, d), expect, rtol=1e-12)
    # S1, alpha = 1: -g|t| (1 + i b (2/pi) sign(t) log|t|) + i d t   (Samorodnitsky-Taqqu)
    a = 1.0
    expect = -g * np.abs(t) * (1 + 1j * b * 2 / np.pi * np.sign(t) * np.log(np.abs(t))) + 1j * d * t
    np.testing.assert_allclose(log_cf(t, a, b, g, d), expect, rtol=1e-12, atol=1e-14)
    # alpha = 2 is N(d, 2 g^2) whatever beta
    np.testing.assert_allclose(log_cf(t, 2.0, 0.9, g, d), -(g**2) * t**2 + 1j * d * t, atol=1e-12)
    # the S0 and S1 descriptions of one law have the same cf
    for a in (0.7, 1.0, 1.6):
        d0 = to_s0(a, b, g, d)
        np.testing.assert_allclose(log_cf(t, a, b, g, d0, "S0"), log_cf(t, a, b, g, d, "S1"))


def test_s0_phase_continuous_at_alpha_one():
    t = np.array([0.2, 1.0, 3.0])
    lim = -(2 / np.pi) * t * np.log(t)
    np.testing.assert_allclose(s0_phase(1.0, t), lim, atol=1e-15)
    np.testing.assert_allclose(s0_phase(1.0 + 1e-7, t), lim, atol=1e-6)
    np.testing.assert_allclose(s0_phase(1.0 - 1e-7, t), lim, atol=1e-6)


def test_bad_parametrization():
    assert check_parametrization("s0") == "S0"
    with pytest.raises(ValueError, match="'S2'"):
        check_parametrization("S2")
    with pytest.raises(ValueError, match="alpha"):
        log_cf(1.0, 2.5)


@pytest.mark.parametrize(
    ("args", "name"),
    [
        ((2.5, 0.0, 1.0, 0.0), "alpha"),
        ((0.0, 0.0, 1.0, 0.0), "alpha"),
        ((np.nan, 0.0, 1.0, 0.0), "alpha"),
        ((1.5, 1.2, 1.0, 0.0), "beta"),
        ((1.5, np.nan, 1.0, 0.0), "beta"),
        ((1.5, 0.5, 0.0, 0.0), "scale"),
        ((1.5, 0.5, -2.0, 0.0), "scale"),
        ((1.5, 0.5, 1.0, np.nan), "loc"),
        ((np.array([1.5, 2.5]), 0.5, 1.0, 0.0), "alpha"),  # one bad entry of an array
    ],
)
def test_out_of_range_parameters_are_refused(args, name):
    """Every conversion raises ValueError naming the bad argument instead of returning a number."""
    for f in (to_s0, to_s1, lambda *a: convert_loc(*a, "S1", "S0"),
              lambda *a: convert_loc(*a, "S0", "S0")):  # fmt: skip
        with pytest.raises(ValueError, match=name):
            f(*args)
    if name != "loc":
        with pytest.raises(ValueError, match=name):
            crb_sd(*args[:3])


def test_crb_sd_refuses_a_bad_n_and_flags_the_untabled_range():
    for n in (0, -5, np.nan):
        with pytest.raises(ValueError, match="n must"):
            crb_sd(1.5, 0.5, 1.0, n)
    assert np.isnan(crb_sd(0.9, 0.5)["alpha"])  # valid law, bound not tabled: NaN, no error
