"""`hbd convert`: a cluster that outgrows hbd goes to Pacemaker + Corosync, the engine built for more.

haresources (with ha.cf) or cluster.conf -> one neutral model (model.py, built by build.py) -> a Pacemaker CIB
(cib.py, for `cibadmin --replace` or `crm_verify -x`) or a pcs script (pcs.py). Both outputs come from the
same model, so they describe the same cluster.
"""
