"""Gradient noise of GNIs and of minibatching, dumped per layer, and its stable fits.

See docs/noise.md: definitions (Z, Z_R, minibatch noise, forward noise), file formats, costs.
"""

from gnitails.noise.dump import (
    DEFINITIONS,
    DUMP_FORMAT,
    QUANTITIES,
    DumpSpec,
    compute_dump,
    coords_sample,
    draws_sample,
    dump_meta,
    dump_snapshot,
    load_dump,
    save_dump,
    typical_coordinate,
)
from gnitails.noise.fits import COLUMNS, fit_arrays, fit_dumps, fits_table, save_fits
from gnitails.noise.gradients import (
    clean_gradient,
    draw_noise,
    explicit_gradient,
    forward_noise,
    mean_gradient,
    mean_gradient_from,
    minibatch_gradients,
    per_draw_gradients,
    per_draw_gradients_loop,
)

__all__ = [
    "COLUMNS",
    "DEFINITIONS",
    "DUMP_FORMAT",
    "QUANTITIES",
    "DumpSpec",
    "clean_gradient",
    "compute_dump",
    "coords_sample",
    "draw_noise",
    "draws_sample",
    "dump_snapshot",
    "dump_meta",
    "explicit_gradient",
    "fit_arrays",
    "fit_dumps",
    "fits_table",
    "save_fits",
    "forward_noise",
    "load_dump",
    "mean_gradient",
    "mean_gradient_from",
    "minibatch_gradients",
    "per_draw_gradients",
    "per_draw_gradients_loop",
    "save_dump",
    "typical_coordinate",
]
