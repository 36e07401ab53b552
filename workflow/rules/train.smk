# Training stage: one job per experiment x run (baseline | gni | m{M} | explicit | replace_*)
# x seed. The resumable state lives in an undeclared state/ folder, so Snakemake never deletes
# it when a job is killed; the job picks up from it when run again. Runs whose noise is dumped
# (noise_dump) also save weight snapshots in snapshots/step{s}.pt beside model.pt.
# GPU rules ask for one GPU: the default profile allows one such job at a time, `make run`
# lifts that limit to the core count on a CPU-only machine, profiles/slurm maps it to sbatch.


rule train:
    input:
        data=experiment_dataset,
    output:
        metrics="results/train/{experiment}/{run}/seed{seed}/metrics.parquet",
        model="results/train/{experiment}/{run}/seed{seed}/model.pt",
    log:
        "logs/train/{experiment}/{run}/seed{seed}.log",
    benchmark:
        "benchmarks/train/{experiment}/{run}/seed{seed}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        gpu=1,
    params:
        experiment=run_spec,
        state_dir=train_state_dir,
        snapshot_steps=train_snapshot_steps,
    script:
        "../scripts/train.py"


# Replacement arms also write the check of their noise against the real noise, one row per
# refit and parameter tensor (gnitails.replacement.CHECK_COLUMNS); other runs are untouched.
use rule train as train_replacement with:
    output:
        metrics="results/train/{experiment}/{run}/seed{seed}/metrics.parquet",
        model="results/train/{experiment}/{run}/seed{seed}/model.pt",
        checks="results/train/{experiment}/{run}/seed{seed}/replacement_checks.parquet",
    wildcard_constraints:
        run="replace_[a-z0-9_]+",


ruleorder: train_replacement > train
