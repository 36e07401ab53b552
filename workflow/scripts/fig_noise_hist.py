"""Rule fig_noise_hist: per-layer log-densities of the dumped gradient noise Z, with the
Gaussian and the per-coordinate Gaussian mixture it is compared with."""

from gnitails.plots.noise import density_grid, density_rows
from gnitails.plots.style import save_figure
from gnitails.runlog import rule_logging

with rule_logging(snakemake) as log:
    rows, titles = density_rows(snakemake.input.dumps, "z_mc")
    fig, data = density_grid(rows, titles, xlabel="Z entry (one draw)")
    data.to_csv(snakemake.output.data, index=False, float_format="%.9g")
    save_figure(fig, snakemake.output.pdf, snakemake.output.png)
    log.info("fig_noise_hist: %d rows of panels", len(rows))
