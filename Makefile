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

.PHONY: setup demo mnist-vae celeba-dcgan demo-regimes mnist-regimes test test-fast lint errors-doc bench-metrics clean
.PHONY: own-model
.PHONY: demo-text demo-text-regimes demo-text-beams wikitext-gpt wikitext-opt

# $(call side-by-side,FOLDER,RUNS,COMPARE): run experiments/<run>.yaml for each of RUNS into
# runs/FOLDER/<run> (fixed folders, so a rerun resumes), then compare them into
# runs/FOLDER/COMPARE.
define side-by-side
for run in $(2); do \
  $(LAB) run experiments/$$run.yaml --run-dir runs/$(1)/$$run $(ARGS) || exit 1; \
done
$(LAB) compare $(foreach r,$(2),runs/$(1)/$(r)) --out runs/$(1)/$(3)
endef

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(LAB) run experiments/demo.yaml $(ARGS)

# A model from outside the lab, named by class_path (docs/models.md): examples/own_model/.
own-model: $(STAMP)
	$(LAB) run examples/own_model/experiment.yaml $(ARGS)

mnist-vae: $(STAMP)
	$(LAB) run experiments/mnist_vae.yaml $(ARGS)

celeba-dcgan: $(STAMP)
	$(LAB) run experiments/celeba_dcgan.yaml $(ARGS)

# A small GPT trained on its own writing (docs/text.md): offline on the Python manual, and
# on wikitext-2 placed by hand in data/wikitext-2-raw/ (sized for a GPU).
demo-text: $(STAMP)
	$(LAB) run experiments/demo_text.yaml $(ARGS)

# The text demo under replace, accumulate, fresh (10% real kept) and biased sampling
# (temperature 0.7), then side by side; fixed run folders, so a rerun resumes.
TEXT_RUNS := demo_text demo_text_accumulate demo_text_fresh demo_text_cold

demo-text-regimes: $(STAMP)
	$(call side-by-side,text_regimes,$(TEXT_RUNS),compare)

# The text demo decoding as the Nature paper does (5-way beam search, repetition penalty 3.0).
demo-text-beams: $(STAMP)
	$(LAB) run experiments/demo_text_beams.yaml $(ARGS)

wikitext-gpt: $(STAMP)
	$(LAB) run experiments/wikitext_gpt.yaml $(ARGS)

# The Nature paper's two settings as it ran them (docs/text.md): OPT-125m from the hub,
# fine-tuned each generation, 5-way beam search; then side by side. Fixed run folders, so a
# rerun resumes. For a GPU, with wikitext-2 in data/wikitext-2-raw/.
OPT_RUNS := wikitext_opt wikitext_opt_keep10

wikitext-opt: $(STAMP)
	$(call side-by-side,wikitext_opt,$(OPT_RUNS),compare)

# Regimes side by side on one seed and budget; fixed run folders, so a rerun resumes.
REGIMES := replace accumulate fresh biased

demo-regimes: $(STAMP)
	$(call side-by-side,regimes,$(addprefix mnist5k_,$(REGIMES)),mnist5k_compare)

mnist-regimes: $(STAMP)
	$(call side-by-side,regimes,$(addprefix mnist_,$(REGIMES)),mnist_compare)

# The DCGAN on digits (docs/gan.md): the demo on mnist5k padded to 32x32, its
# regimes side by side (fixed run folders, so a rerun resumes), and full MNIST for a GPU.
.PHONY: demo-gan demo-gan-regimes mnist-dcgan
GAN_RUNS := demo_gan demo_gan_accumulate demo_gan_fresh demo_gan_truncated

demo-gan: $(STAMP)
	$(LAB) run experiments/demo_gan.yaml $(ARGS)

demo-gan-regimes: $(STAMP)
	$(call side-by-side,regimes,$(GAN_RUNS),demo_gan_compare)

mnist-dcgan: $(STAMP)
	$(LAB) run experiments/mnist_dcgan.yaml $(ARGS)

