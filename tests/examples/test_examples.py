"""Runs every example in examples/ in its short form (EMBER_QUICK=1) and checks what it reports."""
import contextlib
import io
import os
import re
import runpy
import sys

import numpy as np

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples")


def run_example(name, *args, cwd=None):
    """Runs examples/<name>.py as __main__ with EMBER_QUICK=1 and returns what it printed."""
    old_argv, old_cwd, old_env = sys.argv, os.getcwd(), os.environ.get("EMBER_QUICK")
    sys.argv = [name + ".py", *args]
    os.environ["EMBER_QUICK"] = "1"
    sys.path.insert(0, EXAMPLES)
    out = io.StringIO()
    try:
        if cwd is not None:
            os.chdir(cwd)
        sys.modules.pop("_common", None)  # re-read EMBER_QUICK
        with contextlib.redirect_stdout(out):
            runpy.run_path(os.path.join(EXAMPLES, name + ".py"), run_name="__main__")
    finally:
        sys.argv = old_argv
        os.chdir(old_cwd)
        sys.path.remove(EXAMPLES)
        if old_env is None:
            os.environ.pop("EMBER_QUICK", None)
        else:
            os.environ["EMBER_QUICK"] = old_env
    return out.getvalue()


def numbers(pattern, text):
    m = re.search(pattern, text)
    assert m, "%r not found in output:\n%s" % (pattern, text)
    return [float(g) for g in m.groups()]


def test_every_example_is_tested():
    tested = {"linear_regression", "two_layer_numpy", "two_layer_net", "two_layer_nn", "two_layer_optim",
              "custom_function", "perceptron", "lenet_cifar", "finetune", "save_resume"}
    present = {f[:-3] for f in os.listdir(EXAMPLES) if f.endswith(".py") and not f.startswith("_")}
    assert present == tested


def test_linear_regression():
    w, b = numbers(r"learned: y = ([-\d.]+) x \+ ([-\d.]+)", run_example("linear_regression"))
    assert abs(w - 2) < 0.05 and abs(b - 1) < 0.1


def test_two_layer_network_four_ways():
    results = {}
    for way in ("two_layer_numpy", "two_layer_net", "two_layer_nn", "two_layer_optim"):
        first, last = numbers(r"loss ([\d.e+]+) -> ([\d.e+]+)", run_example(way))
        assert last < first / 10, way
        results[way] = (first, last)
    # hand-written gradients and autograd take exactly the same steps
    assert results["two_layer_numpy"] == results["two_layer_net"]


def test_custom_function():
    out = run_example("custom_function")
    assert "gradcheck: True" in out
    first, last = numbers(r"loss ([\d.]+) -> ([\d.]+)", out)
    assert last < first / 10


def test_perceptron():
    out = run_example("perceptron")
    assert "custom Linear matches nn.Linear: True" in out
    assert "training accuracy 100.0%" in out


def test_lenet_cifar_synthetic_and_local_files(tmp_path):
    out = run_example("lenet_cifar", cwd=tmp_path)
    assert "synthetic" in out
    assert numbers(r"epoch 2: train loss [\d.]+, test accuracy ([\d.]+)%", out)[0] > 30  # chance is 10%
    # the same script on CIFAR-10 files in the binary format
    folder = tmp_path / "cifar" / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ["data_batch_%d" % i for i in range(1, 6)] + ["test_batch"]:
        records = rng.integers(0, 256, size=(20, 3073), dtype=np.uint8)
        records[:, 0] %= 10
        records.tofile(folder / (name + ".bin"))
    (folder / "batches.meta.txt").write_text("\n".join("c%d" % i for i in range(10)))
    out = run_example("lenet_cifar", "--data-dir", str(tmp_path / "cifar"), "--epochs", "1", "--workers", "1")
    assert "CIFAR-10 from" in out and "epoch 1:" in out


def test_finetune():
    out = run_example("finetune")
    assert "phase 1 trains 2 of 6 parameter tensors" in out
    assert "frozen features unchanged: True" in out
    assert "per group: [0.01, 0.1]" in out
    assert numbers(r"phase 2 \(all layers\) on 5-9: test accuracy ([\d.]+)%", out)[0] > 80


def test_save_resume():
    out = run_example("save_resume")
    assert "resuming after epoch 2" in out
    assert "resumed run matches the uninterrupted run: True" in out


def test_readme_example():
    readme = open(os.path.join(os.path.dirname(EXAMPLES), "README.md")).read()
    code = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    assert len(code.strip().splitlines()) <= 22
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})
    accuracies = [float(a) for a in re.findall(r"test accuracy ([\d.]+)%", out.getvalue())]
    assert len(accuracies) == 10 and accuracies[-1] > 90
