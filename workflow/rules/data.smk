# Data stage: raw downloads (mnist, cifar10, svhn) and the one prepared format for every dataset.


rule download_dataset:
    output:
        manifest="resources/datasets/{source}/manifest.json",
    log:
        "logs/download_dataset/{source}.log",
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
    conda:
        "../envs/torch.yaml"
    params:
        spec=dataset_spec,
    script:
        "../scripts/prepare_dataset.py"
