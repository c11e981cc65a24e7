# One image for web, worker and beat; docker-compose.yml gives each its command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    VETTED_VAR_DIR=/app/var \
    ARTIFACT_ROOT=/data/artifacts \
    PORT=8000

# bubblewrap: the sandbox model code runs in (docker-compose.yml gives the worker what it needs).
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY . .
# The installed package brings the dependencies and the `vetted` CLI; PYTHONPATH=/app still runs
# the code from this tree, where settings.py finds templates/ and static/ next to it.
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin vetted \
    && mkdir -p /app/var /data/artifacts \
    && chown -R vetted:vetted /app/var /data/artifacts

USER vetted
EXPOSE 8000

CMD ["sh", "-c", "exec gunicorn vetted.wsgi --config python:vetted.gunicorn_conf --bind 0.0.0.0:${PORT} --access-logfile -"]
