# collapse-lab: every target sets up .venv on first use, then reuses it.
# The torch/torchvision versions we test are pinned in constraints.txt;
# pyproject.toml keeps loose lower bounds so the package installs beside a GPU box's torch.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LAB    := $(BIN)/collapse-lab
# Extra arguments for the run targets, e.g. make mnist-vae ARGS="--set data.root=/data"
ARGS   ?=

.PHONY: setup demo mnist-vae celeba-dcgan test lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(LAB) run experiments/demo.yaml $(ARGS)

mnist-vae: $(STAMP)
	$(LAB) run experiments/mnist_vae.yaml $(ARGS)

celeba-dcgan: $(STAMP)
	$(LAB) run experiments/celeba_dcgan.yaml $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
