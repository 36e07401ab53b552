# Shared set-up: config validation, wildcard constraints, and the named helpers that rules use
# instead of lambdas. Everything with logic lives in the gnitails library. Helpers name files by
# the rules' own output patterns (rules.X.output.Y), so every path is written once, in its rule:
# input functions run when the DAG is built, and helpers called while parsing (sde_targets,
# all_targets) only after the rules they name.
import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.io import strip_wildcard_constraints

# The library sits in workflow/scripts, next to this file's folder. Found from this file's own
# location, not from workflow.basedir: that is the host's folder when this workflow is used as
# a module. A module read from a URL has no local folder: there gnitails must be installed.
if isinstance(workflow.current_basedir, os.PathLike):
    sys.path.insert(0, str(Path(workflow.current_basedir).parent / "scripts"))

from gnitails.config import ConfigError, check_files, validate_config
from gnitails.data.prepare import DOWNLOADED, needs_download
from gnitails.data.raw import raw_files
from gnitails.runs import (
    RUN_WILDCARD,
    RunSpec,
    noise_dump_run,
    noise_dump_seeds,
    noise_dump_steps,
    planned_runs,
    replacement_runs,
    snapshot_steps,
)


def config_source():
    """Where `config` came from, for the validation message: the config files, or the host
    workflow when this one is used as a module (its config is whatever the host passes).
    """
    if workflow.modifier.is_module:
        return f"the config the host workflow passes to module {workflow.modifier.namespace!r}"
    return f"config ({', '.join(map(str, workflow.configfiles)) or 'no config file'})"


try:
    check_files(workflow.configfiles)
    validate_config(config, source=config_source())
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
    study=alternation(config["sde"]),
    seed=r"\d+",


def workflow_path(pattern):
    """A rule's output pattern as the workflow names it (results/...), with or without storage.

    With a storage provider, rules.X.output.Y is the path of the job's local copy, flagged with
    its storage object: expand() refuses it (snakemake#3027), and a path built from it would
    point among the local copies. The workflow's own path is the object's query without the
    default storage prefix (and without the wildcard constraints Snakemake put into it).
    """
    stored = getattr(pattern, "flags", {}).get("storage_object")
    if stored is None:
        return str(pattern)
    prefix = workflow.storage_settings.default_storage_prefix
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return strip_wildcard_constraints(stored.query).removeprefix(prefix)


def output_paths(pattern, **wildcards):
    """The files of a rule's output `pattern` for every combination of the wildcard values."""
    return expand(workflow_path(pattern), **wildcards)


def output_path(pattern, **wildcards):
    """The one file of a rule's output `pattern` with these wildcard values."""
    return output_paths(pattern, **wildcards)[0]


def dataset_spec(wildcards):
    return config["datasets"][wildcards.dataset]


def raw_paths(source):
    """Every raw file of a downloadable source, where download_raw puts it (the names come
    from torchvision, imported only when a download is planned)."""
    return [
        output_path(rules.download_raw.output.raw, source=source, file=raw.name)
        for raw in raw_files(source)
    ]


def raw_inputs(wildcards):
    return raw_paths(wildcards.source)


def prepare_inputs(wildcards):
    """Downloaded sources need their manifest and the raw files it lists; generated ones
    need nothing."""
    source = dataset_spec(wildcards)["source"]
    if needs_download(source):
        manifest = rules.download_dataset.output.manifest
        return {
            "manifest": output_path(manifest, source=source),
            "raw": raw_paths(source),
        }
    return {}


def experiment_spec(wildcards):
    return config["experiments"][wildcards.experiment]


def run_spec(wildcards):
    """The experiment block as its training jobs see it: without `noise_dump` (the snapshot
    steps come as their own param), so that changing how the noise is fitted does not rerun
    training (params trigger reruns). Adding a seed reruns the job, which restores the
    finished seeds from their saved state and trains only the new one."""
    return {k: v for k, v in experiment_spec(wildcards).items() if k != "noise_dump"}


def train_priority(wildcards):
    """Start the costliest training jobs first, so that the pipeline does not end on one long
    job while the other cores wait: Snakemake starts jobs of equal priority in no useful order
    (one default run started its second-longest job last; a core waited 80 of 626 s). An
    L~_M run tiles its batch M times, so M orders an experiment's runs by cost; other runs
    count as M = 1, and the jobs of other rules (priority 0) fill the gaps."""
    return RunSpec.parse(wildcards.run).m


# The data jobs outrank every training job: Snakemake does not hand a job's priority on to the
# jobs it waits for, so a dataset prepared after the first wave of training would hold back all
# of its experiments' runs (in one default run the digits started last).
DATA_PRIORITY = 1 + max(
    (run.m for exp in config["experiments"].values() for run in planned_runs(exp)),
    default=0,
)


def experiment_dataset(wildcards):
    return output_path(
        rules.prepare_dataset.output.data, dataset=experiment_spec(wildcards)["dataset"]
    )


def train_state_dir(wildcards):
    """Resumable training state, one folder per seed: inside the run folder but not a
    declared output."""
    metrics = train_metrics(wildcards.experiment, wildcards.run)
    return str(Path(metrics).parent / "state")


def train_metrics(experiment, run):
    return output_path(rules.train.output.metrics, experiment=experiment, run=run)


def train_outputs(experiment_names=None):
    """metrics.parquet of every run of the given (default: all) experiments."""
    names = config["experiments"] if experiment_names is None else experiment_names
    return [
        train_metrics(name, run.name)
        for name in names
        for run in planned_runs(config["experiments"][name])
    ]


