"""The job cache: Semaphore's `cache` keys per project, kept in the artifact store."""
