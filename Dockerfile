# syntax=docker/dockerfile:1
# The logship agent image.
#
#   docker build -t logship:0.1.0 .
#   docker run -v /var/log/myapp:/logs:ro -v logship-data:/var/lib/logship -p 127.0.0.1:9600:9600 logship:0.1.0
#
# - Runs as an unprivileged user (uid/gid 10001), never root.
# - Checkpoints live in the /var/lib/logship volume: keep it across container restarts, or
#   files are read again per `start_at`.
# - The default config (deploy/docker/logship.yaml) tails /logs/**/*.log and prints JSON
#   records on stdout; mount your own config over /etc/logship/logship.yaml.
# - The HTTP endpoint (/metrics, /healthz, /readyz, /status) must listen on 0.0.0.0 inside the
#   container for probes and scrapers outside its network namespace: LOGSHIP_HTTP_ADDRESS says
#   where, and a config of your own should use it too:
#       agent: {http: {address: "${LOGSHIP_HTTP_ADDRESS:-127.0.0.1:9600}"}}
#   Publish the port on the host's loopback only (-p 127.0.0.1:9600:9600) unless you mean it.

ARG PYTHON_VERSION=3.12

# --- build: wheels for logship and every dependency ------------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
# gcc for logship's compiled fast path (parsers/_fastscan.c); the runtime stage gets the wheel.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY logship ./logship
COPY parsers ./parsers
COPY sinks ./sinks
RUN pip wheel --wheel-dir /wheels .

# --- runtime: the wheels installed offline, no compiler, no build files ----------------------
FROM python:${PYTHON_VERSION}-slim-bookworm
ARG UID=10001
LABEL org.opencontainers.image.title="logship" \
      org.opencontainers.image.description="Tails log files, parses them with regex rules, ships JSON to Kafka and Elasticsearch without losing a line." \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid ${UID} logship \
 && useradd --system --uid ${UID} --gid logship --no-create-home \
        --home-dir /var/lib/logship --shell /usr/sbin/nologin logship \
 && install -d -o logship -g logship -m 0750 /var/lib/logship \
 && install -d -m 0755 /etc/logship /logs
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels logship
COPY deploy/docker/logship.yaml /etc/logship/logship.yaml
ENV LOGSHIP_HTTP_ADDRESS=0.0.0.0:9600 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
WORKDIR /var/lib/logship
VOLUME ["/var/lib/logship"]
EXPOSE 9600
# Liveness: threads alive and none wedged (a sink outage is not a failed health check).
# urlopen raises on a 503, which exits non-zero. The port follows LOGSHIP_HTTP_ADDRESS.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('LOGSHIP_HTTP_ADDRESS', '127.0.0.1:9600').rsplit(':', 1)[1]; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]
# SIGTERM drains the queues and writes the last checkpoint (agent.shutdown_timeout, 20 s by
# default): give `docker stop` more than that (docker stop -t 30).
STOPSIGNAL SIGTERM
ENTRYPOINT ["logship"]
CMD ["run", "-c", "/etc/logship/logship.yaml"]
