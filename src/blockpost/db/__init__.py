"""Storage: engine and session factory, ORM models, migrations runner."""
