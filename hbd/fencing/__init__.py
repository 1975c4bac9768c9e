"""Fencing: power a node off (or reset it) through fence-agents' `fence_*` programs before taking over.

- `agent`: run one fence agent by its own protocol (`key=value` lines on stdin, exit codes, a timeout);
- `model`: devices, methods and a node's fence plan, as cluster.conf and ha.cf describe them;
- `execute`: carry out a plan: methods in order, every device of a method must succeed;
- `from_cluster` / `from_hacf`: build plans from `<fencedevices>` + `<clusternode><fence>`, or ha.cf's
  `stonith_host` lines naming a fence agent.
"""
