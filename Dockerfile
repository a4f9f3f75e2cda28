# blockpost server image. State lives in /data (SQLite file, secret key, snapshots, artifacts):
# keep it on a volume and back it up with `blockpost backup` (README, Backups).
# trixie: its postgresql-client (17) can pg_dump the compose file's PostgreSQL 16.
FROM python:3.11-slim-trixie

# git and ssh: projects' repositories (ssh URLs too). bubblewrap: the embedded agent runs
# each job in a sandbox when the container may create namespaces (README, Security model).
# postgresql-client: `blockpost backup` and `restore` use pg_dump and pg_restore.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       git openssh-client bubblewrap postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /data /jobs /backups /root/.ssh \
    && chmod 700 /data /backups /root/.ssh && chmod 711 /jobs \
    && touch /root/.ssh/known_hosts && chmod 600 /root/.ssh/known_hosts

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir .

# The server runs as root inside the container so that, where no sandbox is allowed, the
# embedded agent runs jobs as BLOCKPOST_JOB_USER (nobody): a job then cannot read the
# server's environment (the database password), /data or /root/.ssh.
ENV BLOCKPOST_HOST=0.0.0.0 \
    BLOCKPOST_PORT=8000 \
    BLOCKPOST_DATA_DIR=/data \
    BLOCKPOST_JOBS_DIR=/jobs \
    BLOCKPOST_JOB_USER=nobody
VOLUME /data
EXPOSE 8000
# Reads the same settings as the server: follows BLOCKPOST_PORT (and TLS) wherever set.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "blockpost.healthcheck"]
CMD ["blockpost", "serve"]
