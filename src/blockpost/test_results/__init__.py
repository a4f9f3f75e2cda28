"""Test results: the JUnit reports jobs publish, parsed, stored, summarised per job and pipeline."""
