"""Gradient noise of GNIs and of minibatching, dumped per layer, and its stable fits.

See docs/noise.md: definitions (Z, Z_R, minibatch noise, forward noise), file formats, costs.

Names load their module on first use (PEP 562), so ``from gnitails.noise import load_dump``
does not import torch.
"""

import importlib

_MODULE_OF = {
    "COLUMNS": "fits",
    "DEFINITIONS": "dumpfile",
    "DUMP_FORMAT": "dumpfile",
    "DumpSpec": "dump",
    "QUANTITIES": "dumpfile",
    "clean_gradient": "gradients",
    "compute_dump": "dump",
    "coords_sample": "dumpfile",
    "draw_noise": "gradients",
    "draws_sample": "dumpfile",
    "dump_meta": "dump",
    "dump_snapshot": "dump",
    "explicit_gradient": "gradients",
    "fit_arrays": "fits",
    "fit_dumps": "fits",
    "fits_table": "fits",
    "forward_noise": "gradients",
    "load_dump": "dumpfile",
    "mean_gradient": "gradients",
    "mean_gradient_from": "gradients",
    "minibatch_gradients": "gradients",
    "per_draw_gradients": "gradients",
    "per_draw_gradients_loop": "gradients",
    "save_dump": "dumpfile",
    "save_fits": "fits",
    "typical_coordinate": "dumpfile",
}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'gnitails.noise' has no attribute {name!r}")
    return getattr(importlib.import_module(f"gnitails.noise.{_MODULE_OF[name]}"), name)
