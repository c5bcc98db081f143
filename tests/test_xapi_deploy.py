"""deploy/: the haproxy config and the systemd units are checked by the tools that will read them."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from xapi_support import ROOT

from localmooc_packager.cli import lrs_push, serve

DEPLOY = ROOT / "deploy"
UNITS = ("localmooc@.service", "localmooc-lrs-push.service")


def _env_example() -> dict[str, str]:
    lines = (DEPLOY / "localmooc.env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def _exec_start(unit: str) -> list[str]:
    text = (DEPLOY / unit).read_text().replace("\\\n", " ")
    (line,) = re.findall(r"^ExecStart=(.*)$", text, re.M)
    return shlex.split(line)


def test_haproxy_accepts_the_config() -> None:
    haproxy = shutil.which("haproxy")
    if not haproxy:
        pytest.skip("haproxy is not installed (./run.sh test installs Debian's)")
    done = subprocess.run([haproxy, "-c", "-f", DEPLOY / "haproxy.cfg"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    text = (DEPLOY / "haproxy.cfg").read_text()
    servers = re.findall(r"^\s*server (\S+) (\S+) check$", text, re.M)
    assert [s[1] for s in servers] == ["127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.1:8003"]
    assert "uri /healthz" in text


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("systemd-analyze is not installed")
    localmooc = Path(sys.executable).with_name("localmooc")
    copies = []
    for unit in UNITS:
        # Point ExecStart at this venv's command: verify checks that the program exists.
        text = (DEPLOY / unit).read_text().replace("/opt/localmooc/venv/bin/localmooc", str(localmooc))
        (tmp_path / unit.replace("@.", "@8001.")).write_text(text)
        copies.append(tmp_path / unit.replace("@.", "@8001."))
    done = subprocess.run([analyze, "verify", *copies], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


def test_exec_start_lines_are_real_command_lines(tmp_path: Path) -> None:
    env = _env_example()
    env["LOCALMOOC_COURSES"] = str(ROOT / "sample_courses")
    env["CREDENTIALS_DIRECTORY"] = str(tmp_path)

    def expand(args: list[str]) -> list[str]:
        return [re.sub(r"\$\{(\w+)\}", lambda m: env[m[1]], a).replace("%i", "8001") for a in args]

    node = expand(_exec_start("localmooc@.service"))
    assert node[:2] == ["/opt/localmooc/venv/bin/localmooc", "serve"]
    ctx = serve.make_context("serve", node[2:])
    assert (ctx.params["port"], ctx.params["workers"], ctx.params["secure_cookies"]) == (8001, 2, True)
    assert ctx.params["host"] == "127.0.0.1"

    push = expand(_exec_start("localmooc-lrs-push.service"))
    assert push[:3] == ["/opt/localmooc/venv/bin/localmooc", "lrs", "push"]
    ctx = lrs_push.make_context("push", push[3:])
    assert ctx.params["mode"] == "loop"
    assert ctx.params["lrs_url"] == env["LOCALMOOC_LRS_URL"]
    assert ctx.params["password_file"] == tmp_path / "lrs-password"
