"""hbd: a high-availability daemon for two-node Linux clusters (Heartbeat v1 and rgmanager compatible)."""

__version__ = "0.1.0"
