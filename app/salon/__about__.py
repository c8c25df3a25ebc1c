"""The one place Salon's version is defined."""

__version__ = "0.1.0"
