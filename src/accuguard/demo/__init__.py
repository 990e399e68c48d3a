"""The demo: generated fraud-like data, models, and the main jobs end to end."""
