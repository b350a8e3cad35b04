"""A read-only Docker Swarm visualizer: nodes, their tasks, served as HTML and JSON."""

__version__ = "1.0.0"