# Curation (docs/curation.md): the digits VAE under replace, plain and with each built-in
# curator, and fresh with judge_confidence, side by side; the Gaussian mixture plain and with
# each built-in curator; the text demo plain and curated by generation 0's model.
.PHONY: demo-curation demo-curation-mixture demo-curation-text demo-curation-seeds \
  demo-correction-mixture
CURATION_RUNS := demo_curation demo_curation_judge_confidence demo_curation_class_balance \
  demo_curation_dedupe demo_curation_feature_density demo_curation_fresh_judge_confidence
CURATORS := judge_confidence class_balance dedupe feature_density

demo-curation: $(STAMP)
	$(call side-by-side,curation,$(CURATION_RUNS),compare)

demo-curation-mixture: $(STAMP)
	$(call side-by-side,curation,gmm_curation $(addprefix gmm_curation_,$(CURATORS)),gmm_compare)

demo-curation-text: $(STAMP)
	$(call side-by-side,curation,demo_text demo_text_judge_confidence,text_compare)

# The mixture's curators over five seeds, as one sweep, with paired differences against plain.
demo-curation-seeds: $(STAMP)
	$(LAB) sweep experiments/sweeps/gmm_curation_seeds.yaml --parallel $(PARALLEL) $(ARGS)

# Gillman et al.'s self-correcting expert on the mixture: plain against two strengths, then the
# same over five seeds with paired differences against plain.
demo-correction-mixture: $(STAMP)
	$(call side-by-side,curation,gmm_curation gmm_correction_01 gmm_correction_05,gmm_correction_compare)
	$(LAB) sweep experiments/sweeps/gmm_correction_seeds.yaml --parallel $(PARALLEL) $(ARGS)

# A class-conditional DDPM on digits (docs/diffusion.md): the CPU demo on mnist5k,
# and MAD's size on full MNIST for a GPU.
.PHONY: demo-diffusion demo-diffusion-regimes mnist-ddpm

demo-diffusion: $(STAMP)
	$(LAB) run experiments/demo_diffusion.yaml $(ARGS)

# replace, accumulate, fresh and guided (w = 2) side by side, four generations each (MAD's
# three findings, docs/diffusion.md); fixed run folders, so a rerun resumes.
DIFFUSION_RUNS := demo_diffusion_regimes demo_diffusion_accumulate demo_diffusion_fresh demo_diffusion_guided

demo-diffusion-regimes: $(STAMP)
	$(call side-by-side,regimes,$(DIFFUSION_RUNS),demo_diffusion_compare)

mnist-ddpm: $(STAMP)
	$(LAB) run experiments/mnist_ddpm.yaml $(ARGS)

# The whole suite, one pytest-xdist worker a CPU (one torch thread each), whole test files to a
# worker so that a file's shared runs are made once; .ci/run calls it. test-fast skips the
# tests marked slow (trained models, whole loops) for the edit-test loop (docs/getting-started.md).
# TEST_ARGS passes more, e.g. make test TEST_ARGS="--durations=40" or TEST_ARGS="-k sweep".
TEST_WORKERS ?= auto
TEST_ARGS    ?=
PYTEST := $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadscope $(TEST_ARGS)

test: $(STAMP)
	$(PYTEST)

test-fast: $(STAMP)
	$(PYTEST) -m "not slow"

# The manual (docs/, mkdocs.yml) as a site in site/, warnings as errors; tests/test_docs.py
# builds it the same way in make test. config-doc rewrites docs/config.md from the schema.
.PHONY: docs config-doc
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

config-doc: $(STAMP)
	$(BIN)/python -m lab.config_reference

# Rewrite docs/errors.md from the bad-input cases in tests/test_bad_inputs.py.
errors-doc: $(STAMP)
	COLLAPSE_LAB_WRITE_ERRORS_DOC=1 $(BIN)/python -m pytest -q tests/test_bad_inputs.py

