"""Levy-driven SDEs dW = -grad f(W) dt + sigma dL^(alpha, beta) and the implicit-bias study.

* ``simulate``: Euler scheme (explicit or drift-implicit), many particles, numpy or torch,
  noise in bounded blocks (euler.py, noise.py).
* Potentials: ``Quadratic`` (OU / anisotropic), ``Quartic``, ``DoubleWell``, custom
  (potentials.py).
* Closed forms for quadratics: the stationary law of the OU SDE, the exact law of its Euler
  scheme, the SGD-form mean bias, mode/median offsets (closed_forms.py; derivations there and in
  docs/sde.md).
* ``run_study``: the (alpha, beta) grid of mean/median/mode bias and excess loss with CIs and
  the closed form next to each estimate (study.py).
"""

from .closed_forms import (
    StableLaw,
    euler_ou_law,
    ou_stationary,
    sgd_stationary_mean,
    standard_s0_median,
    standard_s0_mode,
)
from .estimators import Estimate, mean_ci, median_ci, mode_kde
from .euler import SCHEMES, Simulation, simulate
from .noise import INCREMENTS, LevyIncrements, drift_per_time, increment_affine
from .potentials import (
    CustomPotential,
    DoubleWell,
    Potential,
    Quadratic,
    Quartic,
    load_custom,
    make_potential,
)
from .study import check_study, run_study, write_study
from .validate import SimulationDiverged

__all__ = [
    "INCREMENTS",
    "SCHEMES",
    "CustomPotential",
    "DoubleWell",
    "Estimate",
    "LevyIncrements",
    "Potential",
    "Quadratic",
    "Quartic",
    "Simulation",
    "SimulationDiverged",
    "StableLaw",
    "check_study",
    "drift_per_time",
    "euler_ou_law",
    "increment_affine",
    "load_custom",
    "make_potential",
    "mean_ci",
    "median_ci",
    "mode_kde",
    "ou_stationary",
    "run_study",
    "sgd_stationary_mean",
    "simulate",
    "standard_s0_median",
    "standard_s0_mode",
    "write_study",
]
