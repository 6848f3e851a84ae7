"""meshinstall: one validated mesh spec per environment becomes a service-mesh platform."""

__version__ = "0.1.0"
