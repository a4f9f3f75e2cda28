"""How the server logs: uvicorn's plain text, or one JSON object per line for collectors."""

from __future__ import annotations

import json
import logging
from typing import Any

from uvicorn.config import LOGGING_CONFIG

from blockpost.timefmt import from_epoch, iso_micros

EVENT_FIELDS = "blockpost_fields"  # set by events_log.emit


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message"}`, an event's fields, and `exception` with its
    traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": iso_micros(from_epoch(record.created)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        # An event's fields (events_log.py) as keys of their own, after the fixed ones.
        for key, value in getattr(record, EVENT_FIELDS, {}).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def log_config(log_format: str) -> dict[str, Any]:
    """The logging config uvicorn applies at start."""
    if log_format != "json":
        # uvicorn's config names only its own loggers; blockpost's INFO lines (events) go
        # through the same handler and format.
        return {
            **LOGGING_CONFIG,
            "loggers": {
                **LOGGING_CONFIG["loggers"],
                "blockpost": {"handlers": ["default"], "level": "INFO", "propagate": False},
            },
        }
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    passes_up = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": "INFO"},
        "loggers": {
            "uvicorn": passes_up,
            "uvicorn.error": passes_up,
            "uvicorn.access": passes_up,
        },
    }