# Noise and fit stages: which snapshots train saves, which dumps and fits exist.
def train_snapshot_steps(wildcards):
    """Per seed, the steps whose weights dump_noise needs from this run (none for most)."""
    exp = experiment_spec(wildcards)
    return {seed: snapshot_steps(exp, wildcards.run, seed) for seed in exp["seeds"]}


def dumped_experiments(experiment_names=None):
    names = config["experiments"] if experiment_names is None else experiment_names
    return [n for n in names if config["experiments"][n].get("noise_dump")]


def noise_plan(name):
    """(run, seeds, steps) of one experiment's dumps, with a clear error if misconfigured."""
    exp = config["experiments"][name]
    try:
        return noise_dump_run(exp), noise_dump_seeds(exp), noise_dump_steps(exp)
    except ValueError as exc:
        raise WorkflowError(f"experiments.{name}.{exc}") from None


def noise_dump(experiment, run, seed, step):
    return output_path(
        rules.dump_noise.output.dump,
        experiment=experiment,
        run=run,
        seed=seed,
        step=step,
    )


def noise_outputs(experiment_names=None):
    """Every noise dump of the given (default: all) experiments that have `noise_dump`."""
    out = []
    for name in dumped_experiments(experiment_names):
        run, seeds, steps = noise_plan(name)
        out += [noise_dump(name, run, seed, step) for seed in seeds for step in steps]
    return out


def fit_outputs(experiment_names=None):
    """The fits tables of the given (default: all) experiments that have `noise_dump`."""
    out = []
    for name in dumped_experiments(experiment_names):
        run, seeds, _ = noise_plan(name)
        out += output_paths(
            rules.fit_stable.output.fits, experiment=name, run=run, seed=seeds
        )
    return out


def fit_inputs(wildcards):
    """Every step's dump of the run and seed."""
    experiment, run, seed = wildcards.experiment, wildcards.run, wildcards.seed
    _, _, steps = noise_plan(experiment)
    return [noise_dump(experiment, run, seed, step) for step in steps]


def fit_options(wildcards):
    return experiment_spec(wildcards)["noise_dump"]["fit"]


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


def figure_train_inputs(figure, rule_names=None):
    """An input function: metrics of the figure's experiments, only runs of the given rules."""

    def inputs(wildcards):
        return [
            train_metrics(name, run.name)
            for name in figure_experiments(figure)
            for run in planned_runs(config["experiments"][name])
            if rule_names is None or run.rule in rule_names
        ]

    return inputs


def figure_fits(figure):
    """An input function: the fits tables of the figure's experiments."""

    def inputs(wildcards):
        return fit_outputs(figure_experiments(figure))

    return inputs


def figure_dumps(figure):
    """An input function: every noise dump of the figure's experiments."""

    def inputs(wildcards):
        return noise_outputs(figure_experiments(figure))

    return inputs


def figure_last_dumps(figure):
    """An input function: per experiment of the figure, the dump of its first seed's last step."""

    def inputs(wildcards):
        dumps = []
        for name in figure_experiments(figure):
            run, seeds, steps = noise_plan(name)
            dumps.append(noise_dump(name, run, seeds[0], max(steps)))
        return dumps

    return inputs


def replacement_figure_inputs(wildcards):
    """Metrics of exactly the runs fig_replacement draws (gnitails.runs.replacement_runs)."""
    return [
        train_metrics(name, run)
        for name in figure_experiments("fig_replacement")
        for run in replacement_runs(config["experiments"][name])
    ]


def replacement_figure_runs(wildcards):
    """Per experiment of fig_replacement, the runs it draws, in drawing order."""
    return {
        name: replacement_runs(config["experiments"][name])
        for name in figure_experiments("fig_replacement")
    }


# What table_claims reads: the runs of each figure whose claim it checks.
CLAIM_INPUTS = {
    "fig_lm": figure_train_inputs("fig_lm", ("gni_m",)),
    "fig_r_vs_gni": figure_train_inputs(
        "fig_r_vs_gni", ("baseline", "gni", "explicit")
    ),
    "fig_replacement": replacement_figure_inputs,
}


def claims_metrics(wildcards):
    paths = []
    for figure, inputs in CLAIM_INPUTS.items():
        if figure in config["figures"]:
            paths += inputs(wildcards)
    return sorted(set(paths))


def claims_fits(wildcards):
    return (
        figure_fits("fig_tail_index")(wildcards)
        if "fig_tail_index" in config["figures"]
        else []
    )


def figure_targets():
    """The files of every figure and table the config asks for (plus the SDE figure and the
    claims table, which read whatever the config produces)."""
    targets = [
        getattr(rules, name).output.png
        for name in config["figures"]
        if name.startswith("fig_")
    ]
    targets += [
        getattr(rules, name).output.md
        for name in config["figures"]
        if name.startswith("table_")
    ]
    if config["sde"]:
        targets.append(rules.fig_sde_bias.output.png)
    return targets + [rules.table_claims.output.md]


def sde_study_spec(wildcards):
    """The config block of one SDE study (its changes trigger a rerun through params)."""
    return config["sde"][wildcards.study]


def sde_targets():
    """The Parquet tables of every configured SDE study."""
    return output_paths(rules.simulate_sde.output.table, study=sorted(config["sde"]))


def all_targets():
    """The targets of `rule all` for the config in use (every configured figure)."""
    return (
        train_outputs()
        + noise_outputs()
        + fit_outputs()
        + sde_targets()
        + figure_targets()
    )
