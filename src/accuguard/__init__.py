"""accuguard: keep production ML models accurate."""

__version__ = "0.1.0"

from accuguard import validate as validate

__all__ = ["__version__", "validate"]
