# Two pinned environments, .venv (modern) and .venv-dgl (dgl): see README.md. The map of the package: docs/architecture.md.
PYTHON ?= python3.11
VENV := .venv
VENV_DGL := .venv-dgl
export DGLBACKEND := pytorch
# Datasets for the benchmarks; PyG downloads what is missing where it can.
DATA ?= data
SHARED_DATA ?= ../shared/data
# Device of the PyG benchmark cases: make bench DEVICE=cuda on a GPU.
DEVICE ?= cpu

.PHONY: demo test lint test-modern test-dgl bench docs clean

demo: $(VENV)/.installed
	$(VENV)/bin/edgeattr demo

test: lint test-modern test-dgl

# Static checks, in the modern lane: ruff with the rules of pyproject.toml, and mypy on edgeattr/.
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check --no-cache edgeattr tests
	$(VENV)/bin/mypy --cache-dir=/dev/null

test-modern: $(VENV)/.installed
	EDGEATTR_LANE=modern ./.ci/pytest-lane $(VENV)/bin/python

test-dgl: $(VENV_DGL)/.installed
	EDGEATTR_LANE=dgl ./.ci/pytest-lane $(VENV_DGL)/bin/python

bench: $(VENV)/.installed $(VENV_DGL)/.installed
	@if [ ! -d $(DATA)/Cora ] && [ -d $(SHARED_DATA)/Planetoid/Cora ]; then mkdir -p $(DATA) && cp -r $(SHARED_DATA)/Planetoid/Cora $(DATA)/; fi
	$(VENV)/bin/edgeattr bench --root $(DATA) --dgl-python $(VENV_DGL)/bin/python --device $(DEVICE)

# The site, warnings as errors: open docs/_build/html/index.html.
docs: $(VENV)/.installed
	$(VENV)/bin/sphinx-build -W --keep-going -q -b html docs docs/_build/html

# The documentation tools go into both lanes: the suite builds the site in each.
$(VENV)/.installed: requirements/modern.txt requirements/docs.txt pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements/modern.txt -r requirements/docs.txt
	$(VENV)/bin/pip install -q --no-deps -e .
	touch $@

$(VENV_DGL)/.installed: requirements/dgl.txt requirements/dgl-nodeps.txt requirements/docs.txt pyproject.toml
	test -x $(VENV_DGL)/bin/python || $(PYTHON) -m venv $(VENV_DGL)
	$(VENV_DGL)/bin/pip install -q -r requirements/dgl.txt -r requirements/docs.txt
	$(VENV_DGL)/bin/pip install -q --no-deps -r requirements/dgl-nodeps.txt
	$(VENV_DGL)/bin/pip install -q --no-deps -e .
	touch $@

clean:
	rm -rf $(VENV) $(VENV_DGL) outputs .pytest_cache .mypy_cache .ruff_cache $(DATA) docs/_build
