#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer check: builds ember_core and _C with -DEMBER_SANITIZE=ON into a
# build folder of their own and runs a subset of the tests against that build, every report fatal.
#
#   tools/sanitize_check.sh                        # build/sanitize, the default subset (CI)
#   tools/sanitize_check.sh BUILD_DIR [TESTS...]   # another build folder and/or other test paths
#   PYTHON=/path/to/python JOBS=2 tools/sanitize_check.sh ...
#   SANITIZE_OPT=-O0 SANITIZE_DEBUG=-g1 tools/sanitize_check.sh  # CI: about 3x faster to build, line tables only
#
# The interpreter is not instrumented, so the ASan runtime must come first in the process: it is preloaded
# (LD_PRELOAD, with libstdc++), from the same compiler that built _C. The instrumented _C is placed in BUILD_DIR/python/ember
# beside links to the Python sources, never in python/ember (it would shadow the normal build there).
# Leak detection is off: CPython keeps interned objects and module state alive until exit by design.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/sanitize}
[ $# -gt 0 ] && shift
TESTS=("$@")
mkdir -p "$BUILD"
BUILD=$(cd "$BUILD" && pwd)
if [ ${#TESTS[@]} -eq 0 ]; then
  # fast tests that reach most C++ entry points: the op database (every pointwise/reduction/shape kernel, dtypes,
  # broadcasting, strides), argument checking and error paths, the reliability cases, the CPU kernel files
  TESTS=(tests/test_ops.py tests/test_errors.py tests/test_reliability.py tests/cpu)
fi
PY=${PYTHON:-python3}
JOBS=${JOBS:-$(nproc)}
CXX=${CXX:-c++}
step() { echo "== $* ($(date +%T))"; }

step "configure + build (EMBER_SANITIZE=ON, ${SANITIZE_OPT:--O1}, $JOBS jobs) in $BUILD"
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# the optimisation level comes after the build type's flags, so EMBER_SANITIZE_OPT decides it
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$(command -v "$CXX")" \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="${SANITIZE_DEBUG:--g} -DNDEBUG" -DEMBER_SANITIZE_OPT="${SANITIZE_OPT:--O1}" \
  -DEMBER_CUDA=OFF -DEMBER_SANITIZE=ON "${launcher[@]}" -DPython_EXECUTABLE="$(command -v "$PY")" \
  -Dpybind11_DIR="$("$PY" -c 'import pybind11; print(pybind11.get_cmake_dir())')" > "$BUILD/configure.log" 2>&1 \
  || { tail -30 "$BUILD/configure.log"; echo "configure failed"; exit 1; }
cmake --build "$BUILD" -j "$JOBS"

# the package as the tests import it: links to every Python source entry, plus the instrumented _C
PKG="$BUILD/python/ember"
mkdir -p "$PKG"
find "$PKG" -maxdepth 1 -type l -delete
for entry in "$PWD"/python/ember/*; do
  case "$(basename "$entry")" in _C*.so|__pycache__) continue ;; esac
  ln -s "$entry" "$PKG/"
done
ls "$PKG"/_C*.so >/dev/null

# libstdc++ is preloaded too: the interpreter does not link it, and ASan looks up the real __cxa_throw when it
# starts; without it every C++ exception (each argument error) dies with "CHECK failed ... real___cxa_throw".
ASAN_LIB=$("$CXX" -print-file-name=libasan.so)
STDCXX_LIB=$("$CXX" -print-file-name=libstdc++.so)
for lib in "$ASAN_LIB" "$STDCXX_LIB"; do
  [ -e "$lib" ] || { echo "$CXX has no $(basename "$lib") ($lib)"; exit 1; }
done
step "tests under ASan+UBSan: ${TESTS[*]}"
# PYTHONMALLOC=malloc: Python's own objects are allocated by ASan's malloc too, so a write past a buffer that the
# extension fills (bytes, numpy arrays, lists) is caught instead of landing silently in a pymalloc arena.
LD_PRELOAD="$ASAN_LIB $STDCXX_LIB" \
ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=1:detect_stack_use_after_return=0 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1 \
PYTHONMALLOC=malloc PYTHONPATH="$BUILD/python" \
  "$PY" -m pytest -x -q --capture=sys -p no:cacheprovider "${TESTS[@]}"
step "sanitizer check passed"
