"""HTTP layer: routers translate requests into service calls and results into responses."""
