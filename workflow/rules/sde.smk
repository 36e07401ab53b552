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
    # One thread: a second one makes a study only 1.2-1.3x faster (many small (alpha, beta)
    # cells, single-threaded estimators), so with jobs waiting the cores do more work apart.
    # The numbers do not depend on the thread count.
    threads: 1
    params:
        spec=sde_study_spec,
    script:
        "../scripts/simulate_sde.py"
