# Data stage: raw downloads (mnist, cifar10, svhn) and the one prepared format for every dataset.
# Each raw file is an output of its own job, so that prepare_dataset declares every file it reads
# (also when a storage provider carries the files). update(): Snakemake keeps a present file (one
# placed by hand, or one a forced or code-triggered rerun would fetch again) and the job only
# verifies it.


rule download_raw:
    output:
        raw=update("resources/datasets/{source}/{file}"),
    log:
        "logs/download_raw/{source}/{file}.log",
    wildcard_constraints:
        file=r"(?!manifest\.json$)[^/]+",
    priority: DATA_PRIORITY
    conda:
        "../envs/torch.yaml"
    script:
        "../scripts/download_raw.py"


# The manifest: every raw file of the source, verified (what prepare_dataset checks again).
rule download_dataset:
    input:
        raw=raw_inputs,
    output:
        manifest="resources/datasets/{source}/manifest.json",
    log:
        "logs/download_dataset/{source}.log",
    priority: DATA_PRIORITY
    conda:
        "../envs/torch.yaml"
    script:
        "../scripts/download_dataset.py"


rule prepare_dataset:
    input:
        unpack(prepare_inputs),
    output:
        data="results/data/{dataset}.npz",
    log:
        "logs/prepare_dataset/{dataset}.log",
    benchmark:
        "benchmarks/prepare_dataset/{dataset}.tsv"
    priority: DATA_PRIORITY
    conda:
        "../envs/torch.yaml"
    params:
        spec=dataset_spec,
    script:
        "../scripts/prepare_dataset.py"
