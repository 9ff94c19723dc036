"""A throwaway PostgreSQL cluster in a folder, from the distribution's binaries (initdb, pg_ctl).

For tests, benchmarks and `make central`: never the machine's own running server, no system
service. initdb refuses to run as root, so as root the binaries run as `postgres` through
`runuser -u postgres --`, and the folder is handed to that user first. The cluster listens on
127.0.0.1 at the port given (a free one by default) and on a socket inside its own folder, with
trust authentication on loopback only.

    python -m central.pgcluster start DIR [--port N]   # prints the URL on the last line
    python -m central.pgcluster stop DIR
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path


class ClusterError(RuntimeError):
    """The cluster could not be made, started or stopped (the message carries PostgreSQL's log)."""


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise ClusterError("PostgreSQL is not installed (apt-get install postgresql; `make test` does it)")
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """`Cluster(dir).start()`; `.url` is a postgresql:// URL for database `central` (created)."""

    def __init__(self, folder: str | os.PathLike, port: int | None = None, database: str = "central"):
        self.folder = Path(folder).resolve()
        self.data = self.folder / "data"
        self.port = port or free_port()
        self.database = database
        self.bin = _bindir()
        self.as_root = os.geteuid() == 0
        self.user = "postgres" if self.as_root else (os.environ.get("USER") or "postgres")

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd="/")
        if check and proc.returncode != 0:
            raise ClusterError(f"{args[0]} failed ({proc.returncode}): {proc.stderr or proc.stdout}")
        return proc

    def init(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            shutil.chown(self.folder, "postgres", "postgres")
            os.chmod(self.folder, 0o700)
        if (self.data / "PG_VERSION").exists():
            return
        self._run("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-instructions")
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            # A test/bench cluster: durable (fsync on, as production), sized for a shared 2-core box.
            conf.write("\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.folder}'\n"
                       "shared_buffers = 512MB\nwork_mem = 64MB\nmaintenance_work_mem = 512MB\n"
                       "max_wal_size = 4GB\nmax_parallel_workers_per_gather = 2\n"
                       "jit = off\nlog_min_messages = warning\nlogging_collector = off\n")

    def start(self, timeout: float = 60) -> Cluster:
        self.init()
        log = self.folder / "postgres.log"
        if self.as_root and not log.exists():
            log.touch()
            shutil.chown(log, "postgres", "postgres")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(log), "-o", f"-p {self.port}", "-w",
                  "-t", str(int(timeout)), "start", timeout=timeout + 10)
        deadline = time.time() + timeout
        while time.time() < deadline:
            ready = self._run("pg_isready", "-h", "127.0.0.1", "-p", str(self.port), check=False)
            if ready.returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise ClusterError(f"PostgreSQL did not become ready:\n{log.read_text()[-2000:]}")
        created = self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
                            self.database, check=False)
        if created.returncode != 0 and "already exists" not in created.stderr:
            raise ClusterError(f"createdb failed: {created.stderr}")
        return self

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


def parser() -> argparse.ArgumentParser:
    from firmware_bridge import cli_help

    p = cli_help.parser("python -m central.pgcluster", "测试和演示用的临时 PostgreSQL 集群：start 或 stop")
    p.add_argument("action", choices=("start", "stop"), help="start 启动（没有则新建），stop 停止")
    p.add_argument("folder", help="集群所在目录")
    p.add_argument("--port", type=int, help="监听端口；不给：选一个空闲端口")
    return cli_help.in_chinese(p)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.action == "stop":
            Cluster(args.folder, port=1).stop()
            return 0
        port_file = Path(args.folder) / "port"
        port = args.port or (int(port_file.read_text()) if port_file.exists() else None)
        cluster = Cluster(args.folder, port=port).start()
        port_file.write_text(str(cluster.port))
        print(f"PostgreSQL in {cluster.folder} on 127.0.0.1:{cluster.port}")
        print(cluster.url)
        return 0
    except ClusterError as exc:
        print(f"pgcluster: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
