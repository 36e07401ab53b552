"""Configuration: load, fill defaults from the JSON schema, validate, cross-check.

One entry point, :func:`validate_config`, serves the Snakefile, the CLI and the tests, so every
bad config gets the same message: the dotted key at fault, the value and what was expected.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import math
from collections.abc import Iterator, Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import jsonschema
import yaml

# Package data (declared in pyproject.toml), so an installed wheel finds it as the checkout does.
SCHEMA = resources.files("gnitails") / "schemas" / "config.schema.yaml"

# Sources whose examples are images with a class label; the conv net needs them.
IMAGE_SOURCES = frozenset({"digits", "mnist", "cifar10", "svhn"})


class ConfigError(ValueError):
    """A configuration problem; the message names the key (and file) at fault."""


class _StrictLoader(yaml.SafeLoader):
    """safe_load that refuses a key given twice in one mapping (YAML would keep the last)."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first at line {seen[key] + 1}; YAML would silently "
                    "keep the last)",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: str | Path | Traversable) -> Any:
    """Read a YAML file, turning a syntax error, a duplicate key or a binary file into a
    ConfigError naming the file and line."""
    if isinstance(path, str):
        path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path} is not a text (UTF-8) file: byte {exc.start} cannot be decoded"
        ) from exc
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc


def non_finite_errors(value: Any, path: str = "") -> list[str]:
    """Every NaN or infinite number in the config, by dotted key: never a valid setting."""
    if isinstance(value, float) and not math.isfinite(value):
        return [f"{path or '<top level>'}: {value} is not a valid number (NaN or infinity)"]
    if isinstance(value, Mapping):
        return [
            m for k, v in value.items() for m in non_finite_errors(v, f"{path}.{k}".lstrip("."))
        ]
    if isinstance(value, list):
        return [m for i, v in enumerate(value) for m in non_finite_errors(v, f"{path}.{i}")]
    return []


def load_schema(path: str | Path | Traversable = SCHEMA) -> dict:
    return load_yaml(path)


@functools.cache
def _schema() -> dict:
    """The package's schema, read once per process (every validation and default uses it)."""
    return load_schema()


@functools.cache
def _defaulting_validator_class():
    """A draft 2020-12 validator that also writes `default:` values into the instance."""
    base = jsonschema.Draft202012Validator
    validate_properties = base.VALIDATORS["properties"]

    def properties_with_defaults(validator, properties, instance, schema):
        if validator.is_type(instance, "object"):
            for key, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub and key not in instance:
                    instance[key] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    # JSON Schema counts 1500.0 as an integer; a step count, seed or size written as a float
    # is a typo here, so integers must be written as integers.
    strict_int = base.TYPE_CHECKER.redefine(
        "integer", lambda _checker, x: isinstance(x, int) and not isinstance(x, bool)
    )
    return jsonschema.validators.extend(
        base, {"properties": properties_with_defaults}, type_checker=strict_int
    )


def _key_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "<top level>"


def _leaf_errors(error: jsonschema.ValidationError) -> Iterator[jsonschema.ValidationError]:
    """The most specific error behind an error (oneOf/allOf/if-then wrap the real one)."""
    if error.context:
        yield jsonschema.exceptions.best_match(error.context)
    else:
        yield error


def schema_errors(config: Any, schema: Mapping | None = None) -> list[str]:
    """Validate `config` in place (defaults filled); return one message per problem."""
    validator = _defaulting_validator_class()(schema or _schema())
    messages = []
    for error in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.path))):
        for leaf in _leaf_errors(error):
            messages.append(f"{_key_path(leaf)}: {leaf.message}")
    return sorted(set(messages))


def with_defaults(block: Any, definition: str, where: str | None = None) -> dict:
    """A validated deep copy of one config block of schema type ``$defs.{definition}`` (e.g.
    ``training``, ``noise_dump``), every missing key filled with the schema's default.

    The schema is the one place defaults are written; library code reads them through this.
    Raises ConfigError naming ``{where}.{key}`` for every problem.
    """
    where = where or definition
    if not isinstance(block, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(block).__name__}")
    filled = copy.deepcopy(dict(block))
    schema = _schema()
    problems = schema_errors(filled, {"$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"})
    if problems:
        listed = "\n".join(f"  - {where}.{p}" for p in problems)
        raise ConfigError(f"invalid {definition} ({where}):\n{listed}")
    return filled


