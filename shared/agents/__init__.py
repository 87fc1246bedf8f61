"""Agent definitions: schema, catalog, validation, storage."""
