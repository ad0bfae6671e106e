"""rtt: real-time speech translation (front ends over the `pipeline` runtime)."""

__version__ = "0.1.0"
__all__ = ["__version__"]
