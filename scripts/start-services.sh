#!/usr/bin/env bash
# Starts what the integration tests need, on this machine only, and prints their settings as shell exports:
#   eval "$(scripts/start-services.sh)"
# - PostgreSQL (Debian's postgresql 15) on 127.0.0.1:55432 with a database ctrlab_test, user ctrlab (fsync off
#   unless CTRLAB_PG_FSYNC=on);
# - a single-node Slurm (Debian's slurm-wlm and munge) on loopback, its config made from
#   scripts/services/slurm.conf.in.
# State lives in $CTRLAB_SERVICES_DIR (default /tmp/ctrlab-services). Services already running there are reused.
# Installs the packages with apt when missing. Needs root (Slurm runs its daemons and jobs as root here).
# Exits non-zero, saying why, if a service cannot be started: the tests that need it would otherwise not run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${CTRLAB_SERVICES_DIR:-/tmp/ctrlab-services}"
pg_port="${CTRLAB_PG_PORT:-55432}"
# The tests' PostgreSQL does not wait for the disk (fsync=off); CTRLAB_PG_FSYNC=on gives PostgreSQL's default, for
# store-bench figures that hold for a real database (with a fresh CTRLAB_SERVICES_DIR and CTRLAB_PG_PORT).
pg_fsync="${CTRLAB_PG_FSYNC:-off}"
ctld_port="${CTRLAB_SLURMCTLD_PORT:-6917}"
slurmd_port="${CTRLAB_SLURMD_PORT:-6918}"
log() { echo "start-services: $*" >&2; }
if [ "$(id -u)" -ne 0 ]; then
  log "needs root (Slurm's daemons and jobs run as root in this test setup)"; exit 1
fi
need=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql)
command -v slurmctld >/dev/null || need+=(slurm-wlm)
command -v munged >/dev/null || need+=(munge)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
mkdir -p "$dir"
chmod 755 "$dir"

# --- PostgreSQL -------------------------------------------------------------------------------------------------
pgbin=/usr/lib/postgresql/15/bin
if ! "$pgbin/pg_isready" -q -h 127.0.0.1 -p "$pg_port"; then
  if [ ! -f "$dir/pg/PG_VERSION" ]; then
    mkdir -p "$dir/pg" "$dir/pgsock"
    chown postgres:postgres "$dir/pg" "$dir/pgsock"
    runuser -u postgres -- "$pgbin/initdb" -D "$dir/pg" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  mkdir -p "$dir/pglog"
  chown postgres:postgres "$dir/pgsock" "$dir/pglog"
  # Passwords are checked over TCP (as on a real database server); the superuser comes in over the socket.
  printf 'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n' > "$dir/pg/pg_hba.conf"
  chown postgres:postgres "$dir/pg/pg_hba.conf"
  runuser -u postgres -- "$pgbin/pg_ctl" -D "$dir/pg" -l "$dir/pglog/postgres.log" -w -t 60 \
    -o "-p $pg_port -k $dir/pgsock -c listen_addresses=127.0.0.1 -c fsync=$pg_fsync" start >&2
fi
psql() { /usr/bin/psql -h "$dir/pgsock" -p "$pg_port" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
if ! grep -q "^host all all 127.0.0.1/32 scram-sha-256" "$dir/pg/pg_hba.conf"; then
  # An instance started by an older version of this script, with trust for TCP: check passwords from now on.
  printf 'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n' > "$dir/pg/pg_hba.conf"
  psql -c "SELECT pg_reload_conf()" >/dev/null
fi
if [ "$(psql -c "SELECT 1 FROM pg_roles WHERE rolname = 'ctrlab'")" != 1 ]; then
  psql -c "CREATE ROLE ctrlab LOGIN PASSWORD 'ctrlab'" >/dev/null
fi
if [ "$(psql -c "SELECT 1 FROM pg_database WHERE datname = 'ctrlab_test'")" != 1 ]; then
  psql -c "CREATE DATABASE ctrlab_test OWNER ctrlab" >/dev/null
fi
log "PostgreSQL on 127.0.0.1:$pg_port"

# --- munge and Slurm --------------------------------------------------------------------------------------------
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown -R munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge
if ! pgrep -x munged >/dev/null; then
  runuser -u munge -- /usr/sbin/munged
fi
host="$(hostname -s)"
mkdir -p "$dir/slurm/state" "$dir/slurm/spool"
sed -e "s|@HOST@|$host|g" -e "s|@DIR@|$dir|g" -e "s|@CTLD_PORT@|$ctld_port|g" -e "s|@SLURMD_PORT@|$slurmd_port|g" \
  "$here/services/slurm.conf.in" > "$dir/slurm/slurm.conf"
export SLURM_CONF="$dir/slurm/slurm.conf"
if ! scontrol ping 2>/dev/null | grep -q UP; then
  slurmctld -c >&2 || { log "slurmctld did not start; see $dir/slurm/slurmctld.log"; exit 1; }
else
  scontrol reconfigure >&2 || true # a controller started earlier takes up this slurm.conf (a partition added since)
fi
if ! pgrep -f "slurmd.*$dir" >/dev/null && ! pgrep -x slurmd >/dev/null; then
  slurmd -f "$SLURM_CONF" >&2 || { log "slurmd did not start; see $dir/slurm/slurmd.log"; exit 1; }
fi
for _ in $(seq 1 60); do
  state="$(sinfo -h -n "$host" -o %t 2>/dev/null || true)"
  case "$state" in idle|mix|alloc) break ;; down*|drain*) scontrol update NodeName="$host" State=RESUME >&2 || true ;; esac
  sleep 1
done
case "$state" in idle|mix|alloc) ;; *) log "the Slurm node is '$state', not idle; see $dir/slurm/"; exit 1 ;; esac
log "Slurm node $host is $state (SLURM_CONF=$SLURM_CONF)"

echo "export SLURM_CONF='$SLURM_CONF'"
echo "export CTRLAB_TEST_SLURM=1"
echo "export CTRLAB_TEST_PG_URL='jdbc:postgresql://127.0.0.1:$pg_port/ctrlab_test?user=ctrlab&password=ctrlab'"
