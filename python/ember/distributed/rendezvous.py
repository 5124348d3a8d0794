"""TCP rendezvous for processes that no MPI launcher started (ember.multiprocessing.spawn, separate shells).

MPICH processes started on their own ("singletons") cannot connect to one another afterwards: MPI_Comm_join
and MPI_Comm_accept/connect between singletons fail in MPICH 5 ("Local and remote groups ... both contain
process 0", pmodels/mpich#7805). Instead, the processes are made one MPI job from the start: rank 0 runs this
file as a small PMI-1 server (the text protocol mpiexec's Hydra speaks to its ranks) on MASTER_ADDR:MASTER_PORT,
and every rank initialises MPI with PMI_PORT pointing at it and PMI_ID set to its rank, so MPI_Init forms a
COMM_WORLD of world_size processes (shared memory between ranks on the same machine, TCP between machines).

Run as a separate process, with the standard library only (``python rendezvous.py PORT WORLD_SIZE HOST
TIMEOUT PARENT_PID``): it must outlive the interpreter shutdown of rank 0, whose MPI_Finalize still talks PMI.
It exits when every rank finalised or disconnected, when its parent died before the ranks joined, or when not
all ranks joined within TIMEOUT seconds.
"""
import os
import socket
import sys
import threading
import time
import uuid


class PMIServer:
    """A PMI-1 key-value space and barrier for ``size`` ranks."""

    def __init__(self, size):
        self.size = size
        # unique per job: MPICH names its shared-memory segments after the kvs name (a stale segment of an
        # earlier job with the same name breaks MPI_Init with "Out of memory")
        self.kvsname = "ember_%d_%s" % (os.getpid(), uuid.uuid4().hex[:12])
        self.kvs = {}
        self.cond = threading.Condition()
        self.barrier_count = 0
        self.barrier_gen = 0
        self.joined = set()
        self.finished = set()
        self.conns = []
        self.failed = None  # why the job is broken (a rank dropped out or aborted)

    def _reply(self, conn, text):
        conn.sendall(text.encode())

    def _fail(self, why):
        with self.cond:
            if self.failed is None:
                self.failed = why
            self.cond.notify_all()
        time.sleep(0.5)  # ranks waiting in a PMI barrier get an error reply first
        with self.cond:
            conns = list(self.conns)
        for c in conns:  # blocked ranks see their PMI connection close and fail instead of hanging
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def serve(self, conn):
        rank = None
        with self.cond:
            self.conns.append(conn)
        try:
            buf = b""
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    fields = {}
                    for tok in line.decode("utf-8", "replace").strip().split(" "):
                        key, eq, value = tok.partition("=")
                        if eq:
                            fields[key] = value
                    cmd = fields.get("cmd")
                    if cmd == "initack":
                        rank = int(fields.get("pmiid", -1))
                        if not 0 <= rank < self.size:
                            self._reply(conn, "cmd=initack rc=-1\n")
                            return
                        with self.cond:
                            self.joined.add(rank)
                        self._reply(conn, "cmd=initack rc=0\ncmd=set size=%d\ncmd=set rank=%d\ncmd=set debug=0\n"
                                    % (self.size, rank))
                    elif cmd == "init":
                        self._reply(conn, "cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0\n")
                    elif cmd == "get_maxes":
                        self._reply(conn, "cmd=maxes rc=0 kvsname_max=256 keylen_max=256 vallen_max=1024\n")
                    elif cmd == "get_appnum":
                        self._reply(conn, "cmd=appnum rc=0 appnum=0\n")
                    elif cmd == "get_my_kvsname":
                        self._reply(conn, "cmd=my_kvsname rc=0 kvsname=%s\n" % self.kvsname)
                    elif cmd == "get_universe_size":
                        self._reply(conn, "cmd=universe_size rc=0 size=%d\n" % self.size)
                    elif cmd == "put":
                        with self.cond:
                            self.kvs[fields.get("key")] = fields.get("value", "")
                        self._reply(conn, "cmd=put_result rc=0\n")
                    elif cmd == "get":
                        with self.cond:
                            value = self.kvs.get(fields.get("key"))
                        if value is None:
                            self._reply(conn, "cmd=get_result rc=-1 msg=key_not_found\n")
                        else:
                            self._reply(conn, "cmd=get_result rc=0 value=%s\n" % value)
                    elif cmd == "barrier_in":
                        with self.cond:
                            gen = self.barrier_gen
                            self.barrier_count += 1
                            if self.barrier_count == self.size:
                                self.barrier_count = 0
                                self.barrier_gen += 1
                                self.cond.notify_all()
                            while self.barrier_gen == gen and self.failed is None:
                                self.cond.wait()
                            failed = self.failed
                        if failed is not None:
                            self._reply(conn, "cmd=barrier_out rc=-1 msg=%s\n" % failed.replace(" ", "_"))
                            return
                        self._reply(conn, "cmd=barrier_out rc=0\n")
                    elif cmd == "finalize":
                        with self.cond:
                            self.finished.add(rank)
                        self._reply(conn, "cmd=finalize_ack rc=0\n")
                    elif cmd == "abort":
                        self._fail("rank %s called MPI_Abort" % rank)
                        return
                    else:
                        self._reply(conn, "cmd=%s rc=-1 msg=unsupported\n" % cmd)
        except OSError:
            pass
        finally:
            with self.cond:
                if conn in self.conns:
                    self.conns.remove(conn)
                clean = rank is None or rank in self.finished
                self.cond.notify_all()
            try:
                conn.close()
            except OSError:
                pass
            if not clean:
                self._fail("rank %d disconnected before MPI_Finalize" % rank)

    def done(self):
        with self.cond:
            return self.failed is not None or (len(self.finished) == self.size and not self.conns)


def main(argv):
    port, size, host, timeout, parent = int(argv[0]), int(argv[1]), argv[2], float(argv[3]), int(argv[4])
    server = PMIServer(size)
    lsock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        lsock.bind((host, port))
    except OSError as e:
        sys.stderr.write("ember.distributed rendezvous: cannot listen on %s:%d (%s)\n" % (host, port, e))
        return 2
    lsock.listen(max(16, size))
    lsock.settimeout(0.2)
    sys.stdout.write("LISTENING\n")
    sys.stdout.flush()
    start = time.monotonic()
    while not server.done():
        try:
            conn, _ = lsock.accept()
        except socket.timeout:
            with server.cond:
                joined = len(server.joined)
            if joined < size and time.monotonic() - start > timeout:
                with server.cond:
                    missing = sorted(set(range(size)) - server.joined)
                sys.stderr.write("[rank 0] init_process_group: not all %d ranks joined the rendezvous at %s:%d "
                                 "within %.0f s (missing ranks %s)\n" % (size, host or "*", port, timeout, missing))
                sys.stderr.flush()
                server._fail("rendezvous_timeout")
                return 3
            if joined < size:
                try:
                    os.kill(parent, 0)
                except OSError:
                    return 4  # rank 0 died before everyone joined
            continue
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=server.serve, args=(conn,), daemon=True).start()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
