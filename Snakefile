# gni-tails: re-creates the experiments of Camuto et al. (ICML 2021) from raw data.
# Stages (one rule file each): data -> train -> noise -> fit -> sde -> figures.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/noise_plan.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/noise.smk"
include: "workflow/rules/fit.smk"
include: "workflow/rules/sde.smk"
include: "workflow/rules/figures.smk"


localrules:
    all,
    fig_lm,
    fig_r_vs_gni,
    fig_noise_hist,
    fig_forward_noise,
    fig_tail_index,
    fig_replacement,
    fig_sde_bias,
    table_performance,
    table_tail_index,
    table_claims,
    table_explicit_effect,


rule all:
    default_target: True
    input:
        all_targets(),
