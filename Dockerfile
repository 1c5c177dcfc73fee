# OrderGraph: slim, non-root, health-checked; `ordergraph serve` by default, and
# `ordergraph sim` or `ordergraph keys …` with another command (see compose.yaml).
# Point the gateway at the sources with OG_OMS_URL, OG_INVENTORY_URL, OG_CARRIER_URL and
# OG_TICKETING_URL; docs/production.md and docs/operations.md say the rest.
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OG_HOST=0.0.0.0 \
    OG_PORT=8000 \
    OG_KEYS_URL=file:/var/lib/ordergraph/keys.json

WORKDIR /app

# Dependencies first, in their own layer: the runtime dependencies pyproject.toml
# declares, at the versions requirements.lock pins. A change of code rebuilds only
# the layers below.
COPY pyproject.toml requirements.lock ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/runtime.txt \
 && pip install -c requirements.lock -r /tmp/runtime.txt \
 && rm /tmp/runtime.txt

# Then the code, without touching the dependencies.
COPY README.md ./
COPY gateway ./gateway
COPY services ./services
COPY resolvers ./resolvers
COPY domain ./domain
COPY sources ./sources
# The simulated sources: `ordergraph demo` and `ordergraph sim` (the CLI imports them).
COPY sim ./sim
RUN pip install --no-deps -c requirements.lock . \
 && useradd --system --uid 10001 --no-create-home ordergraph \
 && mkdir -p /var/lib/ordergraph \
 && chown ordergraph /var/lib/ordergraph

# The file key store (OG_KEYS_URL above) lives here; mount a volume to keep it, or set
# OG_KEYS_URL=redis://… to keep the keys in Redis.
VOLUME /var/lib/ordergraph

USER ordergraph
EXPOSE 8000
# On SIGTERM the gateway drains (OG_SHUTDOWN_DRAIN_MS, /readyz failing) and then gives
# requests in flight OG_SHUTDOWN_GRACE_MS: give the container longer than both before
# it is killed (compose.yaml: stop_grace_period 15s; docker stop -t 15).
STOPSIGNAL SIGTERM
# The port the gateway listens on: OG_PORT, as `ordergraph serve` reads it.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('OG_PORT', '8000'), timeout=2)"]
CMD ["ordergraph", "serve"]
