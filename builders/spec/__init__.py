"""The spec language: YAML loading with positions, the schema, markers, name resolution and errors."""
