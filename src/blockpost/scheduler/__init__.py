"""Schedules: cron-driven workflow runs, fired once per tick across replicas."""
