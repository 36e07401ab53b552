# Noise stage: for experiments with a `noise_dump` block, the gradient noise (Z, Z_R, minibatch
# noise) and forward noise at saved weight snapshots, one .npz per snapshot step. The train rule
# puts the snapshots of the dumped seeds and steps into the run's models.pt.


wildcard_constraints:
    step=r"\d+",


rule dump_noise:
    input:
        data=experiment_dataset,
        models=rules.train.output.models,
    output:
        dump="results/noise/{experiment}/{run}/seed{seed}/step{step}.npz",
    log:
        "logs/noise/{experiment}/{run}/seed{seed}/step{step}.log",
    benchmark:
        "benchmarks/noise/{experiment}/{run}/seed{seed}/step{step}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        gpu=1,
    params:
        experiment=experiment_spec,
    script:
        "../scripts/dump_noise.py"