def schema_default(definition: str, *keys: str) -> Any:
    """The schema's default of ``$defs.{definition}.{keys...}`` (a nested object's defaults by
    key path), for library defaults that must agree with the config's."""
    node = _schema()["$defs"][definition]
    for key in keys:
        node = node["properties"][key]
    return copy.deepcopy(node["default"])


def reference_errors(config: Mapping) -> list[str]:
    """Cross-references the schema cannot express: names that must exist, model/data fit."""
    messages = []
    datasets = config.get("datasets", {})
    experiments = config.get("experiments", {})
    for name, exp in experiments.items():
        ds_name = exp["dataset"]
        if ds_name not in datasets:
            messages.append(
                f"experiments.{name}.dataset: {ds_name!r} is not defined under `datasets` "
                f"(defined: {', '.join(sorted(datasets)) or 'none'})"
            )
        elif exp["model"]["arch"] == "convnet" and datasets[ds_name]["source"] not in IMAGE_SOURCES:
            messages.append(
                f"experiments.{name}.model.arch: convnet needs image data, but dataset "
                f"{ds_name!r} has source {datasets[ds_name]['source']!r}"
            )
    for name, exp in experiments.items():
        messages += _noise_errors(name, exp)
        if exp["dataset"] in datasets:
            messages += _size_errors(name, exp, train_size(datasets[exp["dataset"]]))
        messages += _noise_dump_errors(name, exp)
    for name, ds in datasets.items():
        subset = ds.get("train_subset")
        if subset is not None and subset > (full := train_size({**ds, "train_subset": None})):
            messages.append(
                f"datasets.{name}.train_subset: asks for {subset} examples but only {full} "
                f"training examples exist ({ds['source']})"
            )
    for name, study in (config.get("sde") or {}).items():
        messages += _potential_errors(name, study["potential"])
    for fig, spec in config.get("figures", {}).items():
        for exp_name in spec["experiments"]:
            if exp_name not in experiments:
                messages.append(
                    f"figures.{fig}.experiments: {exp_name!r} is not defined under "
                    f"`experiments` (defined: {', '.join(sorted(experiments)) or 'none'})"
                )
    return messages


# Training examples of each source (digits: before its stratified test split).
FULL_TRAIN_SIZES = {"digits": 1797, "mnist": 60000, "cifar10": 50000, "svhn": 73257}


def train_size(ds: Mapping) -> int:
    """Training examples a dataset block yields (as gnitails.data.prepare builds it)."""
    ds = with_defaults(ds, "dataset")
    if ds["source"] == "sinusoids":
        return int(ds["n_train"])
    full = FULL_TRAIN_SIZES[ds["source"]]
    if ds["source"] == "digits":  # scikit-learn's split: ceil(fraction * n) held out
        full -= math.ceil(ds["test_fraction"] * full)
    subset = ds.get("train_subset")
    return min(full, subset) if subset is not None else full


def _size_errors(name: str, exp: Mapping, n_train: int) -> list[str]:
    """Batches that ask for more examples than the training set has."""
    sizes = {
        "training.batch_size": exp["training"].get("batch_size"),
        "noise_dump.batch": (exp.get("noise_dump") or {}).get("batch"),
        "noise_dump.minibatch_size": (exp.get("noise_dump") or {}).get("minibatch_size"),
    }
    return [
        f"experiments.{name}.{key}: {size} exceeds the {n_train} training examples of "
        f"dataset {exp['dataset']!r}"
        for key, size in sizes.items()
        if size is not None and size > n_train
    ]


def _noise_dump_errors(name: str, exp: Mapping) -> list[str]:
    """A noise_dump naming a run, seed or step the experiment does not have."""
    from gnitails.runs import noise_dump_run, noise_dump_seeds, noise_dump_steps

    if not exp.get("noise_dump"):
        return []
    messages = []
    for check in (noise_dump_run, noise_dump_seeds, noise_dump_steps):
        try:
            check(exp)
        except ValueError as exc:
            messages.append(f"experiments.{name}.{exc}")
    return messages


