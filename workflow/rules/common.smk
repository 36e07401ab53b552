# Shared set-up: config validation, wildcard constraints, and the named helpers that rules use
# instead of lambdas. Everything with logic lives in the gnitails library.
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

sys.path.insert(0, str(Path(workflow.basedir) / "workflow" / "scripts"))

from gnitails.config import ConfigError, validate_config
from gnitails.data.prepare import DOWNLOADED, needs_download
from gnitails.runs import RUN_WILDCARD, planned_runs

try:
    validate_config(config, source="config (config/config.yaml and any --configfile)")
except ConfigError as exc:
    raise WorkflowError(str(exc)) from None


def alternation(names):
    """A regex that matches exactly one of `names` (for wildcard constraints)."""
    return "|".join(sorted(names)) or "(?!)"


wildcard_constraints:
    dataset=alternation(config["datasets"]),
    experiment=alternation(config["experiments"]),
    source=alternation(DOWNLOADED),
    run=RUN_WILDCARD,
    seed=r"\d+",


# Every GPU rule asks for one GPU; the default profile allows one GPU job at a time, so two
# never share a card. On a CPU-only machine `make run` lifts that limit to the core count
# (--resources gpu=N); cluster profiles map the request to sbatch (profiles/slurm).
GPU_PER_JOB = 1


def dataset_spec(wildcards):
    return config["datasets"][wildcards.dataset]


def prepare_inputs(wildcards):
    """Downloaded sources need their verified raw files; generated ones need nothing."""
    source = dataset_spec(wildcards)["source"]
    if needs_download(source):
        return {"manifest": f"resources/datasets/{source}/manifest.json"}
    return {}


def experiment_spec(wildcards):
    return config["experiments"][wildcards.experiment]


def experiment_dataset(wildcards):
    return f"results/data/{experiment_spec(wildcards)['dataset']}.npz"


def train_state_dir(wildcards):
    """Resumable training state: inside the run folder but not a declared output."""
    return f"results/train/{wildcards.experiment}/{wildcards.run}/seed{wildcards.seed}/state"


def train_outputs(experiment_names=None):
    """metrics.parquet of every run and seed of the given (default: all) experiments."""
    names = config["experiments"] if experiment_names is None else experiment_names
    return [
        f"results/train/{name}/{run.name}/seed{seed}/metrics.parquet"
        for name in names
        for run in planned_runs(config["experiments"][name])
        for seed in config["experiments"][name]["seeds"]
    ]


def figure_experiments(figure):
    """The experiments a figure draws on, from `figures:` in the config (a clear error if absent).

    Call it from input or params functions only, so that the error comes only when the figure
    is asked for.
    """
    if figure not in config["figures"]:
        raise WorkflowError(
            f"{figure} is not configured: add `figures: {{{figure}: {{experiments: [...]}}}}` "
            "to the config"
        )
    return config["figures"][figure]["experiments"]


def figure_params(figure):
    """A params function: the experiments of `figure`, looked up when its job is planned."""

    def params(wildcards):
        return figure_experiments(figure)

    return params


def figure_train_inputs(figure, rules=None):
    """An input function: metrics of the figure's experiments, only runs of the given rules."""

    def inputs(wildcards):
        return [
            f"results/train/{name}/{run.name}/seed{seed}/metrics.parquet"
            for name in figure_experiments(figure)
            for run in planned_runs(config["experiments"][name])
            if rules is None or run.rule in rules
            for seed in config["experiments"][name]["seeds"]
        ]

    return inputs


FIGURE_FILES = {
    "fig_lm": ["results/figures/fig_lm.pdf", "results/figures/fig_lm.png"],
    "fig_r_vs_gni": [
        "results/figures/fig_r_vs_gni.pdf",
        "results/figures/fig_r_vs_gni.png",
    ],
    "table_performance": ["results/tables/table_performance.md"],
}


def all_targets():
    """The targets of `rule all` for the config in use (every configured figure)."""
    figures = [
        f
        for name in config["figures"]
        if name in FIGURE_FILES
        for f in FIGURE_FILES[name]
    ]
    return train_outputs() + figures
