"""Resource agents: one contract (base), one runner, the agent classes, the registry and the executor."""
