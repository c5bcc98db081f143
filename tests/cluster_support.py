"""A whole deployment on loopback, started by the tests and the multi-node benchmark: a PostgreSQL cluster
of its own (initdb into a temporary folder, so it can be restarted without touching the shared server),
PgBouncer in transaction mode in front of it, N ``localmooc serve`` nodes and Debian's haproxy.

Every process gets a free loopback port and lives in a temporary folder; ``Deployment.close`` stops them
all. PostgreSQL and PgBouncer refuse to run as root: as root they run as the ``postgres`` user that
Debian's packages create. Nothing here sleeps for a fixed time where it can poll for readiness instead.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def _pg_bin() -> Path:
    """The newest installed PostgreSQL's server programs (Debian: /usr/lib/postgresql/N/bin), unless
    LOCALMOOC_PG_BIN names them."""
    if os.environ.get("LOCALMOOC_PG_BIN"):
        return Path(os.environ["LOCALMOOC_PG_BIN"])
    found = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()]
    return max(found, key=lambda p: int(p.parent.name)) if found else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _pg_bin()
COURSE = ROOT / "sample_courses" / "local-budget-basics"
SECRET = "multinode-test-key-at-least-32-characters"  # one key for every node, as in production
INITDB_FLAGS = ("-E", "UTF8", "--no-locale", "--no-sync")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def missing_tools(pgbouncer: bool = True) -> str | None:
    """Why the deployment cannot be started here (for a skip), or None."""
    need = [PG_BIN / "initdb", PG_BIN / "pg_ctl"]
    for tool in ("haproxy", *(("pgbouncer",) if pgbouncer else ())):
        found = shutil.which(tool) or (f"/usr/sbin/{tool}" if Path(f"/usr/sbin/{tool}").exists() else None)
        if not found:
            return f"{tool} is not installed (./run.sh setup_system installs it)"
    for tool in need:
        if not tool.exists():
            return f"{tool} is missing (Debian's postgresql server package; or set LOCALMOOC_PG_BIN)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a 'postgres' user to run PostgreSQL and PgBouncer as"
    return None


def _tool(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


def _service_user() -> tuple[str | None, int, int]:
    """(user to run PostgreSQL/PgBouncer as, uid, gid): ``postgres`` when we are root."""
    if os.geteuid() != 0:
        return None, os.getuid(), os.getgid()
    pw = pwd.getpwnam("postgres")
    return "postgres", pw.pw_uid, pw.pw_gid


def _own(prefix: str) -> Path:
    """A new folder under the system temp dir for the service user (pytest's tmp_path is root's 0700)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    _user, uid, gid = _service_user()
    os.chown(path, uid, gid)
    path.chmod(0o700)
    return path


