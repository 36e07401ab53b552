# Shared set-up: config validation, wildcard constraints, and the named helpers that rules use
# instead of lambdas. Everything with logic lives in the gnitails library.
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

sys.path.insert(0, str(Path(workflow.basedir) / "workflow" / "scripts"))

from gnitails.config import ConfigError, validate_config
from gnitails.data.prepare import DOWNLOADED, needs_download

try:
    validate_config(config, source="config (config/config.yaml and any --configfile)")
except ConfigError as exc:
    raise WorkflowError(str(exc)) from None


def alternation(names):
    """A regex that matches exactly one of `names` (for wildcard constraints)."""
    return "|".join(sorted(names)) or "(?!)"


wildcard_constraints:
    dataset=alternation(config["datasets"]),
    source=alternation(DOWNLOADED),
    seed=r"\d+",


def dataset_spec(wildcards):
    return config["datasets"][wildcards.dataset]


def prepare_inputs(wildcards):
    """Downloaded sources need their verified raw files; generated ones need nothing."""
    source = dataset_spec(wildcards)["source"]
    if needs_download(source):
        return {"manifest": f"resources/datasets/{source}/manifest.json"}
    return {}


def used_datasets():
    return sorted({exp["dataset"] for exp in config["experiments"].values()})


def all_targets():
    """Everything `rule all` builds for the config in use."""
    return [f"results/data/{name}.npz" for name in used_datasets()]
