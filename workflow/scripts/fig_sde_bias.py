"""Rule fig_sde_bias: simulated vs closed-form biases of every SDE study."""

import pandas as pd

from gnitails.plots.sde import draw_sde_bias
from gnitails.plots.style import save_figure
from gnitails.plots.tables import write_csv
from gnitails.runlog import rule_logging

with rule_logging(snakemake) as log:
    table = pd.concat([pd.read_parquet(p) for p in snakemake.input.tables], ignore_index=True)
    write_csv(table, snakemake.output.data)  # every simulated and closed-form bias plotted
    save_figure(draw_sde_bias(table), snakemake.output.pdf, snakemake.output.png)
    log.info("fig_sde_bias: %d studies", table["study"].nunique())
