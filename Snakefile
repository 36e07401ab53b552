# gni-tails: re-creates the experiments of Camuto et al. (ICML 2021) from raw data.
# Stages (one rule file each): data -> train -> noise -> fit -> sde -> figures.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/figures.smk"


localrules:
    all,
    fig_lm,
    fig_r_vs_gni,
    table_performance,


rule all:
    default_target: True
    input:
        all_targets(),
