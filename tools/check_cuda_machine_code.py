#!/usr/bin/env python3
"""CI's machine-code check of the CUDA kernel module (no GPU needed): for every object file of csrc/cuda/ in a
build folder, cuobjdump must show machine code for each required architecture, no kernel may spill registers
to local memory, and the tensor-core GEMM kernels (names containing 'gemm_mma') must use tensor-core
instructions (HMMA, or HGMMA on sm_90a); an object with GEMM kernels must have at least one of them. (The
float32/float64 SIMT GEMM kernels compute exactly, without tensor cores, by design.)

    python tools/check_cuda_machine_code.py BUILD_DIR [--arch sm_80 --arch sm_90a]

cuobjdump and nvdisasm come from the CUDA toolkit or the pip packages nvidia-cuda-cuobjdump and
nvidia-cuda-nvdisasm. Exit status 1 lists what failed.
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys


def find_tool(name):
    """A CUDA binary tool on PATH, in the toolkit, or from its pip wheel (nvidia/cu*/bin/NAME)."""
    exe = shutil.which(name)
    if exe:
        return exe
    try:
        import nvidia
        for base in nvidia.__path__:
            hits = sorted(glob.glob(os.path.join(base, "cu*", "bin", name)))
            if hits:
                return hits[-1]
    except ImportError:
        pass
    for base in ("/usr/local/cuda/bin",):
        if os.path.exists(os.path.join(base, name)):
            return os.path.join(base, name)
    return None


def run(exe, args, path):
    p = subprocess.run([exe] + args + [path], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("cuobjdump %s %s failed: %s" % (" ".join(args), path, p.stderr.strip()))
    return p.stdout


def check_object(exe, path, archs):
    problems, kernels = [], 0
    listing = run(exe, ["--list-elf"], path)
    for arch in archs:
        if not re.search(r"\.%s\.cubin" % re.escape(arch), listing):
            problems.append("%s: no %s machine code (found: %s)" % (path, arch, " ".join(
                sorted(set(re.findall(r"\.(sm_\w+)\.cubin", listing)))) or "none"))
    usage = run(exe, ["--dump-resource-usage"], path)
    current = None
    for line in usage.splitlines():
        m = re.search(r"Function (\S+):", line)
        if m:
            current = m.group(1)
            kernels += 1
        m = re.search(r"STACK:(\d+)", line)
        spill = re.search(r"LOCAL:(\d+)", line)
        if current and spill and int(spill.group(1)) > 0:
            problems.append("%s: kernel %s uses %s bytes of local memory (register spills or a run-time indexed "
                            "array)" % (path, current, spill.group(1)))
    sass = run(exe, ["--dump-sass"], path)
    gemm_kernels, tensor_core_kernels = 0, 0
    for block in re.split(r"\n\s*Function : ", sass)[1:]:
        name = block.split("\n", 1)[0].strip().lower()
        if "gemm" not in name:
            continue
        gemm_kernels += 1
        if "gemm_mma" in name:
            tensor_core_kernels += 1
            if not re.search(r"\b(HMMA|HGMMA)\b", block):
                problems.append("%s: tensor-core GEMM kernel %s has no HMMA/HGMMA instructions" % (path, name))
    if gemm_kernels and not tensor_core_kernels:
        problems.append("%s: GEMM kernels but none on tensor cores (no kernel named *gemm_mma*)" % path)
    return problems, kernels


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build_dir")
    ap.add_argument("--arch", action="append", default=None, help="required machine code (default sm_80, sm_90a)")
    args = ap.parse_args()
    archs = args.arch or ["sm_80", "sm_90a"]
    exe, nvdisasm = find_tool("cuobjdump"), find_tool("nvdisasm")
    if not exe or not nvdisasm:
        print("check_cuda_machine_code: cuobjdump/nvdisasm not found (pip install nvidia-cuda-cuobjdump "
              "nvidia-cuda-nvdisasm)", file=sys.stderr)
        return 1
    os.environ.setdefault("NVDISASM_PATH", os.path.dirname(nvdisasm))  # cuobjdump --dump-sass runs nvdisasm
    objs = sorted(glob.glob(os.path.join(args.build_dir, "**", "csrc", "cuda", "*.cu.o"), recursive=True))
    if not objs:
        print("check_cuda_machine_code: no CUDA objects under %s" % args.build_dir, file=sys.stderr)
        return 1
    problems, total = [], 0
    for o in objs:
        p, k = check_object(exe, o, archs)
        problems += p
        total += k
    for p in problems:
        print("FAIL " + p)
    print("check_cuda_machine_code: %d object(s), %d kernel entries, architectures %s: %s"
          % (len(objs), total, ",".join(archs), "%d problem(s)" % len(problems) if problems else "ok"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
