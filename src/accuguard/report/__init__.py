"""Reports: JSON with a versioned, documented schema, and self-contained HTML."""
