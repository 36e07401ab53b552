"""Rule fig_tail_index: fitted α̂ and β̂ of the weight noise per layer and step."""

import pandas as pd

from gnitails.plots.noise import draw_tail_index, tail_index_frame
from gnitails.plots.style import save_figure
from gnitails.plots.tables import write_csv
from gnitails.runlog import rule_logging

with rule_logging(snakemake) as log:
    fits = pd.concat([pd.read_parquet(p) for p in snakemake.input.fits], ignore_index=True)
    frame = tail_index_frame(fits)
    write_csv(frame, snakemake.output.data)
    fig = draw_tail_index(frame, snakemake.params.experiments)
    save_figure(fig, snakemake.output.pdf, snakemake.output.png)
    log.info("fig_tail_index: %d fits", len(frame))
