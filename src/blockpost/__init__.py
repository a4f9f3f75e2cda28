"""blockpost: a self-hosted CI/CD server that speaks the Semaphore 2.0 API."""

__version__ = "0.1.0"
