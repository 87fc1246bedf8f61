"""agentctl: the command-line client of the agents service (see docs/cli.md)."""

__version__ = "0.1.0"
