# Fit stage: stable-law fits (ecf, quantile, Mohammadi) of every dumped sample, one Parquet
# table per dumped run and seed with all its steps.


rule fit_stable:
    input:
        dumps=fit_inputs,
    output:
        fits="results/fits/{experiment}/{run}/seed{seed}.parquet",
    log:
        "logs/fits/{experiment}/{run}/seed{seed}.log",
    benchmark:
        "benchmarks/fits/{experiment}/{run}/seed{seed}.tsv"
    conda:
        "../envs/stats.yaml"
    threads: 1
    params:
        options=fit_options,
    script:
        "../scripts/fit_stable.py"
