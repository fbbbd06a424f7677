"""Generates log4j-style Java application logs with stack traces: deterministic, for multiline.

python benchmarks/java_log.py 100000 > app.log     (about 100,000 lines)

Layout `%d{yyyy-MM-dd HH:mm:ss,SSS} %-5p [%t] %c - %m%n`. About one event in eight is an
ERROR or WARN with a stack trace (an exception line, 6-30 `at` frames, sometimes a `Caused by:`
with its own frames and `... N more`), so about half the lines are continuation lines that the
`java_stacktrace` multiline preset must join to the line before them.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.nginx_log import OUT

LEVELS = ["INFO "] * 12 + ["DEBUG"] * 4 + ["WARN "] * 2
THREADS = ["main", "http-nio-8080-exec-1", "http-nio-8080-exec-7", "kafka-producer-network-thread"]
LOGGERS = [
    "com.example.orders.OrderService",
    "com.example.orders.web.OrderController",
    "com.example.payments.PaymentClient",
    "org.springframework.web.servlet.DispatcherServlet",
    "org.hibernate.SQL",
]
MESSAGES = [
    "Order {n} placed by customer {m}",
    "Completed 200 OK in {m} ms",
    "select o.id, o.total from orders o where o.customer_id=? limit {m}",
    "Cache miss for key order:{n}",
    "Request GET /api/v1/orders/{n} from 10.0.{m}.7",
]
EXCEPTIONS = [
    "java.lang.IllegalStateException: Order {n} is already closed",
    'java.lang.NullPointerException: Cannot invoke "String.length()" because "name" is null',
    "org.springframework.dao.DataIntegrityViolationException: could not execute statement",
    "java.net.SocketTimeoutException: Read timed out",
]
CAUSES = [
    "java.sql.SQLIntegrityConstraintViolationException: Duplicate entry '{n}' for key 'PRIMARY'",
    "java.io.IOException: Connection reset by peer",
]
FRAMES = [
    "com.example.orders.OrderService.close(OrderService.java:{m})",
    "com.example.orders.web.OrderController.update(OrderController.java:{m})",
    "org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:{m})",
    "jakarta.servlet.http.HttpServlet.service(HttpServlet.java:{m})",
    "org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:{m})",
    "org.hibernate.engine.jdbc.spi.SqlExceptionHelper.convert(SqlExceptionHelper.java:{m})",
    "java.base/java.lang.Thread.run(Thread.java:{m})",
]

JAVA_RULE = {
    "name": "log4j",
    "regex": (
        r"^(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (?P<level>[A-Z]+)\s+"
        r"\[(?P<thread>[^\]]+)\] (?P<logger>\S+) - (?P<message>(?s:.*))"
    ),
    "timestamp": {"field": "time", "format": "%Y-%m-%d %H:%M:%S,%f"},
}
"""The agent's rule for these events: the message keeps the stack trace (the event's other lines)."""


def _trace(rng: random.Random, n: int) -> list[str]:
    out = [rng.choice(EXCEPTIONS).format(n=n)]
    out += [
        f"\tat {rng.choice(FRAMES).format(m=rng.randrange(20, 900))}"
        for _ in range(rng.randrange(6, 31))
    ]
    if rng.random() < 0.4:
        out.append(f"Caused by: {rng.choice(CAUSES).format(n=n)}")
        out += [
            f"\tat {rng.choice(FRAMES).format(m=rng.randrange(20, 900))}"
            for _ in range(rng.randrange(3, 9))
        ]
        out.append(f"\t... {rng.randrange(10, 60)} more")
    return out


def events(min_lines: int, seed: int = 7, start: float = 1_764_000_000.0) -> Iterator[list[str]]:
    """Events (each a list of lines, the first one the logging line) until `min_lines` lines."""
    rng = random.Random(seed)
    made = 0
    n = 0
    while made < min_lines:
        moment = start + n / 200
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(moment))
        millis = int(moment * 1000) % 1000
        thread, logger = rng.choice(THREADS), rng.choice(LOGGERS)
        if rng.random() < 0.125:
            level = "ERROR" if rng.random() < 0.7 else "WARN "
            head = f"{stamp},{millis:03} {level} [{thread}] {logger} - Request failed for order {n}"
            lines = [head, *_trace(rng, n)]
        else:
            text = rng.choice(MESSAGES).format(n=n, m=rng.randrange(1, 500))
            lines = [f"{stamp},{millis:03} {rng.choice(LEVELS)} [{thread}] {logger} - {text}"]
        made += len(lines)
        n += 1
        yield lines


def write(path: Path, min_lines: int, seed: int = 7) -> tuple[int, int]:
    """Writes events of at least `min_lines` lines in all; returns (lines, events)."""
    lines = count = 0
    with path.open("w", encoding="utf-8") as out:
        for event in events(min_lines, seed):
            out.write("\n".join(event) + "\n")
            lines += len(event)
            count += 1
    return lines, count


def ensure_input(min_lines: int) -> tuple[Path, int, int]:
    """The generated log in benchmarks/out (made once): (path, lines, events)."""
    path = OUT / f"java-{min_lines}.log"
    counts = path.with_suffix(".counts")
    if not path.exists() or not counts.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        lines, count = write(tmp, min_lines)
        tmp.rename(path)
        counts.write_text(f"{lines} {count}\n")
    lines, count = (int(x) for x in counts.read_text().split())
    return path, lines, count


if __name__ == "__main__":
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    for event in events(total):
        sys.stdout.write("\n".join(event) + "\n")
