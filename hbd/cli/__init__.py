"""Command-line entry points; every tool is a thin client of the config model, the lab or the daemon."""
