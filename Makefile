# craft_dag: two commands on a fresh machine.
#   make demo   set up .venv, then materialise every asset, every category (tiny profile)
#   make test   set up .venv, then lint, validate the code location and run the test suite
#   make checks materialise the whole graph in a fresh instance and report every asset check
#               (CI runs it after make test; a failing blocking check fails the build)
# Both create the project-local virtualenv on first use; nothing needs doing by hand first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.craft-installed
TORCH_VERSION := 2.13.0
# Where there is no GPU, torch (alone, without its dependencies) comes from PyTorch's CPU index
# or a local CPU wheel that pip already finds; a plain `pip install torch` would pull a
# multi-GB CUDA build. Its dependencies then come from PyPI with everything else.
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
PYTEST_ARGS ?=
TESSERACT_PACKAGES := tesseract-ocr tesseract-ocr-rus tesseract-ocr-eng
TESSERACT_CHECK := command -v tesseract >/dev/null 2>&1 && tesseract --list-langs 2>/dev/null | grep -qx rus && tesseract --list-langs 2>/dev/null | grep -qx eng
TESSERACT_MISSING := Tesseract with Russian and English data is missing
# The browser tests (the side-by-side kit, the Dagster UI) drive Debian's headless Chromium.
CHROMIUM_PACKAGES := chromium
CHROMIUM_CHECK := command -v chromium >/dev/null 2>&1
CHROMIUM_MISSING := Chromium is missing (the browser tests fail without it)
CHROMIUM_SKIP := , or set CRAFT_SKIP_BROWSER=1
# The cluster instance's tests start a throw-away PostgreSQL server (Debian's, as a non-root user).
POSTGRES_PACKAGES := postgresql
POSTGRES_CHECK := [ "$${CRAFT_SKIP_POSTGRES:-0}" = 1 ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
POSTGRES_MISSING := the PostgreSQL server is missing (the cluster instance's tests fail without it)
POSTGRES_SKIP := , or set CRAFT_SKIP_POSTGRES=1

# $(call apt_ensure,NAME): nothing when $(NAME_CHECK) succeeds; as root with apt-get, install
# $(NAME_PACKAGES) (`apt-get update` only if the first try fails, to save time); otherwise say
# what is missing and the apt-get line to run.
apt_ensure = if $($(1)_CHECK); then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "setup: installing $($(1)_PACKAGES) with apt-get"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $($(1)_PACKAGES) >/dev/null \
		|| { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $($(1)_PACKAGES) >/dev/null; }; \
	else \
		echo "setup: $($(1)_MISSING): install $($(1)_PACKAGES) (e.g. sudo apt-get install $($(1)_PACKAGES))$($(1)_SKIP)"; \
	fi

export CRAFT_HOME ?= $(CURDIR)/.craft
export DAGSTER_HOME ?= $(CRAFT_HOME)/dagster_home
export CRAFT_PROFILE ?= tiny

.PHONY: demo test checks lint ui validate-pack bench clean setup

# The Label Studio server the review round-trip tests start. It lives in its own virtualenv:
# its Django stack pins packages that must not touch the project's environment.
LS_VENV := .venv-labelstudio
LS_STAMP := $(LS_VENV)/.installed

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "craft_dag needs Python >= 3.11 (set PYTHON=python3.11)"'
	@# System packages, installed with apt when root (CI), else the line to run is printed:
	@# Tesseract's language data for text/watermark detection (tesserocr bundles the engine),
	@# Chromium for the browser tests, PostgreSQL's server for the cluster instance's tests.
	@$(call apt_ensure,TESSERACT)
	@$(call apt_ensure,CHROMIUM)
	@$(call apt_ensure,POSTGRES)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
		echo "setup: GPU found: torch $(TORCH_VERSION) (CUDA build)"; \
		echo "torch==$(TORCH_VERSION)" > $(VENV)/torch-requirement.txt; \
	else \
		echo "setup: no GPU: torch $(TORCH_VERSION) (CPU build)"; \
		echo "torch==$(TORCH_VERSION)+cpu" > $(VENV)/torch-requirement.txt; \
		$(BIN)/pip install -q --no-deps --retries 1 -r $(VENV)/torch-requirement.txt \
			$(if $(TORCH_CPU_INDEX),--extra-index-url $(TORCH_CPU_INDEX)); \
	fi
	@echo "setup: installing craft-dag and its pinned dependencies into $(VENV)"
	@$(BIN)/pip install -q -c constraints.txt -e '.[dev]' -r $(VENV)/torch-requirement.txt
	@touch $@

$(DAGSTER_HOME)/dagster.yaml: deploy/local/dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	@cp $< $@

demo: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	@$(BIN)/craft pack validate $${CRAFT_PACK:-craft_dag/packs/ru}
	@$(BIN)/python -m craft_dag.jobs.demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(STAMP) $(DAGSTER_HOME)/dagster.yaml $(LS_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	VIRTUAL_ENV=$(abspath $(VENV)) $(BIN)/dg check defs
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# A fresh CRAFT_HOME and instance each time, so the report shows this run's checks only.
CHECKS_HOME := $(CURDIR)/.craft/checks
checks: $(STAMP)
	@rm -rf $(CHECKS_HOME) && mkdir -p $(CHECKS_HOME)/dagster_home
	@cp deploy/local/dagster.yaml $(CHECKS_HOME)/dagster_home/dagster.yaml
	CRAFT_HOME=$(CHECKS_HOME) DAGSTER_HOME=$(CHECKS_HOME)/dagster_home CRAFT_PROFILE=tiny \
		$(BIN)/python -m craft_dag.jobs.ci_checks --markdown test-artifacts/asset-checks.md

ui: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

validate-pack: $(STAMP)
	$(BIN)/craft pack validate -v $${CRAFT_PACK:-craft_dag/packs/ru}

$(LS_STAMP): review/requirements.txt
	@echo "setup: installing the Label Studio server into $(LS_VENV) (about 1 GB, once)"
	@test -x $(LS_VENV)/bin/python || $(PYTHON) -m venv $(LS_VENV)
	@$(LS_VENV)/bin/pip install -q -r review/requirements.txt
	@touch $@

# Benchmarks: figures go to docs/benchmarks.md. Their reference tools (img2dataset for fetching,
# cleanvision and imagededup for the curation scores) live in their own virtualenv so their pins
# never touch the project's environment.
.venv-bench/.installed: bench/requirements.txt
	@test -x .venv-bench/bin/python || $(PYTHON) -m venv .venv-bench
	@.venv-bench/bin/pip install -q -r bench/requirements.txt
	@touch $@

bench: $(STAMP) .venv-bench/.installed
	$(BIN)/python -m bench.bench_fetch --out docs/benchmarks.md
	$(BIN)/python -m bench.bench_scores --out docs/benchmarks.md
	$(BIN)/python -m bench.bench_curation_quality --out docs/benchmarks.md
	$(BIN)/python -m bench.bench_shards --out docs/benchmarks.md
	$(BIN)/python -m bench.bench_captions --out docs/benchmarks.md
	$(BIN)/python -m bench.bench_caption_lint --out docs/benchmarks.md
	$(BIN)/python -m bench.bench_translate --out docs/benchmarks.md
	$(BIN)/python -m bench.bench_train --out docs/benchmarks.md
	$(BIN)/python -m bench.bench_orchestration --out docs/benchmarks.md
	$(BIN)/python -m bench.report --stamp docs/benchmarks.md

clean:
	rm -rf $(CRAFT_HOME) .pytest_cache .ruff_cache
