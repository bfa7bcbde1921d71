#!/usr/bin/env bash
# Stops what scripts/start-services.sh started (PostgreSQL, slurmd, slurmctld; munged is left running).
set -uo pipefail
dir="${CTRLAB_SERVICES_DIR:-/tmp/ctrlab-services}"
export SLURM_CONF="$dir/slurm/slurm.conf"
[ -f "$dir/slurm/slurmd.pid" ] && kill "$(cat "$dir/slurm/slurmd.pid")" 2>/dev/null
[ -f "$dir/slurm/slurmctld.pid" ] && kill "$(cat "$dir/slurm/slurmctld.pid")" 2>/dev/null
[ -f "$dir/pg/postmaster.pid" ] && runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$dir/pg" -m fast stop
exit 0
