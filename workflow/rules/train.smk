# Training stage: one job per experiment x run (baseline | gni | m{M} | explicit | replace_*)
# that trains all the experiment's seeds in one process. Outputs: metrics.parquet (a seed
# column), models.pt (each seed's final weights and the snapshots noise_dump needs). Each seed's
# resumable state lives in the undeclared state/ folder, so Snakemake never deletes it: a killed
# job resumes, and a job rerun because seeds were added restores the finished seeds from it.
# GPU rules ask for one GPU: the default profile allows one such job at a time, `make run`
# lifts that limit to the core count on a CPU-only machine, profiles/slurm maps it to sbatch.


rule train:
    input:
        data=experiment_dataset,
    output:
        metrics="results/train/{experiment}/{run}/metrics.parquet",
        models="results/train/{experiment}/{run}/models.pt",
    log:
        "logs/train/{experiment}/{run}.log",
    benchmark:
        "benchmarks/train/{experiment}/{run}.tsv"
    priority: train_priority
    conda:
        "../envs/torch.yaml"
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
# seed, refit and parameter tensor (gnitails.replacement.CHECK_COLUMNS); other runs are untouched.
use rule train as train_replacement with:
    output:
        metrics="results/train/{experiment}/{run}/metrics.parquet",
        models="results/train/{experiment}/{run}/models.pt",
        checks="results/train/{experiment}/{run}/replacement_checks.parquet",
    wildcard_constraints:
        run="replace_[a-z0-9_]+",


ruleorder: train_replacement > train
