# OrderGraph gateway: slim, non-root, health-checked. Point it at the sources with
# OG_OMS_URL, OG_INVENTORY_URL, OG_CARRIER_URL and OG_TICKETING_URL.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OG_HOST=0.0.0.0 \
    OG_PORT=8000

WORKDIR /app
COPY pyproject.toml README.md requirements.lock ./
COPY gateway ./gateway
COPY resolvers ./resolvers
COPY sources ./sources
RUN pip install -c requirements.lock . \
 && useradd --system --uid 10001 --no-create-home ordergraph

USER ordergraph
EXPOSE 8000
# The port the gateway listens on: OG_PORT, as `ordergraph serve` reads it.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('OG_PORT', '8000'), timeout=2)"]
CMD ["ordergraph", "serve"]
