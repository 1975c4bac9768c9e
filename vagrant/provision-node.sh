#!/bin/sh
# Provision one hbd node: DRBD (drbd-utils and the kernel's drbd module) on a file-backed loop device,
# ext4 on /dev/drbd0 for PostgreSQL's data, PostgreSQL itself (not started at boot: hbd starts it), and hbd
# from the .deb next to this file with the example configuration. Run by `vagrant up` as root.
# usage: provision-node.sh NAME CLUSTER_ADDR REPLICATION_ADDR "hb1=c,r hb2=c,r"
set -eu
NAME=$1; CLUSTER=$2; REPL=$3; ALL=$4
export DEBIAN_FRONTEND=noninteractive

apt-get update -qq
apt-get install -y -qq drbd-utils postgresql python3-pyroute2 python3-scapy python3-pyudev python3-lxml \
    python3-sdnotify python3-prometheus-client resource-agents >/dev/null
DEB=$(ls /vagrant/hbd_*_all.deb 2>/dev/null | tail -n 1)
[ -n "$DEB" ] || { echo "no hbd_*_all.deb in vagrant/: build it first (see README.md)" >&2; exit 1; }
apt-get install -y -qq "$DEB" >/dev/null

# Interfaces by address (box images differ in naming).
iface_of() { ip -o -4 addr show | awk -v a="$1" '$4 ~ "^"a"/" {print $2; exit}'; }
CIF=$(iface_of "$CLUSTER"); RIF=$(iface_of "$REPL")

# PostgreSQL runs only where hbd runs the group.
systemctl disable --now postgresql >/dev/null 2>&1 || true

# DRBD backing store: a 1 GiB file on a loop device set up before drbd at every boot.
mkdir -p /var/lib/hbd-lab
[ -e /var/lib/hbd-lab/pgdata.img ] || truncate -s 1G /var/lib/hbd-lab/pgdata.img
cat > /etc/systemd/system/hbd-lab-loop.service <<UNIT
[Unit]
Description=loop device backing the lab's DRBD resource
Before=drbd.service hbd.service
DefaultDependencies=no
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/sbin/losetup /dev/loop7 /var/lib/hbd-lab/pgdata.img
ExecStop=/sbin/losetup -d /dev/loop7
[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now hbd-lab-loop.service
modprobe drbd
echo drbd > /etc/modules-load.d/drbd.conf

{
  echo "resource pgdata {"
  echo "  device /dev/drbd0; disk /dev/loop7; meta-disk internal;"
  echo "  net { protocol C; after-sb-0pri discard-zero-changes; after-sb-1pri discard-secondary; after-sb-2pri disconnect; }"
  for entry in $ALL; do
    node=${entry%%=*}; rest=${entry#*=}; repl=${rest#*,}
    echo "  on $node { address $repl:7789; }"
  done
  echo "}"
} > /etc/drbd.d/pgdata.res
drbdadm dump pgdata >/dev/null
[ -e /var/lib/hbd-lab/md-created ] || { drbdadm create-md --force pgdata; touch /var/lib/hbd-lab/md-created; }
drbdadm up pgdata 2>/dev/null || drbdadm adjust pgdata

# The first node makes the initial copy, ext4 and PostgreSQL's data on it, then gives DRBD back.
if [ "$NAME" = hb1 ] && [ ! -e /var/lib/hbd-lab/fs-created ]; then
  drbdadm primary --force pgdata
  mkfs.ext4 -q /dev/drbd0
  mkdir -p /mnt/pg && mount /dev/drbd0 /mnt/pg
  cp -a /var/lib/postgresql/. /mnt/pg/
  umount /mnt/pg
  drbdadm secondary pgdata
  touch /var/lib/hbd-lab/fs-created
fi
# Let PostgreSQL accept the client network.
for conf in /etc/postgresql/*/main; do
  grep -q "^listen_addresses = '\*'" "$conf/postgresql.conf" || echo "listen_addresses = '*'" >> "$conf/postgresql.conf"
  grep -q "192.0.2.0/24" "$conf/pg_hba.conf" || echo "host all all 192.0.2.0/24 trust" >> "$conf/pg_hba.conf"
done

# hbd: the shipped example, with this lab's interfaces and the peer's replication address.
mkdir -p /etc/ha.d /var/log/hbd
cp /usr/share/doc/hbd/examples/ha.d/ha.cf /usr/share/doc/hbd/examples/ha.d/haresources /etc/ha.d/
sed -i "s/^bcast .*/bcast $CIF/; /^ucast /d" /etc/ha.d/ha.cf
for entry in $ALL; do
  rest=${entry#*=}; repl=${rest#*,}
  [ "$repl" = "$REPL" ] || echo "ucast $RIF $repl" >> /etc/ha.d/ha.cf
done
sed -i "s#/24/eth1#/24/$CIF#" /etc/ha.d/haresources
# One key for both nodes, made once in the shared folder.
[ -s /vagrant/.authkey ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > /vagrant/.authkey
printf 'auth 1\n1 sha1 %s\n' "$(cat /vagrant/.authkey)" > /etc/ha.d/authkeys
chmod 600 /etc/ha.d/authkeys
hbd config check
systemctl enable --now hbd
