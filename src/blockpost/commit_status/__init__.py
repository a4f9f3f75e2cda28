"""Commit statuses: pipelines and blocks reported back to the forge that holds the commit."""
