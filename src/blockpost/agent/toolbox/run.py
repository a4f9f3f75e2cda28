"""Starts one toolbox command (`python3 run.py artifact ARGS…`) on the job's python3."""

import os
import sys

if sys.version_info < (3, 8):  # noqa: UP036 (the job's python3 may be older than 3.8)
    found = ".".join(str(part) for part in sys.version_info[:2])
    sys.stderr.write(f"{sys.argv[1]}: needs python3 3.8 or newer; this job's is {found}\n")
    sys.exit(1)

# This directory is the package `toolbox`: in the job's control dir, or where blockpost
# is installed, wherever the agent found it.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from toolbox import (
    artifact,
    cache,
    install_package,
    sem_context,
    sem_service,
    sem_version,
    test_results,
)

COMMANDS = {
    "artifact": artifact.main,
    "cache": cache.main,
    "sem-context": sem_context.main,
    "test-results": test_results.main,
    "sem-version": sem_version.main,
    "sem-service": sem_service.main,
    "install-package": install_package.main,
}

if __name__ == "__main__":
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
