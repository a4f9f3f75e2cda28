"""Artifacts: Semaphore's project/workflow/job file store, its hub protocol and retention."""
