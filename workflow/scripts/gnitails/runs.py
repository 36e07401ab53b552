"""Training runs an experiment asks for, and their names (no torch: the Snakefile uses it).

A run is ``baseline`` (no noise), ``gni`` (one draw), ``m{M}`` (the M-draw loss L~_M),
``explicit`` (clean loss + R) or a replacement arm ``replace_s1`` | ``replace_gauss`` |
``replace_authors`` | ``replace_authors_gauss`` (a mean gradient plus noise drawn from a law
fitted to the current implicit-effect noise); the name is the ``{run}`` wildcard under
results/train/.

Also the noise-dump plan (which run, seeds and steps an experiment's ``noise_dump`` block asks
for), because the train rule must know which snapshots to save.

Every function takes a validated experiment (defaults filled: the Snakefile's config, or
:func:`gnitails.training.validate_experiment`), so the schema stays the one place of defaults.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

REPLACEMENT_RULES = ("replace_s1", "replace_gauss", "replace_authors", "replace_authors_gauss")
RUN_NAME = re.compile(
    r"^(baseline|gni|explicit|replace_s1|replace_gauss|replace_authors|replace_authors_gauss"
    r"|m([1-9][0-9]*))$"
)
RUN_WILDCARD = RUN_NAME.pattern[1:-1]  # the same, as a Snakemake wildcard constraint


@dataclass(frozen=True)
class RunSpec:
    """One training run of an experiment: directory ``name``, ``rule`` and draws ``m``."""

    name: str
    rule: str
    m: int = 1

    @classmethod
    def parse(cls, name: str) -> RunSpec:
        """``baseline`` | ``gni`` | ``explicit`` | ``replace_*`` | ``m{M}`` -> RunSpec."""
        match = RUN_NAME.match(name)
        if not match:
            raise ValueError(
                f"run name {name!r} is not baseline, gni, explicit, {', '.join(REPLACEMENT_RULES)}"
                " or m<M> (e.g. m16)"
            )
        if match.group(2):
            return cls(name, "gni_m", int(match.group(2)))
        return cls(name, name, 1)


def planned_runs(experiment: Mapping) -> list[RunSpec]:
    """The runs an experiment asks for, in config order (gni_m expands to m{M} per M), then the
    replacement arms' control if the rules do not already train it."""
    training = experiment["training"]
    runs = []
    for rule in training["rules"]:
        if rule == "gni_m":
            runs += [RunSpec(f"m{m}", rule, m) for m in training["m_values"]]
        else:
            runs.append(RunSpec(rule, rule, 1))
    control = replacement_control(experiment)
    if control is not None and control not in [r.name for r in runs]:
        runs.append(RunSpec.parse(control))
    return runs


def replacement_control(experiment: Mapping) -> str | None:
    """The run whose gradient the replacement arms perturb (None: the experiment has no arms):
    ``explicit`` for ``replace_mean: explicit``, else ``m{replace_m}``. Each arm is compared
    with it, so it is trained in the same experiment."""
    training = experiment["training"]
    if not any(rule in REPLACEMENT_RULES for rule in training["rules"]):
        return None
    if training["replace_mean"] == "explicit":
        return "explicit"
    return f"m{training['replace_m']}"


def m_effect_runs(experiment: Mapping) -> tuple[str, str] | None:
    """``(m{smallest M}, m{largest M})``: the implicit effect's size in this experiment (None
    without two M values)."""
    training = experiment["training"]
    if "gni_m" not in training["rules"]:
        return None
    ms = sorted(training["m_values"])
    return (f"m{ms[0]}", f"m{ms[-1]}") if len(ms) > 1 else None


def replacement_runs(experiment: Mapping) -> list[str]:
    """What fig_replacement draws: the M effect's two runs, the arms' control, then the arms."""
    names = [r.name for r in planned_runs(experiment)]
    first = [*(m_effect_runs(experiment) or ()), replacement_control(experiment)]
    arms = [n for n in names if n in REPLACEMENT_RULES]
    return list(dict.fromkeys(n for n in first + arms if n in names))


# --------------------------------------------------------------------------- noise dumps


def noise_dump_run(experiment: Mapping) -> str:
    """The run whose snapshots are dumped: ``noise_dump.run``, else ``gni``, else ``m1``."""
    names = [r.name for r in planned_runs(experiment)]
    run = experiment["noise_dump"]["run"]
    if run is None:
        run = next((n for n in ("gni", "m1") if n in names), None)
        if run is None:
            raise ValueError(
                "noise_dump.run: the experiment has neither a `gni` nor an `m1` run; "
                f"name one of {names}"
            )
    elif run not in names:
        raise ValueError(f"noise_dump.run: {run!r} is not a run of the experiment ({names})")
    return run


def noise_dump_seeds(experiment: Mapping) -> list[int]:
    """``noise_dump.seeds``, else the experiment's first seed; each must be a training seed."""
    seeds = experiment["noise_dump"]["seeds"] or experiment["seeds"][:1]
    bad = [s for s in seeds if s not in experiment["seeds"]]
    if bad:
        raise ValueError(f"noise_dump.seeds: {bad} are not among the experiment's seeds")
    return [int(s) for s in seeds]


def noise_dump_steps(experiment: Mapping) -> list[int]:
    """Snapshot steps of ``noise_dump.steps`` (``last`` = the training budget), sorted."""
    total = experiment["training"].get("steps")  # None: the budget is in epochs
    steps = set()
    for s in experiment["noise_dump"]["steps"]:
        if s == "last" or (total is None and isinstance(s, int)):
            if total is None:
                raise ValueError(
                    "noise_dump.steps: the training budget is in epochs; give `training.steps` "
                    "to dump noise (the step count must be known before the data exist)"
                )
            s = total
        if not 0 <= int(s) <= total:
            raise ValueError(f"noise_dump.steps: {s} lies outside 0..{total}")
        steps.add(int(s))
    return sorted(steps)


def snapshot_steps(experiment: Mapping, run: str, seed: int) -> list[int]:
    """The snapshots the train rule must save for ``run`` / ``seed`` (none if not dumped)."""
    if not experiment.get("noise_dump"):
        return []
    if run != noise_dump_run(experiment) or int(seed) not in noise_dump_seeds(experiment):
        return []
    return noise_dump_steps(experiment)
