"""Rule prepare_dataset: one `datasets:` entry -> results/data/{dataset}.npz."""

from gnitails.data import prepare_dataset, save_prepared
from gnitails.runlog import rule_logging

with rule_logging(snakemake) as log:
    name = snakemake.wildcards.dataset
    data = prepare_dataset(name, snakemake.params.spec, snakemake.input.get("manifest"))
    save_prepared(snakemake.output.data, data)
    log.info(
        "%s: %d train / %d test examples, inputs %s",
        name,
        len(data.x_train),
        len(data.x_test),
        data.meta["input_shape"],
    )