def _run_as_service(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    user, _uid, _gid = _service_user()
    done = subprocess.run(cmd, user=user, capture_output=True, text=True, check=False, **kw)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done  # type: ignore[no-any-return]


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s") from None
            time.sleep(0.05)


class PgCluster:
    """A PostgreSQL 15 cluster of our own on 127.0.0.1:<free port> (trust auth, user postgres)."""

    def __init__(self, max_connections: int = 200) -> None:
        self.base = _own("lm-pg-")
        self.data = self.base / "data"
        self.log = self.base / "postgres.log"
        self.port = free_port()
        _run_as_service(
            [str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", *INITDB_FLAGS]
        )
        # Our own socket folder: not /var/run/postgresql, where the shared server's socket lives.
        self.options = (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
            f"-c max_connections={max_connections} -c shared_buffers=64MB"
        )

    def url(self, database: str = "postgres", port: int | None = None) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{port or self.port}/{database}"

    def _ctl(self, *args: str) -> None:
        _run_as_service(
            [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", *args]
        )

    def start(self) -> None:
        self._ctl("-o", self.options, "start")

    def restart(self, mode: str = "immediate") -> None:
        """``immediate``: the server dies as in a crash (no checkpoint) and recovers from its WAL."""
        self._ctl("-m", mode, "-o", self.options, "restart")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._ctl("-m", "immediate", "stop")
        shutil.rmtree(self.base, ignore_errors=True)

    def create_database(self, name: str) -> str:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url(name)


class PgBouncer:
    """Debian's PgBouncer in transaction mode in front of ``server_port``, with its own config and port."""

    def __init__(self, server_port: int, pool_size: int = 20, max_client_conn: int = 400) -> None:
        self.base = _own("lm-pgbouncer-")
        self.port = free_port()
        self.ini = self.base / "pgbouncer.ini"
        users = self.base / "userlist.txt"
        users.write_text('"postgres" ""\n', encoding="utf-8")
        self.ini.write_text(
            render_pgbouncer_ini(
                server_port=server_port,
                listen_port=self.port,
                pool_size=pool_size,
                max_client_conn=max_client_conn,
                auth_file=str(users),
                extra=(
                    f"logfile = {self.base / 'pgbouncer.log'}\npidfile = {self.base / 'pgbouncer.pid'}\n"
                    "unix_socket_dir =\nauth_type = trust\n"
                ),
            ),
            encoding="utf-8",
        )
        _user, uid, gid = _service_user()
        for f in (self.ini, users):
            os.chown(f, uid, gid)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        user, _uid, _gid = _service_user()
        self.proc = subprocess.Popen(
            [_tool("pgbouncer"), str(self.ini)],
            user=user,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_port(self.port)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.base, ignore_errors=True)


def render_pgbouncer_ini(
    server_port: int, listen_port: int, pool_size: int, max_client_conn: int, auth_file: str, extra: str = ""
) -> str:
    """The settings the runtime needs from PgBouncer (deploy/pgbouncer.ini is the commented sample)."""
    return (
        "[databases]\n"
        f"* = host=127.0.0.1 port={server_port}\n\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {listen_port}\nauth_file = {auth_file}\n"
        "pool_mode = transaction\n"
        f"default_pool_size = {pool_size}\nmax_client_conn = {max_client_conn}\n"
        "reserve_pool_size = 5\nreserve_pool_timeout = 1\n"
        # After PostgreSQL went away, retry the login every second (default 15 s: longer than recovery).
        "server_login_retry = 1\n"
        # Hold requests while the server restarts rather than fail them at once; past this, an error.
        "query_wait_timeout = 20\n"
        "server_reset_query =\nserver_check_delay = 5\n"
        f"{extra}"
    )


@dataclass
class Node:
    """One ``localmooc serve`` (its own process group: SIGKILL takes the workers with it)."""

    name: str
    port: int
    db_url: str
    workers: int
    work: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.work / f"{self.name}.log").open("ab")
        env = {
            **os.environ,
            "LOCALMOOC_SECRET_KEY": SECRET,
            "LOCALMOOC_KEY_FILE": str(self.work / "key"),
            **self.env,
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "localmooc_packager", "serve", str(COURSE), *self.options()],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.work,
            start_new_session=True,
        )
        log.close()

    def options(self) -> list[str]:
        return ["--db", self.db_url, "--port", str(self.port), "--workers", str(self.workers)]

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if (self.proc is not None and self.proc.poll() is not None) or time.monotonic() > deadline:
                raise RuntimeError(f"node {self.name} did not start:\n{self.log_text()}")
            time.sleep(0.1)

    def log_text(self) -> str:
        path = self.work / f"{self.name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the node: the server process and its workers, at once."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()

    def cpu_seconds(self) -> float:
        """User + system CPU of the node's live processes (the server and its workers), from /proc."""
        if self.proc is None:
            return 0.0
        total = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) == self.proc.pid:  # the process group (setsid made it the node's pid)
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / CLK_TCK


