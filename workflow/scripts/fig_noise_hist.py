"""Rule fig_noise_hist: per-layer log-densities of the dumped gradient noise Z with fitted laws."""

import pandas as pd

from gnitails.plots.noise import density_grid, density_rows
from gnitails.plots.style import save_figure
from gnitails.runlog import rule_logging

with rule_logging(snakemake) as log:
    fits = pd.concat([pd.read_parquet(p) for p in snakemake.input.fits], ignore_index=True)
    rows, titles = density_rows(snakemake.input.dumps, fits, "z_mc")
    save_figure(density_grid(rows, titles), snakemake.output.pdf, snakemake.output.png)
    log.info("fig_noise_hist: %d rows of panels", len(rows))
