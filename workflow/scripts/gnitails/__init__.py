"""gnitails: Gaussian-noise-injection heavy tails, reproduced.

The library behind the Snakemake pipeline. Importable without Snakemake; the workflow
scripts in ``workflow/scripts/`` are thin wrappers around these modules.
"""

__version__ = "0.1.0"
