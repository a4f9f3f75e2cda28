"""Webhooks and polling: forge deliveries and new mirror heads become workflows."""
