"""Getting the peers' binaries from Debian's packages, without starting any system service.

rsyslog and syslog-ng conflict with each other (both provide `system-log-daemon`), so one is
installed normally with apt-get (rsyslog) and the other (syslog-ng) is downloaded with
`apt-get download` and unpacked with `dpkg-deb -x` under benchmarks/out/peers/root; the shared
libraries it needs are ordinary packages and are installed with apt-get. Should syslog-ng be
the one installed on the machine, rsyslog is unpacked the same way instead (its module folder
is then passed with `-M`). Nothing is started by the installation: on Debian's container
images `policy-rc.d` forbids it, and the peers run in the foreground under the benchmark.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.nginx_log import OUT

PEERS = OUT / "peers"
ROOT = PEERS / "root"
"""Where unpacked packages live (like a second `/`)."""

RSYSLOG_MODULES = "usr/lib/x86_64-linux-gnu/rsyslog"


@dataclass
class Peer:
    """How to run one peer: its binary, extra arguments and environment."""

    name: str
    binary: Path
    version: str
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    how: str = ""
    """"installed" (apt-get install) or "unpacked" (apt-get download + dpkg-deb -x)."""


def _run(argv: list[str]) -> str:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"`{' '.join(argv)}` failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return done.stdout


def installed(package: str) -> bool:
    """True if dpkg has the package installed."""
    done = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Status}", package],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode == 0 and done.stdout.endswith(" installed")


def _apt_install(packages: list[str]) -> None:
    missing = [p for p in packages if not installed(p)]
    if not missing:
        return
    try:
        _run(["apt-get", "install", "-y", "--no-install-recommends", *missing])
    except RuntimeError:
        _run(["apt-get", "update"])  # a fresh machine has no package lists yet
        _run(["apt-get", "install", "-y", "--no-install-recommends", *missing])


def first_alternatives(depends: str) -> list[str]:
    """Package names from a Depends field: the first of each `a | b` alternative, versions cut."""
    names = []
    for clause in depends.split(","):
        first = clause.split("|")[0].strip()
        name = re.sub(r"\s*\(.*\)", "", first).split(":")[0].strip()
        if name:
            names.append(name)
    return names


def unpack(package: str) -> Path:
    """Downloads `package` and unpacks it under ROOT; installs its dependencies with apt-get
    (except those that conflict with what is installed: the unpacked daemon needs libraries,
    not another daemon). Returns ROOT."""
    stamp = ROOT / f".{package}.unpacked"
    if stamp.exists():
        return ROOT
    downloads = PEERS / "debs"
    downloads.mkdir(parents=True, exist_ok=True)
    for old in downloads.glob(f"{package}_*.deb"):
        old.unlink()
    try:
        subprocess.run(
            ["apt-get", "download", package], cwd=downloads, check=True, capture_output=True
        )
    except subprocess.CalledProcessError:
        _run(["apt-get", "update"])
        subprocess.run(
            ["apt-get", "download", package], cwd=downloads, check=True, capture_output=True
        )
    deb = next(downloads.glob(f"{package}_*.deb"))
    depends = _run(["dpkg-deb", "-f", str(deb), "Depends"])
    libraries = [d for d in first_alternatives(depends) if d.startswith("lib")]
    _apt_install(libraries)
    ROOT.mkdir(parents=True, exist_ok=True)
    _run(["dpkg-deb", "-x", str(deb), str(ROOT)])
    stamp.write_text(deb.name)
    return ROOT


def rsyslog() -> Peer:
    """rsyslogd with imfile and mmnormalize: installed, or unpacked if syslog-ng is installed."""
    if installed("rsyslog") or not installed("syslog-ng-core"):
        _apt_install(["rsyslog"])
        binary, args, how = Path("/usr/sbin/rsyslogd"), [], "installed"
    else:
        root = unpack("rsyslog")
        binary = root / "usr/sbin/rsyslogd"
        args, how = ["-M", str(root / RSYSLOG_MODULES)], "unpacked"
    version = _run([str(binary), "-v"]).split("\n")[0].split()[1]
    return Peer("rsyslog", binary, version, args, {}, how)


def rsyslog_kafka() -> Peer | None:
    """rsyslogd with omkafka (package rsyslog-kafka, which uses Debian's librdkafka), or None
    when rsyslog could only be unpacked (the comparison then skips it)."""
    peer = rsyslog()
    if peer.how != "installed":
        return None
    _apt_install(["rsyslog-kafka"])
    return peer


def syslog_ng() -> Peer:
    """syslog-ng unpacked (its libraries and modules found through the environment and flags)."""
    if installed("syslog-ng-core"):
        binary, args, env, how = Path("/usr/sbin/syslog-ng"), [], {}, "installed"
    else:
        root = unpack("syslog-ng-core")
        lib = root / "usr/lib/syslog-ng"
        module_dir = next(
            p for p in lib.iterdir() if p.is_dir() and re.fullmatch(r"\d+\.\d+", p.name)
        )
        binary = root / "usr/sbin/syslog-ng"
        args = [f"--module-path={module_dir}"]
        env = {"LD_LIBRARY_PATH": str(lib)}
        how = "unpacked"
    out = subprocess.run(
        [str(binary), "--version"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=True,
    ).stdout
    version = re.search(r"Installer-Version: (\S+)", out)
    return Peer("syslog-ng", binary, version.group(1) if version else "?", args, env, how)


def remove_unpacked() -> None:
    """Deletes the unpacked packages (`make clean` of the peers)."""
    shutil.rmtree(PEERS, ignore_errors=True)