# Our PRDC against the prdc package (speed, equal numbers, memory), then the tail split,
# Vendi and copy_fraction against their references; writes bench/RESULTS.md.
bench-metrics: $(STAMP)
	$(BIN)/python -m bench.prdc_bench --output bench/RESULTS.md
	$(BIN)/python -m bench.collapse_bench --output bench/RESULTS.md

# The GPU path against the pytorch/examples baselines (bench/speed.py): writes the machine's
# section of bench/RESULTS.md and bench/results.json. SIZE=auto (default) is full on a GPU
# and smoke on a CPU (tiny models, under a minute); bench/gpu_check.sh runs it on the GPU box
# together with the loop end to end.
SIZE ?= auto
.PHONY: bench
bench: $(STAMP)
	$(BIN)/python -m bench.speed --size $(SIZE) --out bench --command "make bench SIZE=$(SIZE)"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Reports, the collapse monitor and the nightly suite (docs/nightly.md):
#   make report RUN=runs/demo/<timestamp>
#   make check RUN=runs/demo/<timestamp> ARGS="--max-fid 400 --min-classes-covered 8"
#   make nightly ARGS="--set data.root=/datasets"
RUN ?=
.PHONY: nightly report check

nightly: $(STAMP)
	$(LAB) nightly experiments/nightly.yaml $(ARGS)

report: $(STAMP)
	$(if $(RUN),,$(error set RUN to a run directory, e.g. make report RUN=runs/demo/<timestamp>))
	$(LAB) report $(RUN)

check: $(STAMP)
	$(if $(RUN),,$(error set RUN to a run directory, e.g. make check RUN=runs/demo/<timestamp>))
	$(LAB) check $(RUN) $(ARGS)

# The Nature paper's simplest systems (docs/gaussians.md): 1,000
# Gaussian chains under both estimators and both regimes, and a 2-D Gaussian mixture refitted
# by EM for 2,000 generations (replace) and 200 (accumulate). Fixed run folders, so a rerun
# resumes (or does nothing).
.PHONY: gaussian gmm
GAUSSIAN_RUNS := unbiased_replace mle_replace unbiased_accumulate mle_accumulate

gaussian: $(STAMP)
	for run in $(GAUSSIAN_RUNS); do \
	  $(LAB) run experiments/gaussian.yaml --run-dir runs/gaussian/$$run \
	    --set model.estimator=$${run%_*} --set regime=$${run#*_} $(ARGS) || exit 1; \
	done
	$(LAB) compare $(foreach r,$(GAUSSIAN_RUNS),runs/gaussian/$(r)) --out runs/gaussian/compare

# Accumulate refits on every point so far (O(G^2) in all): 200 generations here, about 25 s;
# all 2,000 take roughly half an hour on 2 cores (extrapolated, docs/gaussians.md).
gmm: $(STAMP)
	$(LAB) run experiments/gmm.yaml --run-dir runs/gmm/replace $(ARGS)
	$(LAB) run experiments/gmm.yaml --run-dir runs/gmm/accumulate_200 \
	  --set regime=accumulate --set generations=201 $(ARGS)
	$(LAB) compare runs/gmm/replace runs/gmm/accumulate_200 --out runs/gmm/compare

# Numbers with error bars (docs/sweeps.md): the mnist5k VAE, replace against
# accumulate, 3 seeds each, as one sweep; then the comparison with 95% t-intervals.
# EXECUTOR=ray runs the same cells as Ray tasks on a local Ray instance (ARGS="--address
# HOST:6379" joins a cluster). PARALLEL cells at once on the local executor; on a CPU box each
# gets one torch thread unless OMP_NUM_THREADS says otherwise, so they share the cores.
.PHONY: demo-seeds
EXECUTOR ?= local
PARALLEL ?= 2
demo-seeds: export OMP_NUM_THREADS := $(or $(OMP_NUM_THREADS),1)
demo-seeds: $(STAMP)
	$(LAB) sweep experiments/sweeps/demo_seeds.yaml --executor $(EXECUTOR) \
	  $(if $(filter local,$(EXECUTOR)),--parallel $(PARALLEL)) $(ARGS)
