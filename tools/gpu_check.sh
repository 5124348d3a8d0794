#!/usr/bin/env bash
# The one-shot GPU check, for the lent H200 (the device tool's `run`; the machine keeps nothing between calls):
# builds Ember with EMBER_CUDA=ON for sm_90a on all cores, runs the CUDA tests, runs compute-sanitizer memcheck
# on a small subset with the caching allocator off, and times the GPU benchmarks beside PyTorch CUDA. Results
# (junit XML, JSON, logs) go to $OUT. Aim: under 8 minutes.
#
#   bash tools/gpu_check.sh            # on the GPU machine
#   bash tools/gpu_check.sh --dry-run  # here, on the CPU: the same steps, with the GPU-only ones reported as skipped
set -uo pipefail
cd "$(dirname "$0")/.."
DRY=0
[ "${1:-}" = "--dry-run" ] && DRY=1
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
status=0
step() { echo "== $* ($(date +%T))"; }

step "build (EMBER_CUDA=ON, sm_90a, $(nproc) jobs)"
ARCH="90a-real"
if [ $DRY = 1 ] && ! command -v nvcc >/dev/null; then
  echo "dry run without nvcc: building the CPU package"; CUDA_FLAG=OFF
else
  CUDA_FLAG=ON
fi
BUILD=${BUILD_DIR:-build/gpu-check}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEMBER_CUDA=$CUDA_FLAG -DEMBER_CUDA_WERROR=ON \
  -DCMAKE_CUDA_ARCHITECTURES=$ARCH -Dpybind11_DIR="$($PY -c 'import pybind11; print(pybind11.get_cmake_dir())')" \
  > "$OUT/build.log" 2>&1 && cmake --build "$BUILD" -j "$(nproc)" >> "$OUT/build.log" 2>&1
if [ $? -ne 0 ]; then tail -30 "$OUT/build.log"; echo "build failed"; exit 1; fi
# the developer build drops _C next to the sources: run from there
export PYTHONPATH="$PWD/python${PYTHONPATH:+:$PYTHONPATH}"
$PY -c "import ember, sys; print('ember', ember.__file__, 'cuda built', ember._C._cuda_built(), 'available', ember.cuda.is_available()); print('missing CUDA kernels:', ', '.join(ember._C._missing_kernels('cuda')) or 'none')" | tee "$OUT/module.txt"

step "CUDA tests"
$PY -m pytest -q tests/cuda -p no:cacheprovider --junitxml="$OUT/cuda-tests.xml" > "$OUT/cuda-tests.log" 2>&1 || status=1
tail -3 "$OUT/cuda-tests.log"

step "compute-sanitizer memcheck (caching off)"
if [ $DRY = 1 ] || ! command -v compute-sanitizer >/dev/null; then
  echo "skipped: $([ $DRY = 1 ] && echo dry run || echo compute-sanitizer not found)"
else
  EMBER_CUDA_NO_CACHING=1 timeout 240 compute-sanitizer --tool memcheck --error-exitcode 3 \
    $PY -m pytest -q -x tests/cuda/test_cuda_ops.py -k "small" -p no:cacheprovider > "$OUT/memcheck.log" 2>&1 || status=1
  tail -5 "$OUT/memcheck.log"
fi

step "GPU benchmarks beside PyTorch CUDA"
if [ $DRY = 1 ]; then
  $PY bench/bench_cuda.py --dry-run --json "$OUT/bench-cuda.json" 2>&1 | tail -15
else
  for path in cublas own; do
    EMBER_GEMM=$path timeout 200 $PY bench/bench_cuda.py --json "$OUT/bench-cuda-$path.json" 2>&1 | tail -12 || status=1
  done
fi
step "done (status $status); results in $OUT"
exit $status
