# gni-tails: re-creates the experiments of Camuto et al. (ICML 2021) from raw data.
# Stages (one rule file each): data -> train -> noise -> fit -> sde -> figures.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"


localrules:
    all,


rule all:
    default_target: True
    input:
        all_targets(),
