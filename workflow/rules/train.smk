# Training stage: one job per experiment x run (baseline | gni | m{M} | explicit) x seed.
# The resumable state lives in an undeclared state/ folder, so Snakemake never deletes it when
# a job is killed; the job picks up from it when run again.


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
        gpu=GPU_PER_JOB,
    params:
        experiment=experiment_spec,
        state_dir=train_state_dir,
    script:
        "../scripts/train.py"
