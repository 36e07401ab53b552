# Figures and tables: one rule and one script each, named after the figure, so that
# `snakemake --cores 1 fig_lm` rebuilds that figure and only what it needs. They are cheap, so
# they run where Snakemake runs, never as cluster jobs: `localrule: True` in each rule rather than
# a `localrules:` list, which would not name them once a host renames them (`use rule * as x_*`).


rule fig_lm:
    input:
        metrics=figure_train_inputs("fig_lm", rule_names=("gni_m",)),
    output:
        pdf="results/figures/fig_lm.pdf",
        png=report(
            "results/figures/fig_lm.png",
            caption="../report/fig_lm.rst",
            category="Implicit effect",
        ),
        data=report(
            "results/figures/fig_lm.csv",
            caption="../report/fig_lm.rst",
            category="Implicit effect",
            subcategory="plotted numbers (CSV)",
        ),
    log:
        "logs/figures/fig_lm.log",
    localrule: True
    conda:
        "../envs/plot.yaml"
    params:
        experiments=figure_params("fig_lm"),
    script:
        "../scripts/fig_lm.py"


rule table_performance:
    input:
        metrics=figure_train_inputs("table_performance"),
    output:
        csv="results/tables/table_performance.csv",
        md="results/tables/table_performance.md",
        html=report(
            "results/tables/table_performance.html",
            caption="../report/table_performance.rst",
            category="Tables",
        ),
    log:
        "logs/tables/table_performance.log",
    localrule: True
    conda:
        "../envs/plot.yaml"
    script:
        "../scripts/table_performance.py"


rule fig_r_vs_gni:
    input:
        metrics=figure_train_inputs(
            "fig_r_vs_gni", rule_names=("baseline", "gni", "explicit")
        ),
    output:
        pdf="results/figures/fig_r_vs_gni.pdf",
        png=report(
            "results/figures/fig_r_vs_gni.png",
            caption="../report/fig_r_vs_gni.rst",
            category="Explicit vs implicit effect",
        ),
        data=report(
            "results/figures/fig_r_vs_gni.csv",
            caption="../report/fig_r_vs_gni.rst",
            category="Explicit vs implicit effect",
            subcategory="plotted numbers (CSV)",
        ),
    log:
        "logs/figures/fig_r_vs_gni.log",
    localrule: True
    conda:
        "../envs/plot.yaml"
    params:
        experiments=figure_params("fig_r_vs_gni"),
    script:
        "../scripts/fig_r_vs_gni.py"


rule fig_noise_hist:
    input:
        dumps=figure_last_dumps("fig_noise_hist"),
    output:
        pdf="results/figures/fig_noise_hist.pdf",
        png=report(
            "results/figures/fig_noise_hist.png",
            caption="../report/fig_noise_hist.rst",
            category="Gradient noise",
        ),
        data=report(
            "results/figures/fig_noise_hist.csv",
            caption="../report/fig_noise_hist.rst",
            category="Gradient noise",
            subcategory="plotted numbers (CSV)",
        ),
    log:
        "logs/figures/fig_noise_hist.log",
    localrule: True
    conda:
        "../envs/plot.yaml"
    script:
        "../scripts/fig_noise_hist.py"


rule fig_forward_noise:
    input:
        dumps=figure_last_dumps("fig_forward_noise"),
    output:
        pdf="results/figures/fig_forward_noise.pdf",
        png=report(
            "results/figures/fig_forward_noise.png",
            caption="../report/fig_forward_noise.rst",
            category="Gradient noise",
        ),
        data=report(
            "results/figures/fig_forward_noise.csv",
            caption="../report/fig_forward_noise.rst",
            category="Gradient noise",
            subcategory="plotted numbers (CSV)",
        ),
    log:
        "logs/figures/fig_forward_noise.log",
    localrule: True
    conda:
        "../envs/plot.yaml"
    script:
        "../scripts/fig_forward_noise.py"


rule fig_tail_index:
    input:
        fits=figure_fits("fig_tail_index"),
    output:
        pdf="results/figures/fig_tail_index.pdf",
        png=report(
            "results/figures/fig_tail_index.png",
            caption="../report/fig_tail_index.rst",
            category="Gradient noise",
        ),
        data=report(
            "results/figures/fig_tail_index.csv",
            caption="../report/fig_tail_index.rst",
            category="Gradient noise",
            subcategory="plotted numbers (CSV)",
        ),
    log:
        "logs/figures/fig_tail_index.log",
    localrule: True
    conda:
        "../envs/plot.yaml"
    params:
        experiments=figure_params("fig_tail_index"),
    script:
        "../scripts/fig_tail_index.py"


rule fig_replacement:
    input:
        metrics=replacement_figure_inputs,
    output:
        pdf="results/figures/fig_replacement.pdf",
        png=report(
            "results/figures/fig_replacement.png",
            caption="../report/fig_replacement.rst",
            category="Implicit effect",
        ),
        data=report(
            "results/figures/fig_replacement.csv",
            caption="../report/fig_replacement.rst",
            category="Implicit effect",
            subcategory="plotted numbers (CSV)",
        ),
    log:
        "logs/figures/fig_replacement.log",
    localrule: True
    conda:
        "../envs/plot.yaml"
    params:
        runs=replacement_figure_runs,
    script:
        "../scripts/fig_replacement.py"


rule fig_sde_bias:
    input:
        tables=sde_targets(),
    output:
        pdf="results/figures/fig_sde_bias.pdf",
        png=report(
            "results/figures/fig_sde_bias.png",
            caption="../report/fig_sde_bias.rst",
            category="Lévy SDE",
        ),
        data=report(
            "results/figures/fig_sde_bias.csv",
            caption="../report/fig_sde_bias.rst",
            category="Lévy SDE",
            subcategory="plotted numbers (CSV)",
        ),
    log:
        "logs/figures/fig_sde_bias.log",
    localrule: True
    conda:
        "../envs/plot.yaml"
    script:
        "../scripts/fig_sde_bias.py"


rule table_tail_index:
    input:
        fits=figure_fits("table_tail_index"),
    output:
        csv="results/tables/table_tail_index.csv",
        md="results/tables/table_tail_index.md",
        html=report(
            "results/tables/table_tail_index.html",
            caption="../report/table_tail_index.rst",
            category="Tables",
        ),
    log:
        "logs/tables/table_tail_index.log",
    localrule: True
    conda:
        "../envs/plot.yaml"
    script:
        "../scripts/table_tail_index.py"


rule table_claims:
    input:
        metrics=claims_metrics,
        fits=claims_fits,
        sde=sde_targets(),
    output:
        csv="results/tables/table_claims.csv",
        md="results/tables/table_claims.md",
        html=report(
            "results/tables/table_claims.html",
            caption="../report/table_claims.rst",
            category="Tables",
        ),
    log:
        "logs/tables/table_claims.log",
    localrule: True
    conda:
        "../envs/plot.yaml"
    params:
        figures=config["figures"],
        experiments=config["experiments"],
    script:
        "../scripts/table_claims.py"


rule table_explicit_effect:
    input:
        dumps=figure_dumps("table_explicit_effect"),
    output:
        csv="results/tables/table_explicit_effect.csv",
        md="results/tables/table_explicit_effect.md",
        html=report(
            "results/tables/table_explicit_effect.html",
            caption="../report/table_explicit_effect.rst",
            category="Tables",
        ),
    log:
        "logs/tables/table_explicit_effect.log",
    localrule: True
    conda:
        "../envs/plot.yaml"
    script:
        "../scripts/table_explicit_effect.py"
