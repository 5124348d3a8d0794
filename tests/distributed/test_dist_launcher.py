"""The launcher (python -m ember.distributed.run / ember-run): torchrun's per-rank variables, script arguments,
-m module, --standalone, --max-restarts, flag validation and the mpiexec command lines it builds.
This file is also the worker script of the launched case (its __main__ block)."""
import json
import os
import subprocess
import sys

import pytest

from ember.distributed import run as launcher
from ember.distributed.bootstrap import rank_environment

HERE = os.path.abspath(__file__)
KEYS = ["RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "OMP_NUM_THREADS",
        "GROUP_RANK"]


def _need_mpi():
    pytest.importorskip("mpi4py")
    try:
        launcher.find_mpiexec()
    except FileNotFoundError:
        pytest.skip("no mpiexec")


def _env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PMI_", "OMPI_", "PMIX_", "HYDI_", "MPI_LOCAL")) and k not in ("RANK", "WORLD_SIZE",
                                                                                              "OMP_NUM_THREADS")}
    env.update(extra)
    return env


def _run(args, cwd=None, **extra):
    p = subprocess.run([sys.executable, "-m", "ember.distributed.run"] + args, env=_env(**extra), cwd=cwd,
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def test_rank_variables_and_script_args(tmp_path):
    _need_mpi()
    code, out = _run(["--nproc_per_node=2", "--master-addr=127.0.0.1", "--master-port=29577", HERE,
                      "--lr", "0.5", "pos"], EMBER_DIST_TEST_WORKER=str(tmp_path))
    assert code == 0, out
    recs = [json.loads((tmp_path / ("rank%d.json" % r)).read_text()) for r in range(2)
            if (tmp_path / ("rank%d.json" % r)).exists()]
    assert len(recs) == 2, out
    for r, rec in enumerate(recs):
        assert rec["RANK"] == str(r) and rec["LOCAL_RANK"] == str(r) and rec["GROUP_RANK"] == "0"
        assert rec["WORLD_SIZE"] == "2" and rec["LOCAL_WORLD_SIZE"] == "2"
        assert rec["MASTER_ADDR"] == "127.0.0.1" and rec["MASTER_PORT"] == "29577"
        assert rec["OMP_NUM_THREADS"] == "1"
        assert rec["argv"] == [HERE, "--lr", "0.5", "pos"]
        assert rec["dist"] == [r, 2, "gloo"]
        assert "world_size=3 but the MPI job has 2 processes" in rec["mismatch"]
        assert "rank=%d but MPI.COMM_WORLD says this process is rank %d" % (1 - r, r) in rec["rank_mismatch"]


def test_module_standalone_and_restarts(tmp_path):
    _need_mpi()
    pkg = tmp_path / "emberjob"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "train.py").write_text(
        "import os, sys\n"
        "attempt = int(os.environ['TORCHELASTIC_RESTART_COUNT'])\n"
        "print('MOD rank=%s attempt=%d port=%s args=%s' % (os.environ['RANK'], attempt, os.environ['MASTER_PORT'],"
        " sys.argv[1:]), flush=True)\n"
        "if attempt == 0 and os.environ['RANK'] == '1':\n"
        "    raise SystemExit(5)\n")
    code, out = _run(["--standalone", "--nproc-per-node", "2", "--max-restarts=1", "-m", "emberjob.train", "x"],
                     cwd=str(tmp_path))
    assert code == 0, out
    assert "restarting (1/1)" in out, out
    assert "[rank 1] exited with code 5" in out, out
    for r in (0, 1):
        assert "MOD rank=%d attempt=1" % r in out, out
    assert "args=['x']" in out
    port = [line.split("port=")[1].split()[0] for line in out.splitlines() if line.startswith("MOD ")]
    assert port[0] != "29500" and len(set(port)) == 1  # --standalone picked a free port
    code, out = _run(["--nproc-per-node=2", "-m", "emberjob.train"], cwd=str(tmp_path))
    assert code == 5 and "restarting" not in out, out


