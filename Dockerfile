# blockpost server image. Data (SQLite file, secret key, repository mirrors) lives in /data.
FROM python:3.11-slim

# bubblewrap: the embedded agent runs each job in a sandbox when the container may create
# namespaces (see README, Security model); otherwise only administrators' jobs run on it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git openssh-client bubblewrap \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 blockpost \
    && mkdir /data /jobs && chown blockpost /data /jobs && chmod 700 /data && chmod 711 /jobs

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir .

USER blockpost
ENV BLOCKPOST_HOST=0.0.0.0 \
    BLOCKPOST_PORT=8000 \
    BLOCKPOST_DATA_DIR=/data \
    BLOCKPOST_JOBS_DIR=/jobs
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["blockpost", "serve"]
