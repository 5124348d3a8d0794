"""The launcher: ``python -m ember.distributed.run`` (console script ``ember-run``), torchrun's flags on mpiexec.

One machine, two ranks::

    ember-run --nproc-per-node=2 train.py --lr 0.1
    ember-run --standalone --nproc-per-node=2 -m mypackage.train

Several machines: run ember-run ONCE (on any machine that reaches the others by ssh without a password, with
the same Python environment and paths on every machine); mpiexec starts every rank::

    ember-run --nnodes=2 --nproc-per-node=8 --hosts=node1,node2 --master-addr=node1 train.py
    ember-run --nnodes=2 --nproc-per-node=8 --hostfile=hosts.txt train.py   # one host name per line

Every rank gets RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR, MASTER_PORT and
OMP_NUM_THREADS=1 (unless OMP_NUM_THREADS is set), as with torchrun. The ranks rendezvous through MPI itself,
so MASTER_ADDR/MASTER_PORT are informational. An exception or a crash in any rank ends the whole job with a
non-zero exit status, naming the rank. ``--max-restarts=N`` reruns the whole job up to N times after a failure.
Without a launcher, processes started separately (``ember.multiprocessing.spawn`` as in the DDP tutorial, or
one shell per rank) that call ``init_process_group(rank=..., world_size=...)`` with MASTER_ADDR/MASTER_PORT
set rendezvous over TCP at MASTER_ADDR:MASTER_PORT (rank 0 listens there; MPICH only; see rendezvous.py).
The MPI launcher is the ``mpiexec`` beside the running Python (the mpich wheel installs it), else the one on
PATH; EMBER_MPIEXEC overrides it. MPICH (Hydra) and Open MPI command lines are supported.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import uuid

__all__ = ["main", "build_command", "find_mpiexec", "parse_args"]


def _int_or_auto(value):
    if value in ("auto", "cpu"):
        return os.cpu_count() or 1
    if value == "gpu":
        raise argparse.ArgumentTypeError("--nproc-per-node=gpu: ember's launcher starts CPU ranks over MPI; give a "
                                         "number")
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a positive integer or 'auto', got %r" % value) from None
    if n < 1:
        raise argparse.ArgumentTypeError("expected a positive integer, got %d" % n)
    return n


def _nnodes(value):
    lo, _, hi = str(value).partition(":")
    try:
        lo, hi = int(lo), int(hi or lo)
    except ValueError:
        raise argparse.ArgumentTypeError("--nnodes expects N or N:N, got %r" % value) from None
    if lo != hi:
        raise argparse.ArgumentTypeError("--nnodes=%s: elastic node counts are not supported by the MPI launcher; "
                                         "give one number" % value)
    if lo < 1:
        raise argparse.ArgumentTypeError("--nnodes must be positive, got %d" % lo)
    return lo


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="ember-run", description="Start distributed ember ranks through mpiexec "
                                "(torchrun's flags).", allow_abbrev=False)
    p.add_argument("--nproc-per-node", "--nproc_per_node", dest="nproc_per_node", type=_int_or_auto, default=1)
    p.add_argument("--nnodes", type=_nnodes, default=1)
    p.add_argument("--node-rank", "--node_rank", dest="node_rank", type=int, default=0)
    p.add_argument("--master-addr", "--master_addr", dest="master_addr", default=None)
    p.add_argument("--master-port", "--master_port", dest="master_port", type=int, default=None)
    p.add_argument("--max-restarts", "--max_restarts", dest="max_restarts", type=int, default=0)
    p.add_argument("--standalone", action="store_true", help="one machine, a free port picked")
    p.add_argument("--rdzv-endpoint", "--rdzv_endpoint", dest="rdzv_endpoint", default=None,
                   help="host:port, taken as --master-addr/--master-port")
    p.add_argument("--rdzv-backend", "--rdzv_backend", dest="rdzv_backend", default="static")
    p.add_argument("--rdzv-id", "--rdzv_id", dest="rdzv_id", default=None)
    p.add_argument("--hosts", default=None, help="comma-separated machines for --nnodes > 1 (mpiexec -hosts)")
    p.add_argument("--hostfile", default=None, help="file of machines for --nnodes > 1 (mpiexec -f)")
    p.add_argument("--mpiexec", default=None, help="the MPI launcher to use")
    p.add_argument("--mpiexec-args", dest="mpiexec_args", default="", help="extra mpiexec arguments (one string)")
    p.add_argument("-m", "--module", dest="module", action="store_true", help="run the target as a module")
    p.add_argument("--no-python", "--no_python", dest="no_python", action="store_true",
                   help="run the target as a program, not a Python script")
    p.add_argument("training_script")
    p.add_argument("training_script_args", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    if args.module and args.no_python:
        p.error("--module and --no-python cannot be used together")
    if args.max_restarts < 0:
        p.error("--max-restarts must be >= 0")
    if args.rdzv_endpoint:
        host, _, port = args.rdzv_endpoint.rpartition(":")
        if not host or not port.isdigit():
            p.error("--rdzv-endpoint expects host:port, got %r" % args.rdzv_endpoint)
        args.master_addr = args.master_addr or host
        args.master_port = args.master_port or int(port)
    if args.standalone:
        if args.nnodes != 1:
            p.error("--standalone runs on one machine; it cannot be combined with --nnodes=%d" % args.nnodes)
        args.master_addr = args.master_addr or "127.0.0.1"
        args.master_port = args.master_port or _free_port()
    if args.nnodes > 1:
        if not (args.hosts or args.hostfile):
            p.error("--nnodes=%d needs the machines: --hosts=a,b,... or --hostfile=FILE (mpiexec starts every "
                    "rank over ssh; run ember-run once, on one machine)" % args.nnodes)
        if args.node_rank != 0:
            p.error("--node-rank=%d: with MPI, ember-run is started once (node rank 0) and mpiexec starts the "
                    "ranks of every machine in --hosts/--hostfile" % args.node_rank)
        if args.hosts and len(_host_list(args.hosts)) != args.nnodes:
            p.error("--hosts names %d machines but --nnodes=%d" % (len(_host_list(args.hosts)), args.nnodes))
    elif args.node_rank != 0:
        p.error("--node-rank=%d is out of range for --nnodes=1" % args.node_rank)
    if args.master_addr is None:
        args.master_addr = _host_list(args.hosts)[0] if args.hosts else "127.0.0.1"
    if args.master_port is None:
        args.master_port = 29500
    return args


def _host_list(hosts):
    return [h.strip() for h in hosts.split(",") if h.strip()]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_mpiexec(explicit=None):
    """The mpiexec to use: explicit, $EMBER_MPIEXEC, the one beside this Python, or mpiexec/mpirun on PATH."""
    for cand in (explicit, os.environ.get("EMBER_MPIEXEC")):
        if cand:
            path = shutil.which(cand)
            if path is None:
                raise FileNotFoundError("MPI launcher %r not found" % cand)
            return path
    here = os.path.join(os.path.dirname(os.path.realpath(sys.executable)), "mpiexec")
    if os.path.isfile(here) and os.access(here, os.X_OK):
        return here
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.path.isfile(here) and os.access(here, os.X_OK):
        return here
    for name in ("mpiexec", "mpirun"):
        path = shutil.which(name)
        if path:
            return path
    raise FileNotFoundError('ember-run needs an MPI launcher (mpiexec) and mpi4py: pip install "ember[mpi]" '
                            '(installs the mpich wheel, which provides mpiexec)')


def _flavour(mpiexec):
    try:
        out = subprocess.run([mpiexec, "--version"], capture_output=True, text=True, timeout=20)
        text = out.stdout + out.stderr
    except (OSError, subprocess.SubprocessError):
        text = ""
    if "Open MPI" in text or "OpenRTE" in text or "PRRTE" in text:
        return "openmpi"
    return "hydra"


def build_command(args, mpiexec, flavour, restart_count=0, run_id=None, run_dir=None):
    """The mpiexec command line (a list) that starts every rank through ember.distributed.bootstrap."""
    world = args.nproc_per_node * args.nnodes
    env = {"MASTER_ADDR": str(args.master_addr), "MASTER_PORT": str(args.master_port),
           "EMBER_RUN_WORLD_SIZE": str(world), "EMBER_RUN_LOCAL_WORLD_SIZE": str(args.nproc_per_node),
           "TORCHELASTIC_RESTART_COUNT": str(restart_count), "TORCHELASTIC_MAX_RESTARTS": str(args.max_restarts),
           "TORCHELASTIC_RUN_ID": run_id or args.rdzv_id or "none", "PYTHONUNBUFFERED": "1",
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS") or "1"}
    if run_dir:
        env["EMBER_RUN_DIR"] = run_dir
    cmd = [mpiexec]
    if flavour == "openmpi":
        cmd += ["-n", str(world), "--npernode", str(args.nproc_per_node)]
        if args.hosts:
            cmd += ["--host", ",".join("%s:%d" % (h, args.nproc_per_node) for h in _host_list(args.hosts))]
        elif args.hostfile:
            cmd += ["--hostfile", args.hostfile]
        if args.nnodes == 1 and args.nproc_per_node > (os.cpu_count() or 1):
            cmd += ["--oversubscribe"]
        for k, v in env.items():
            cmd += ["-x", "%s=%s" % (k, v)]
    else:
        cmd += ["-n", str(world), "-ppn", str(args.nproc_per_node)]
        if args.hosts:
            cmd += ["-hosts", ",".join(_host_list(args.hosts))]
        elif args.hostfile:
            cmd += ["-f", args.hostfile]
        for k, v in env.items():
            cmd += ["-genv", k, v]
    cmd += args.mpiexec_args.split()
    if args.no_python:
        cmd += [sys.executable, "-m", "ember.distributed.bootstrap", "--no-python"]
    else:
        cmd += [sys.executable, "-m", "ember.distributed.bootstrap"] + (["--module"] if args.module else [])
    return cmd + [args.training_script] + list(args.training_script_args)


_DEAD_PID = re.compile(rb"PID (\d+) RUNNING AT (\S+)")


def _pump(src, dst, tail):
    """Forwards mpiexec's stdout as it comes, keeping the last 64 KiB to find the PIDs MPI reports dead."""
    fd = src.fileno()
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        dst.write(chunk)
        dst.flush()
        tail[0] = (tail[0] + chunk)[-65536:]


