# Noise stage: for experiments with a `noise_dump` block, the gradient noise (Z, Z_R, minibatch
# noise) and forward noise at saved weight snapshots, one .npz per snapshot step. The train rule
# saves the snapshots beside model.pt (snapshots/step{s}.pt are not declared outputs: their
# list depends on the run), so dump_noise depends on model.pt and reads the snapshot beside it.


wildcard_constraints:
    step=r"\d+",


rule dump_noise:
    input:
        data=experiment_dataset,
        model="results/train/{experiment}/{run}/seed{seed}/model.pt",
    output:
        dump="results/noise/{experiment}/{run}/seed{seed}/step{step}.npz",
    log:
        "logs/noise/{experiment}/{run}/seed{seed}/step{step}.log",
    benchmark:
        "benchmarks/noise/{experiment}/{run}/seed{seed}/step{step}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        gpu=1,
    params:
        experiment=experiment_spec,
        snapshot=noise_snapshot,
    script:
        "../scripts/dump_noise.py"
