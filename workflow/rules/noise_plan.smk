# Functions of the noise and fit stages (kept apart from the rules, as the linter asks): which
# snapshots train saves, which dumps and fits exist, and the inputs of dump_noise / fit_stable.
from gnitails.runs import (
    noise_dump_run,
    noise_dump_seeds,
    noise_dump_steps,
    snapshot_steps,
)


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


def noise_outputs(experiment_names=None):
    """Every noise dump of the given (default: all) experiments that have `noise_dump`."""
    out = []
    for name in dumped_experiments(experiment_names):
        run, seeds, steps = noise_plan(name)
        out += [
            f"results/noise/{name}/{run}/seed{seed}/step{step}.npz"
            for seed in seeds
            for step in steps
        ]
    return out


def fit_outputs(experiment_names=None):
    """The fits tables of the given (default: all) experiments that have `noise_dump`."""
    out = []
    for name in dumped_experiments(experiment_names):
        run, seeds, _ = noise_plan(name)
        out += [f"results/fits/{name}/{run}/seed{seed}.parquet" for seed in seeds]
    return out


def fit_inputs(wildcards):
    """Every step's dump of the run and seed."""
    _, _, steps = noise_plan(wildcards.experiment)
    dumps = f"results/noise/{wildcards.experiment}/{wildcards.run}/seed{wildcards.seed}"
    return [f"{dumps}/step{step}.npz" for step in steps]


def fit_options(wildcards):
    return experiment_spec(wildcards)["noise_dump"]["fit"]