def test_no_python_runs_a_program():
    _need_mpi()
    code, out = _run(["--nproc-per-node=2", "--no-python", "sh", "-c", "echo NOPY $RANK/$WORLD_SIZE/$LOCAL_RANK"])
    assert code == 0, out
    assert "NOPY 0/2/0" in out and "NOPY 1/2/1" in out, out


@pytest.mark.parametrize("argv, fragment", [
    (["--nnodes=2", "x.py"], "needs the machines"),
    (["--nnodes=1:4", "x.py"], "elastic"),
    (["--nnodes=2", "--hosts=a", "x.py"], "names 1 machines but --nnodes=2"),
    (["--standalone", "--nnodes=2", "--hosts=a,b", "x.py"], "one machine"),
    (["--nnodes=2", "--hosts=a,b", "--node-rank=1", "x.py"], "started once"),
    (["--nproc-per-node=0", "x.py"], "positive"),
    (["--max-restarts=-1", "x.py"], "max-restarts"),
    (["--rdzv-endpoint=nohost", "x.py"], "host:port"),
])
def test_bad_flags(argv, fragment, capsys):
    with pytest.raises(SystemExit) as e:
        launcher.parse_args(argv)
    assert e.value.code == 2
    assert fragment in capsys.readouterr().err


def test_command_lines():
    args = launcher.parse_args(["--nnodes=2", "--nproc-per-node=3", "--hosts=n1,n2", "train.py", "--x", "1"])
    assert args.master_addr == "n1" and args.master_port == 29500
    cmd = launcher.build_command(args, "mpiexec", "hydra")
    s = " ".join(cmd)
    assert cmd[:5] == ["mpiexec", "-n", "6", "-ppn", "3"] and "-hosts n1,n2" in s
    assert "-genv MASTER_ADDR n1" in s and "-genv EMBER_RUN_LOCAL_WORLD_SIZE 3" in s
    assert cmd[-3:] == ["train.py", "--x", "1"] and "ember.distributed.bootstrap" in cmd
    args = launcher.parse_args(["--nnodes=2", "--nproc_per_node=2", "--hostfile=h.txt", "--rdzv-endpoint=h0:1234",
                                "-m", "pkg.mod"])
    cmd = launcher.build_command(args, "mpirun", "openmpi")
    s = " ".join(cmd)
    assert "--hostfile h.txt" in s and "--npernode 2" in s and "-x MASTER_ADDR=h0" in s
    assert "-x MASTER_PORT=1234" in s and cmd[-2:] == ["--module", "pkg.mod"]


def test_rank_environment_from_open_mpi_variables():
    env = rank_environment({"OMPI_COMM_WORLD_RANK": "5", "OMPI_COMM_WORLD_SIZE": "8",
                            "OMPI_COMM_WORLD_LOCAL_RANK": "1", "OMPI_COMM_WORLD_LOCAL_SIZE": "4"})
    assert (env["RANK"], env["WORLD_SIZE"], env["LOCAL_RANK"], env["LOCAL_WORLD_SIZE"], env["GROUP_RANK"]) == \
        ("5", "8", "1", "4", "1")
    with pytest.raises(RuntimeError, match="must run under mpiexec"):
        rank_environment({})


def _worker():
    import ember.distributed as dist
    rec = {k: os.environ.get(k) for k in KEYS}
    rec["argv"] = sys.argv
    try:
        dist.init_process_group("gloo", world_size=3)
    except RuntimeError as e:
        rec["mismatch"] = str(e)
    rank = int(os.environ["RANK"])
    try:
        dist.init_process_group("gloo", rank=1 - rank)
    except RuntimeError as e:
        rec["rank_mismatch"] = str(e)
    dist.init_process_group("gloo", init_method="env://")
    rec["dist"] = [dist.get_rank(), dist.get_world_size(), dist.get_backend()]
    dist.barrier()
    dist.destroy_process_group()
    with open(os.path.join(os.environ["EMBER_DIST_TEST_WORKER"], "rank%d.json" % rank), "w") as f:
        json.dump(rec, f)


if __name__ == "__main__" and os.environ.get("EMBER_DIST_TEST_WORKER"):
    _worker()
