"""Persistence: SQLAlchemy models, sessions and migrations (DESIGN.md, db/)."""
