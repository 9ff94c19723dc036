"""`make central`: the central service with the demo hall shipping to it, on this machine.

Starts, in a folder (default `.central/`): a throwaway PostgreSQL cluster (the distribution's
initdb/pg_ctl, no system service), `queued central serve`, and the built-in demo hall as a hall
of the city (`queued serve` with `[central]` set), plus a few sample halls' last weeks shipped
through the same ingest API so the city pages have neighbours to rank. Prints the URLs and a
supervisor token; Ctrl-C stops everything it started (the cluster's data stays for next time).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from central import sample
from central.pgcluster import Cluster, ClusterError

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEMO_HALL = ROOT / "queued" / "demo_hall.toml"


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{url} exited ({proc.returncode}); see {log}:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not become healthy; see {log}")


def queued(*args: str) -> str:
    out = subprocess.run([str(BIN / "queued"), *args], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise SystemExit(f"queued {' '.join(args)} failed: {out.stderr}")
    return out.stdout.strip().splitlines()[-1]


def seed_sample_halls(central_url: str, conf: Path, halls: int, days: int) -> None:
    today = dt.datetime.now(sample.TZ).date()  # the halls' day, not the machine's (UTC here)
    span = [today - dt.timedelta(days=i) for i in range(days, -1, -1)]
    for h in range(3, 3 + halls):
        hall = f"s{h}"
        token = queued("central", "token", "create", "--hall", hall, "--config", str(conf))
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        bodies, _ = sample.ingest_bodies(hall, h, span, 80, poor_window="7" if h == 4 else None)
        for body in bodies:
            r = httpx.post(central_url + "/api/v1/ingest", content=json.dumps(body, ensure_ascii=False).encode(),
                           headers=headers, timeout=60)
            r.raise_for_status()  # on a second run the same seqs come back as duplicates: stored once


def demo_traffic(hall_url: str, db: Path) -> None:
    """A few tickets served in the demo hall, so it ships at once."""
    kiosk = queued("token", "create", "--role", "kiosk", "--config", str(db.parent / "hall.toml"))
    clerk = queued("token", "create", "--role", "clerk", "--window", "1", "--clerk", "1001",
                   "--config", str(db.parent / "hall.toml"))
    with httpx.Client(base_url=hall_url, timeout=10) as c:
        for _ in range(3):
            c.post("/api/v1/tickets", json={"business": "A", "channel": "kiosk"},
                   headers={"Authorization": f"Bearer {kiosk}"})
        for _ in range(2):
            c.post("/api/v1/windows/1/call-next", headers={"Authorization": f"Bearer {clerk}"})
            c.post("/api/v1/windows/1/finish", headers={"Authorization": f"Bearer {clerk}"})


def parser() -> argparse.ArgumentParser:
    from firmware_bridge import cli_help

    ap = cli_help.parser("python -m central.demo", "make central：临时 PostgreSQL、中心服务和向它上传的演示大厅")
    ap.add_argument("--dir", default=".central", help="临时集群和中心服务的文件放在这个目录")
    ap.add_argument("--http", default="127.0.0.1:8090", help="中心服务的监听地址")
    ap.add_argument("--hall-http", default="127.0.0.1:8080", help="演示大厅的监听地址")
    ap.add_argument("--mqtt-port", type=int, default=11883, help="演示大厅内置 MQTT 的端口")
    ap.add_argument("--pg-port", type=int, default=0, help="集群端口；0：选一个空闲端口并记住")
    ap.add_argument("--sample-halls", type=int, default=3, help="另外生成几个带历史数据的示例大厅")
    return cli_help.in_chinese(ap)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    folder = Path(args.dir).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    port_file = folder / "pg.port"
    port = args.pg_port or (int(port_file.read_text()) if port_file.exists() else 0) or None
    try:
        cluster = Cluster(folder / "pg", port=port).start()
    except ClusterError as exc:
        print(f"make central: {exc}", file=sys.stderr)
        return 2
    port_file.write_text(str(cluster.port))
    procs: list[subprocess.Popen] = []
    try:
        conf = folder / "central.toml"
        conf.write_text(f'[central]\ndatabase = "{cluster.url}"\nhttp = "{args.http}"\nname = "示例市政务服务中心"\n',
                        encoding="utf-8")
        central_url = f"http://{args.http}"
        clog = folder / "central.log"
        procs.append(subprocess.Popen([str(BIN / "queued"), "central", "serve", "--config", str(conf)],
                                      stdout=open(clog, "ab"), stderr=subprocess.STDOUT))
        wait_healthy(central_url, procs[-1], clog)
        hall_token = folder / "hall-central.token"
        if not hall_token.exists():
            hall_token.write_text(queued("central", "token", "create", "--hall", "main", "--config", str(conf)) + "\n")
        db = folder / "hall.sqlite3"
        (folder / "hall.toml").write_text(
            f'[daemon]\nhttp = "{args.hall_http}"\ndatabase = "{db}"\nembedded_mqtt = "127.0.0.1:{args.mqtt_port}"\n\n'
            + DEMO_HALL.read_text(encoding="utf-8")
            + f'\n[central]\nurl = "{central_url}"\ntoken_file = "{hall_token}"\n', encoding="utf-8")
        hlog = folder / "hall.log"
        hall_url = f"http://{args.hall_http}"
        procs.append(subprocess.Popen([str(BIN / "queued"), "serve", "--config", str(folder / "hall.toml")],
                                      stdout=open(hlog, "ab"), stderr=subprocess.STDOUT))
        wait_healthy(hall_url, procs[-1], hlog)
        if args.sample_halls:
            seed_sample_halls(central_url, conf, args.sample_halls, 35)
        demo_traffic(hall_url, db)
        supervisor = queued("central", "token", "create", "--role", "supervisor", "--label", "make central",
                            "--config", str(conf))
        print(f"""
central service  {central_url}/            (logs: {clog})
  city page      {central_url}/city        sign in with the supervisor token below
  public page    {central_url}/results
demo hall        {hall_url}/               ships to the central service ({hlog})
PostgreSQL       {cluster.url}  (data in {cluster.data})

Ctrl-C stops the central service, the demo hall and PostgreSQL.
supervisor token:
{supervisor}""", flush=True)
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        while not stop and all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