def _run_once(cmd, run_dir):
    """Runs mpiexec; returns (exit status, names of the ranks MPI reported as killed)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    if threading.current_thread() is threading.main_thread():  # a SIGTERM to ember-run ends the ranks too
        signal.signal(signal.SIGTERM, lambda signum, frame: proc.send_signal(signal.SIGTERM))
    tail = [b""]
    pump = threading.Thread(target=_pump, args=(proc.stdout, getattr(sys.stdout, "buffer", sys.stdout), tail),
                            daemon=True)
    pump.start()
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
    pump.join(5)
    dead = []
    for pid, host in _DEAD_PID.findall(tail[0]):
        name = "pid %s on %s" % (pid.decode(), host.decode())
        try:
            with open(os.path.join(run_dir, "pid.%s" % pid.decode())) as f:
                name = "rank %s (%s)" % (f.read().strip(), name)
        except OSError:
            pass
        dead.append(name)
    return code, dead


def main(argv=None):
    """Entry point of ``ember-run``; returns (and exits with) the job's exit status."""
    args = parse_args(argv)
    mpiexec = find_mpiexec(args.mpiexec)
    flavour = _flavour(mpiexec)
    run_id = args.rdzv_id or uuid.uuid4().hex[:12]
    code = 0
    for attempt in range(args.max_restarts + 1):
        with tempfile.TemporaryDirectory(prefix="ember-run-") as run_dir:
            code, dead = _run_once(build_command(args, mpiexec, flavour, attempt, run_id, run_dir), run_dir)
        if code == 0:
            break
        how = ("signal %s" % signal.Signals(-code).name) if code < 0 else ("exit code %d" % code)
        if dead:
            who = "%s terminated abnormally" % ", ".join(dead)
            if code == 9:
                who += " (killed by SIGKILL)"
        else:
            who = "the failing rank is named above"
        sys.stderr.write("ember-run: the job failed (%s; %s)%s\n"
                         % (how, who, "; restarting (%d/%d)" % (attempt + 1, args.max_restarts)
                            if attempt < args.max_restarts else ""))
        sys.stderr.flush()
    if code < 0:
        code = 128 - code
    return code


if __name__ == "__main__":
    sys.exit(main())
