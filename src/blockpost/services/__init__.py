"""Domain services: plain async functions that take a session, flush, and never commit."""
