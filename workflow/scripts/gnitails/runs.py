"""Training runs an experiment asks for, and their names (no torch: the Snakefile uses it).

A run is ``baseline`` (no noise), ``gni`` (one draw), ``m{M}`` (the M-draw loss L~_M) or
``explicit`` (clean loss + R); the name is the ``{run}`` wildcard under results/train/.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

RUN_NAME = re.compile(r"^(baseline|gni|explicit|m([1-9][0-9]*))$")
RUN_WILDCARD = RUN_NAME.pattern[1:-1]  # the same, as a Snakemake wildcard constraint


@dataclass(frozen=True)
class RunSpec:
    """One training run of an experiment: directory ``name``, ``rule`` and draws ``m``."""

    name: str
    rule: str
    m: int = 1

    @classmethod
    def parse(cls, name: str) -> RunSpec:
        """``baseline`` | ``gni`` | ``explicit`` | ``m{M}`` -> RunSpec."""
        match = RUN_NAME.match(name)
        if not match:
            raise ValueError(f"run name {name!r} is not baseline, gni, explicit or m<M> (e.g. m16)")
        if match.group(2):
            return cls(name, "gni_m", int(match.group(2)))
        return cls(name, name, 1)


def planned_runs(experiment: Mapping) -> list[RunSpec]:
    """The runs an experiment asks for, in config order (gni_m expands to m{M} per M)."""
    training = experiment["training"]
    runs = []
    for rule in training.get("rules", ["gni_m"]):
        if rule == "gni_m":
            runs += [RunSpec(f"m{m}", rule, m) for m in training.get("m_values", [1, 2, 4, 8, 16])]
        else:
            runs.append(RunSpec(rule, rule, 1))
    return runs
