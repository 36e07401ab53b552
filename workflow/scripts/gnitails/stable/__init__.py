"""alpha-stable toolkit: parametrisations, CMS sampler, estimators, Cramer-Rao bounds.

The API takes and returns Samorodnitsky-Taqqu S1 parameters by default and Nolan's S0 on
request (``parametrization="S0"``); every result says which. See docs/stable.md.
"""

from .batch import fit_batch
from .crb import crb_sd
from .fit import METHODS, FitResult, describe, fit
from .mohammadi import mohammadi
from .params import check_parametrization, convert_loc, log_cf, to_s0, to_s1
from .quantile import mcculloch
from .sampler import rvs, sample

__all__ = [
    "METHODS",
    "FitResult",
    "check_parametrization",
    "convert_loc",
    "crb_sd",
    "describe",
    "fit",
    "fit_batch",
    "log_cf",
    "mcculloch",
    "mohammadi",
    "rvs",
    "sample",
    "to_s0",
    "to_s1",
]
