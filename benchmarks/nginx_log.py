"""Generates nginx `combined` access-log lines: deterministic, realistic enough to exercise the rules.

python benchmarks/nginx_log.py 1000000 > access.log

Also the agent's rule for them (`NGINX_RULE`), which the peer shippers' configs mirror, and the
cached benchmark input (`ensure_input`).
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
"""Generated inputs and work folders of the benchmarks (git-ignored)."""

NGINX_RULE = {
    "name": "nginx_combined",
    "regex": (
        r'^(?P<source_ip>\S+) - (?P<user_name>\S+) \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) '
        r'(?P<url>\S+) (?P<http_version>[^"]+)" (?P<status>\d{3}) (?P<bytes>\d+) '
        r'"(?P<referrer>[^"]*)" "(?P<user_agent>[^"]*)"'
    ),
    "types": {"status": "int", "bytes": "int"},
    "timestamp": {"field": "time", "format": "%d/%b/%Y:%H:%M:%S %z"},
}
"""The agent's parser rule for these lines: ten fields, status and bytes as numbers."""

METHODS = ["GET"] * 8 + ["POST", "PUT", "DELETE", "HEAD"]
PATHS = [
    "/",
    "/index.html",
    "/api/v1/users",
    "/api/v1/orders?page=2&sort=desc",
    "/static/app.3f2a1c.js",
    "/static/style.css",
    "/login",
    "/health",
    "/images/logo.png",
    "/search?q=log+shipping",
]
STATUSES = [200] * 20 + [201, 204, 301, 302, 304, 400, 401, 403, 404, 404, 500, 502, 503]
AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "curl/8.5.0",
    "kube-probe/1.30",
    "Go-http-client/1.1",
]
REFERERS = ["-", "https://example.com/", "https://shop.example.com/cart"]


def lines(
    count: int, seed: int = 42, start: float = 1_764_000_000.0, per_second: int = 50
) -> Iterator[str]:
    """`count` combined-format lines, `per_second` lines sharing each timestamp second."""
    rng = random.Random(seed)
    for i in range(count):
        stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(start + i // per_second))
        ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        user = "-" if rng.random() < 0.9 else "alice"
        yield (
            f'{ip} - {user} [{stamp}] "{rng.choice(METHODS)} {rng.choice(PATHS)} HTTP/1.1" '
            f'{rng.choice(STATUSES)} {rng.randrange(0, 50000)} "{rng.choice(REFERERS)}" '
            f'"{rng.choice(AGENTS)}"\n'
        )


def write(path: str, count: int, seed: int = 42) -> int:
    """Writes `count` lines to `path`; returns the bytes written."""
    with open(path, "w", encoding="ascii") as out:
        for line in lines(count, seed):
            out.write(line)
        return out.tell()


def ensure_input(count: int) -> Path:
    """The generated log of `count` lines in benchmarks/out (made once, reused across runs)."""
    path = OUT / f"nginx-{count}.log"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        write(str(tmp), count)
        tmp.rename(path)
    return path


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    sys.stdout.writelines(lines(n))
