# syntax=docker/dockerfile:1
# One image for every Dudao process; the command picks which one:
#   docker run IMAGE                          -> dudao serve registry
#   docker run -e DUDAO_HEALTHCHECK_URL=http://127.0.0.1:8000/healthz IMAGE dudao serve gateway

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /src
# Dependencies first, from pyproject.toml and the pinned versions alone, so that a code change does not reinstall them.
COPY pyproject.toml constraints.txt ./
RUN mkdir dudao services gateway \
 && touch dudao/__init__.py services/__init__.py gateway/__init__.py \
 && pip install --no-cache-dir -c constraints.txt . \
 && pip uninstall --yes dudao \
 && rm -rf build dudao.egg-info
COPY . .
RUN pip install --no-cache-dir --no-deps -c constraints.txt .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    DUDAO_HOST=0.0.0.0 \
    DUDAO_HOME=/data \
    DUDAO_HEALTHCHECK_URL=http://127.0.0.1:8001/healthz
# /data is created here, owned by the app user, so a named volume mounted there is writable.
RUN groupadd --system --gid 10001 dudao \
 && useradd --system --uid 10001 --gid dudao --home-dir /app --shell /usr/sbin/nologin dudao \
 && mkdir -p /app /data \
 && chown dudao:dudao /app /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
EXPOSE 8000 8001 8002 8003 8004
# Set DUDAO_HEALTHCHECK_URL to the port of the service the container runs (gateway 8000, registry 8001, …).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['DUDAO_HEALTHCHECK_URL'], timeout=4)"]
CMD ["dudao", "serve", "registry"]
