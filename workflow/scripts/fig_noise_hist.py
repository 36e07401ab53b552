"""Rule fig_noise_hist: per-layer log-densities of the dumped gradient noise Z, with the
Gaussian and the per-coordinate Gaussian mixture it is compared with."""

from gnitails.plots.noise import density_grid, density_rows
from gnitails.plots.style import save_figure
from gnitails.plots.tables import write_csv
from gnitails.runlog import rule_logging

with rule_logging(snakemake) as log:
    rows, titles = density_rows(snakemake.input.dumps, "z_mc")
    fig, data = density_grid(rows, titles, xlabel="Z entry (one draw)")
    write_csv(data, snakemake.output.data)
    save_figure(fig, snakemake.output.pdf, snakemake.output.png)
    log.info("fig_noise_hist: %d rows of panels", len(rows))
