"""The base of every request body: unknown and read-only fields are ignored, as Semaphore does.

Clients send back what a describe showed them (`id`, `status`, metadata times, `aws: {}`),
and Semaphore's own API drops what it does not know; a wrong type is still a 400.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="ignore")