class Haproxy:
    """Debian's haproxy, round robin over the nodes, health-checked on /healthz every 250 ms."""

    def __init__(self, base: Path, nodes: list[Node]) -> None:
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.cfg = base / "haproxy.cfg"
        self.cfg.write_text(
            render_haproxy_cfg(self.port, [(n.name, n.port) for n in nodes]), encoding="utf-8"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        check = subprocess.run([_tool("haproxy"), "-c", "-f", str(self.cfg)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"haproxy -c refused {self.cfg}:\n{check.stdout}{check.stderr}")
        self.proc = subprocess.Popen(
            [_tool("haproxy"), "-db", "-f", str(self.cfg)],
            stdout=(self.base / "haproxy.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_port(self.port)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def render_haproxy_cfg(port: int, servers: list[tuple[str, int]]) -> str:
    """deploy/haproxy.cfg's settings, with faster checks (a test run is short) and the given servers."""
    lines = [
        "global",
        "    maxconn 2000",
        "defaults",
        "    mode http",
        "    timeout connect 1s",
        "    timeout client 30s",
        "    timeout server 30s",
        "    timeout http-request 10s",
        "    retries 2",
        "    option redispatch",
        "    retry-on conn-failure",
        "frontend www",
        f"    bind 127.0.0.1:{port}",
        "    default_backend localmooc",
        "backend localmooc",
        "    balance roundrobin",
        "    option httpchk",
        "    http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host localhost",
        "    http-check expect status 200",
        "    default-server inter 250ms fall 2 rise 2",
        *(f"    server {name} 127.0.0.1:{p} check" for name, p in servers),
    ]
    return "\n".join(lines) + "\n"


@dataclass
class Deployment:
    pg: PgCluster
    bouncer: PgBouncer | None
    db_url: str  # what the nodes use (through PgBouncer when there is one)
    direct_url: str  # PostgreSQL itself, for checks
    nodes: list[Node]
    proxy: Haproxy | None

    @property
    def base(self) -> str:
        assert self.proxy is not None
        return f"http://127.0.0.1:{self.proxy.port}"

    def node_url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.nodes[i].port}"

    def cpu_seconds(self) -> float:
        return sum(n.cpu_seconds() for n in self.nodes)

    def close(self) -> None:
        for stop in (
            *(n.stop for n in self.nodes),
            *((self.proxy.stop,) if self.proxy else ()),
            *((self.bouncer.stop,) if self.bouncer else ()),
            self.pg.stop,
        ):
            try:
                stop()
            except Exception as exc:  # one stuck process must not keep the others running
                print(f"stopping: {exc}", file=sys.stderr)


@contextmanager
def deployment(
    base: Path,
    nodes: int = 3,
    workers: int = 2,
    pgbouncer: bool = True,
    proxy: bool = True,
    pool_size: int | None = None,
) -> Iterator[Deployment]:
    """PostgreSQL (+ PgBouncer) + a migrated database + ``nodes`` × ``workers`` + haproxy, all on loopback."""
    from localmooc_packager.runtime.store import Store

    pg = PgCluster()
    pg.start()
    bouncer: PgBouncer | None = None
    made: list[Node] = []
    dep = Deployment(pg, None, "", "", made, None)
    try:
        direct = pg.create_database("lm_multinode")
        db_url = direct
        if pgbouncer:
            bouncer = PgBouncer(pg.port)
            bouncer.start()
            dep.bouncer = bouncer
            db_url = bouncer.url("lm_multinode")
        store = Store(db_url)
        store.upgrade()  # through PgBouncer: the migrations too
        store.dispose()
        dep.db_url, dep.direct_url = db_url, direct
        env = {"LOCALMOOC_DB_POOL_SIZE": str(pool_size)} if pool_size else {}
        for i in range(nodes):
            work = base / f"node{i + 1}"
            work.mkdir(parents=True, exist_ok=True)
            made.append(Node(f"node{i + 1}", free_port(), db_url, workers, work, env))
        for n in made:
            n.start()
        for n in made:
            n.wait_ready()
        if proxy:
            dep.proxy = Haproxy(base, made)
            dep.proxy.start()
            wait_healthy(dep.base)
        yield dep
    finally:
        dep.close()


def wait_healthy(base: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{base}/healthz did not answer 200 within {timeout:.0f} s")
        time.sleep(0.05)
