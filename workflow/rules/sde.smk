# SDE stage: Euler simulation of dW = -grad f(W) dt + sigma dL^(alpha, beta) over an (alpha, beta)
# grid, one Parquet table of biases (with closed forms) per study under `sde:` in the config.


rule simulate_sde:
    output:
        table="results/sde/{study}.parquet",
    log:
        "logs/simulate_sde/{study}.log",
    benchmark:
        "benchmarks/simulate_sde/{study}.tsv"
    conda:
        "../envs/stats.yaml"
    threads: 2
    params:
        spec=sde_study_spec,
    script:
        "../scripts/simulate_sde.py"
