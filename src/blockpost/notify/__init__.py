"""Notifications: which finished pipelines match which rules, the messages, their delivery."""
