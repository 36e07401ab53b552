# Figures and tables: one rule and one script each, named after the figure, so that
# `snakemake --cores 1 fig_lm` rebuilds that figure and only what it needs.


rule fig_lm:
    input:
        metrics=figure_train_inputs("fig_lm", rules=("gni_m",)),
    output:
        pdf="results/figures/fig_lm.pdf",
        png=report(
            "results/figures/fig_lm.png",
            caption="../report/fig_lm.rst",
            category="Implicit effect",
        ),
        data="results/figures/fig_lm.csv",
    log:
        "logs/figures/fig_lm.log",
    conda:
        "../../envs/plot.yaml"
    params:
        experiments=figure_params("fig_lm"),
    script:
        "../scripts/fig_lm.py"


rule table_performance:
    input:
        metrics=figure_train_inputs("table_performance"),
    output:
        csv="results/tables/table_performance.csv",
        md=report(
            "results/tables/table_performance.md",
            caption="../report/table_performance.rst",
            category="Tables",
        ),
    log:
        "logs/tables/table_performance.log",
    conda:
        "../../envs/plot.yaml"
    script:
        "../scripts/table_performance.py"


rule fig_r_vs_gni:
    input:
        metrics=figure_train_inputs(
            "fig_r_vs_gni", rules=("baseline", "gni", "explicit")
        ),
    output:
        pdf="results/figures/fig_r_vs_gni.pdf",
        png=report(
            "results/figures/fig_r_vs_gni.png",
            caption="../report/fig_r_vs_gni.rst",
            category="Explicit vs implicit effect",
        ),
        data="results/figures/fig_r_vs_gni.csv",
    log:
        "logs/figures/fig_r_vs_gni.log",
    conda:
        "../../envs/plot.yaml"
    params:
        experiments=figure_params("fig_r_vs_gni"),
    script:
        "../scripts/fig_r_vs_gni.py"
