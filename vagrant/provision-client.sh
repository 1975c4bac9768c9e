#!/bin/sh
# The client: psql against the floating address, to watch a failover from outside the cluster.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq postgresql-client >/dev/null
echo "try: psql -h 192.0.2.50 -U postgres -c 'select inet_server_addr()'"
