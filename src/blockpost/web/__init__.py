"""The web UI: server-rendered pages on the services and permissions the API uses."""
