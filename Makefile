# Two entry points: `make demo` (reliant's main job) and `make test` (every check).
# uv is installed with pip when missing; it never downloads an interpreter.
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON_PREFERENCE := only-system
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
SCENARIO ?= examples/scenarios/hard-outage.yaml
# pytest worker processes: most control-plane tests wait on real servers and engines, so
# a third worker keeps two cores busy.
TEST_WORKERS ?= 3

# `make demo DEMO_FLAGS=--exit` ends after the game day instead of waiting for Ctrl-C.
DEMO_FLAGS ?=

.PHONY: demo simulate test lint typecheck bench uv

uv:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv

demo: uv
	$(UV) run --frozen reliant demo $(DEMO_FLAGS)

simulate: uv
	$(UV) run --frozen reliant simulate $(SCENARIO)

lint: uv
	$(UV) run --frozen ruff check src tests benchmarks examples
	$(UV) run --frozen ruff format --check src tests benchmarks examples

typecheck: uv
	$(UV) run --frozen mypy

test: lint typecheck
	$(UV) run --frozen pytest -n $(TEST_WORKERS) --dist loadfile --cov --cov-report=term --durations=25

bench: uv
	$(UV) run --frozen python -m benchmarks