def _potential_errors(name: str, potential: Mapping) -> list[str]:
    """A custom SDE potential whose module cannot be found (its job would fail after others
    have run). The module is only looked up, not run: the job's environment may hold
    dependencies that this process lacks, so an import that fails otherwise is left to it."""
    if potential.get("kind") != "custom":
        return []
    target = potential["target"]
    module = target.partition(":")[0]
    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        found = False
    except Exception:  # a parent package that fails here may import in the job's environment
        return []
    if found:
        return []
    return [
        f"sde.{name}.potential.target: module {module!r} of {target!r} cannot be found on "
        "the Python path (PYTHONPATH)"
    ]


def model_layers(model: Mapping) -> int:
    """L, the parametrised layers of a validated model block (as gnitails.models builds them):
    an MLP's hidden layers plus its output layer; the conv net's two convolutions plus its
    linear map."""
    return 3 if model["arch"] == "convnet" else int(model["depth"]) + 1


def _noise_errors(name: str, exp: Mapping) -> list[str]:
    """sigma lists of the wrong length, and noise that is switched off everywhere although
    the experiment trains with noise (it would train silently without any)."""
    noise, n_acts = exp["noise"], model_layers(exp["model"]) + 1
    sigma = noise["sigma"]
    key = f"experiments.{name}.noise.sigma"
    if isinstance(sigma, list):
        if len(sigma) != n_acts:
            return [
                f"{key}: a list needs one std per activation h_0 .. h_L, i.e. {n_acts} for this "
                f"{n_acts - 1}-layer model, got {len(sigma)}"
            ]
        sigmas = list(sigma)
    else:
        sigmas = [sigma] * n_acts
    sigmas[0] = sigmas[0] if noise["inject_input"] else 0
    sigmas[-1] = sigmas[-1] if noise["inject_output"] else 0
    noisy_rules = [r for r in exp["training"]["rules"] if r != "baseline"]
    if noisy_rules and not any(sigmas):
        return [
            f"{key}: no layer gets noise ({sigma} with inject_input "
            f"{noise['inject_input']}, inject_output {noise['inject_output']}"
            f"), but the rules {noisy_rules} inject it"
        ]
    return []


def validate_config(config: Any, source: str = "config", schema: Mapping | None = None) -> dict:
    """Fill defaults into `config` (in place) and raise ConfigError listing every problem.

    `source` names where the config came from (a file path) in the message.
    """
    if not isinstance(config, dict):
        raise ConfigError(f"{source}: the config must be a mapping, got {type(config).__name__}")
    problems = non_finite_errors(config) or schema_errors(config, schema)
    if not problems:
        problems = reference_errors(config)
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        raise ConfigError(f"invalid configuration ({source}), {len(problems)} {noun}:\n{listed}")
    return config


def load_config(*paths: str | Path) -> dict:
    """Load one or more YAML files (later ones override top-level keys, as Snakemake does)."""
    config: dict = {}
    for path in paths:
        data = load_yaml(path)
        if data is None:
            continue
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the config must be a mapping, got {type(data).__name__}")
        _deep_update(config, data)
    return validate_config(config, source=", ".join(map(str, paths)))


def check_files(paths) -> None:
    """Raise ConfigError for a config file that Snakemake's own YAML reading would accept
    silently (a duplicate key) or choke on without naming it (a binary file)."""
    for path in paths:
        load_yaml(path)


def _deep_update(base: dict, new: Mapping) -> None:
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _deep_update(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


def main(argv: list[str] | None = None) -> int:
    """`python -m gnitails.config FILE...`: validate config files (later ones overlay earlier)."""
    import sys

    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python -m gnitails.config CONFIG.yaml [OVERLAY.yaml ...]", file=sys.stderr)
        return 2
    try:
        cfg = load_config(*paths)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{', '.join(paths)}: valid ({len(cfg['experiments'])} experiments)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
