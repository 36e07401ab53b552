# Two commands do all set-up on a fresh machine:
#   make run    the default pipeline (offline, every figure) with snakemake --cores all
#   make test   lint and format checks, then the whole test suite
VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
# Extra arguments for snakemake or pytest, e.g. make run ARGS="--cores 1 fig_lm"
ARGS ?=
# Another full config instead of config/config.yaml, e.g. make run CONFIG=config/paper.yaml
CONFIG ?=
# An overlay merged over it, e.g. make run OVERLAY=config/fast.yaml (a shorter experiment)
OVERLAY ?=
# The shell sees paths in single quotes (a ' inside becomes '\''), so CONFIG="my dir/c.yaml"
# stays one argument.
shell_quote = '$(subst ','\'',$(1))'
CONFIG_FILE := $(or $(CONFIG),config/config.yaml)
CONFIG_FILES := $(call shell_quote,$(CONFIG_FILE))$(if $(OVERLAY), $(call shell_quote,$(OVERLAY)))
CONFIG_ARGS := $(if $(CONFIG)$(OVERLAY),--configfile $(CONFIG_FILES) --replace-workflow-config)
# GPU rules take one `gpu` token and the default profile allows one, so GPU jobs never share a
# card. Without an NVIDIA GPU they run on the CPU: allow as many at once as there are cores.
GPU_COUNT := $(shell nvidia-smi -L 2>/dev/null | grep -c '^GPU')
CPU_ONLY_ARGS := $(if $(filter 0,$(GPU_COUNT)),--resources gpu=$(shell nproc))

.PHONY: venv check-config run dry-run test lint format report clean-results

venv:
	@VENV=$(VENV) tools/ensure-venv.sh

# Validate the config first: errors name the file and key before Snakemake starts.
check-config: venv
	python -m gnitails.config $(CONFIG_FILES)

run: check-config
	snakemake --cores all $(CPU_ONLY_ARGS) $(CONFIG_ARGS) $(ARGS)

dry-run: check-config
	snakemake -n $(CONFIG_ARGS) $(ARGS)

lint: venv
	ruff check .
	ruff format --check .
	snakefmt --check .
	snakemake --lint
	snakemake --lint --configfile config/paper.yaml --replace-workflow-config

test: lint
	python -m pytest $(ARGS)

format: venv
	ruff check --fix .
	ruff format .
	snakefmt .

report: venv
	snakemake --report report.html $(CONFIG_ARGS)

clean-results:
	rm -rf results logs benchmarks
