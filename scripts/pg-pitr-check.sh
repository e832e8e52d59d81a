#!/usr/bin/env bash
# End-to-end check of PostgreSQL continuous archiving and point-in-time recovery with
# pgBackRest, the setup documented in docs/postgresql-backup.md.
#
# In a fresh temporary directory it: creates a scratch PostgreSQL cluster (port PG_PITR_PORT,
# default 5499, 127.0.0.1 and a unix socket in the temp dir only) that archives its WAL with
# pgBackRest into an encrypted, compressed repository in the same temp dir; runs stanza-create,
# check and a full backup; inserts rows, notes a target time T between two batches and dumps
# the table as it is at T; inserts more rows and waits until their WAL is archived; stops the
# cluster, restores to T into a new data directory with `pgbackrest restore --type=time`,
# starts that on PG_PITR_PORT+1, waits for recovery to end and compares the table with the
# dump taken at T.
#
# Prints `PITR OK: ...` and exits 0 when the restored table matches, else prints the diff and
# exits 1. Also prints timings, the archive lag (from `pgbackrest info --output=json` and from
# pg_stat_archiver) and writes the info JSON to PG_PITR_INFO_OUT (default: in the temp dir).
#
# Never touches another cluster (the stock one on 5432) nor /etc/pgbackrest*. Installs
# pgbackrest with apt-get when it is missing. Needs the PostgreSQL server binaries
# (/usr/lib/postgresql/VERSION/bin) and the `postgres` OS user; runs as root (the PostgreSQL
# and pgBackRest commands then run through `runuser -u postgres`), as postgres, or reruns
# itself with sudo.
#
# Environment: PG_PITR_PORT (5499), PG_PITR_KEEP=1 (keep the temp dir), PG_PITR_VERSION
# (server major version, default: the newest installed), PG_PITR_INFO_OUT (file for the
# info JSON).
set -euo pipefail

STANZA=cista
PG_USER=postgres
START=$(date +%s.%N)

log() { printf '[pitr %5.1fs] %s\n' "$(awk -v s="$START" -v n="$(date +%s.%N)" 'BEGIN{print n-s}')" "$*"; }
die() { echo "PITR FAILED: $*" >&2; exit 1; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", b-a}'; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
# Runs as root (the server commands then go through runuser) or as the postgres OS user
# itself; anyone else runs the whole script again through sudo.
if [ "$(id -u)" != 0 ] && [ "$(id -un)" != "$PG_USER" ]; then
  exec sudo --preserve-env=PG_PITR_PORT,PG_PITR_KEEP,PG_PITR_VERSION,PG_PITR_INFO_OUT,TMPDIR bash "$0" "$@"
fi
# Runs a command as the postgres OS user (initdb and the server refuse to run as root).
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u "$PG_USER" -- "$@"; else "$@"; fi; }

# --- tools ------------------------------------------------------------------------------
if ! command -v pgbackrest >/dev/null 2>&1; then
  log "installing pgbackrest"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbackrest >/dev/null
fi
PGBACKREST=$(command -v pgbackrest)

if [ -n "${PG_PITR_VERSION:-}" ]; then
  PGVER=$PG_PITR_VERSION
else
  PGVER=
  # shellcheck disable=SC2012 # directory names are version numbers
  for v in $(ls /etc/postgresql 2>/dev/null | sort -rn) $(ls /usr/lib/postgresql 2>/dev/null | sort -rn); do
    if [ -x "/usr/lib/postgresql/$v/bin/initdb" ]; then PGVER=$v; break; fi
  done
  if [ -z "$PGVER" ] && command -v pg_config >/dev/null 2>&1; then
    PGVER=$(pg_config --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
  fi
fi
PGBIN=/usr/lib/postgresql/$PGVER/bin
[ -x "$PGBIN/initdb" ] || die "no PostgreSQL server binaries in $PGBIN (install postgresql)"
id "$PG_USER" >/dev/null 2>&1 || die "no '$PG_USER' OS user (install postgresql)"

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=${PG_PITR_PORT:-5499}
[[ "$PORT" =~ ^[0-9]+$ ]] || die "PG_PITR_PORT must be a number"
if [ "$PORT" = 5432 ] || [ "$((PORT + 1))" = 5432 ]; then die "PG_PITR_PORT must keep clear of 5432"; fi
if port_busy "$PORT" || port_busy "$((PORT + 1))"; then
  [ -z "${PG_PITR_PORT:-}" ] || die "port $PORT or $((PORT + 1)) is in use"
  PORT=
  for p in $(seq 5501 2 5597); do
    if ! port_busy "$p" && ! port_busy "$((p + 1))"; then PORT=$p; break; fi
  done
  [ -n "$PORT" ] || die "no free port pair found in 5499-5598"
fi
PORT2=$((PORT + 1))

# --- scratch directory --------------------------------------------------------------------
BASE=${TMPDIR:-/tmp}
[[ "$BASE" =~ ^[A-Za-z0-9/._-]+$ ]] || BASE=/tmp
T=$(mktemp -d "$BASE/pg-pitr.XXXXXX")
DATA=$T/data RESTORED=$T/restored REPO=$T/repo CONF=$T/pgbackrest.conf SOCK=$T
INFO_JSON=$(realpath -m "${PG_PITR_INFO_OUT:-$T/pgbackrest-info.json}")

cleanup() {
  local rc=$?
  set +e
  if [ "$rc" != 0 ]; then
    echo "--- PITR check failed (exit $rc); log tails:" >&2
    for f in "$T"/pg-*.log "$T"/log/*.log; do
      [ -f "$f" ] && { echo "--- $f" >&2; tail -n 25 "$f" >&2; }
    done
  fi
  for d in "$RESTORED" "$DATA"; do
    [ -f "$d/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1
  done
  if [ "${PG_PITR_KEEP:-0}" = 1 ]; then
    echo "kept $T" >&2
  else
    rm -rf "$T"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
chmod 0700 "$T"
chown "$PG_USER:$PG_USER" "$T" # the servers write their logs here

cd "$T" # the postgres user may not be able to read the caller's working directory
install -d -o "$PG_USER" -g "$PG_USER" -m 0700 "$DATA" "$RESTORED" "$REPO" "$T/log" "$T/lock" "$T/spool"

# --- pgBackRest configuration (its own file: never /etc/pgbackrest*) -----------------------
CIPHER_PASS=$(head -c 48 /dev/urandom | base64 -w0)
umask 077
cat >"$CONF" <<EOF
[global]
repo1-path=$REPO
repo1-retention-full=2
repo1-cipher-type=aes-256-cbc
repo1-cipher-pass=$CIPHER_PASS
compress-type=zst
compress-level=3
process-max=2
start-fast=y
archive-timeout=60
log-path=$T/log
lock-path=$T/lock
spool-path=$T/spool
log-level-console=warn
log-level-file=info

[$STANZA]
pg1-path=$DATA
pg1-port=$PORT
pg1-socket-path=$SOCK
EOF
umask 022
chown "$PG_USER:$PG_USER" "$CONF"
chmod 0600 "$CONF"
BR=("$PGBACKREST" "--config=$CONF" "--stanza=$STANZA")

psql_at() { # PORT SQL... : one unaligned value per line
  local port=$1; shift
  as_pg "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$port" -d postgres -At "$@"
}
dump_table() { # PORT FILE : the table's rows in a fixed order
  psql_at "$1" -c "COPY (SELECT id, batch, payload, created_at FROM pitr_check ORDER BY id) TO STDOUT" >"$2"
}

# --- scratch cluster ----------------------------------------------------------------------
log "PostgreSQL $PGVER ($PGBIN), pgBackRest $("$PGBACKREST" version | awk '{print $2}'), ports $PORT/$PORT2, dir $T"
as_pg "$PGBIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$T/initdb.log" 2>&1 \
  || { cat "$T/initdb.log" >&2; die "initdb failed"; }
cat >>"$DATA/postgresql.conf" <<EOF

# pg-pitr-check
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$SOCK'
wal_level = replica
archive_mode = on
archive_command = '$PGBACKREST --config=$CONF --stanza=$STANZA archive-push %p'
archive_timeout = 1
timezone = 'UTC'
log_timezone = 'UTC'
EOF
as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$T/pg-primary.log" -w -t 60 start >/dev/null
log "primary started"

as_pg "${BR[@]}" stanza-create
as_pg "${BR[@]}" check
t0=$(now)
as_pg "${BR[@]}" --type=full backup
t_backup=$(secs "$t0" "$(now)")
log "full backup done in ${t_backup}s"

# --- writes before and after the target time T --------------------------------------------
psql_at "$PORT" -c "CREATE TABLE pitr_check (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  batch int NOT NULL, payload text NOT NULL, created_at timestamptz NOT NULL DEFAULT clock_timestamp())"
insert_batches() { # FIRST LAST : one committed transaction per batch, 0.2 s apart
  local b sql=""
  for b in $(seq "$1" "$2"); do
    sql+="INSERT INTO pitr_check (batch, payload) SELECT $b, md5(random()::text) FROM generate_series(1, 50);"$'\n'
    sql+="SELECT pg_sleep(0.2);"$'\n'
  done
  psql_at "$PORT" >/dev/null <<<"$sql"
}
insert_batches 1 10
# Inserts are paused: every commit so far happened before T, every later one after it.
dump_table "$PORT" "$T/at-target.copy"
sleep 0.3
TARGET=$(psql_at "$PORT" -c "SELECT now()")
sleep 0.3
ROWS=$(wc -l <"$T/at-target.copy")
log "target time T = $TARGET ($ROWS rows)"
insert_batches 11 20
ROWS_AFTER=$(psql_at "$PORT" -c "SELECT count(*) FROM pitr_check")
log "$ROWS_AFTER rows after more inserts"

# --- make sure everything up to here is in the repository ---------------------------------
SWITCH_WAL=$(psql_at "$PORT" -c "SELECT pg_walfile_name(pg_switch_wal())")
deadline=$((SECONDS + 60))
while :; do
  ARCHIVED=$(psql_at "$PORT" -c "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
  # Names on one timeline sort like their positions (fixed-width upper-case hex).
  [[ -n "$ARCHIVED" && ! "$ARCHIVED" < "$SWITCH_WAL" ]] && break
  [ "$SECONDS" -lt "$deadline" ] || die "WAL $SWITCH_WAL not archived within 60s (last: ${ARCHIVED:-none})"
  sleep 0.2
done
log "WAL archived up to $ARCHIVED (switched out $SWITCH_WAL)"

# --- archive lag and repository info --------------------------------------------------------
mkdir -p "$(dirname "$INFO_JSON")"
as_pg "${BR[@]}" --output=json info >"$INFO_JSON"
# Parsed with the server's JSON functions (no jq/python needed).
lag=$(as_pg "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -d postgres -At -F '|' \
  -v info="$(cat "$INFO_JSON")" <<'SQL'
WITH i AS (SELECT (:'info'::jsonb)->0 AS s),
     a AS (SELECT s->'archive'->-1->>'max' AS repo_max, s->'status'->>'message' AS status,
                  to_timestamp((s->'backup'->-1->'timestamp'->>'stop')::bigint) AS backup_stop FROM i),
     z AS (SELECT setting::bigint AS seg_size FROM pg_settings WHERE name = 'wal_segment_size'),
     w AS (SELECT pg_walfile_name(pg_current_wal_lsn() + 1) AS cur_name, -- +1: at a boundary, the next file
                  floor(pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') / z.seg_size)::bigint AS cur_seg FROM z)
SELECT a.status, a.repo_max, w.cur_name,
       -- complete segments between the newest one in the repository and the one being written:
       -- a WAL file name is timeline, then segment number / (4 GiB / segment size), then the rest
       w.cur_seg - 1 - (('x' || substr(a.repo_max, 9, 8))::bit(32)::bigint * (4294967296 / z.seg_size)
                        + ('x' || substr(a.repo_max, 17, 8))::bit(32)::bigint),
       round(extract(epoch FROM now() - a.backup_stop)),
       coalesce(s.last_archived_wal, '-'),
       coalesce(round(extract(epoch FROM now() - s.last_archived_time), 1)::text, '-'),
       s.archived_count, s.failed_count
FROM a, w, z, pg_stat_archiver s
SQL
)
IFS='|' read -r info_status repo_max cur_wal seg_behind backup_age last_wal last_age archived failed <<<"$lag"
log "pgbackrest info: status '$info_status', archive max $repo_max, newest backup stopped ${backup_age}s ago; JSON in $INFO_JSON"
log "archive lag: repository max $repo_max (server at $cur_wal): $seg_behind complete segment(s) not yet in the repository"
log "archive lag: pg_stat_archiver last_archived_wal $last_wal, ${last_age}s ago (archived $archived, failed $failed)"
sed 's/^/  /' "$INFO_JSON"; echo

# --- stop, restore to T into a new data directory, recover ---------------------------------
as_pg "$PGBIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
log "primary stopped"
t0=$(now)
as_pg "${BR[@]}" "--pg1-path=$RESTORED" --type=time "--target=$TARGET" --target-action=promote restore
t_restore=$(secs "$t0" "$(now)")
log "restore done in ${t_restore}s"
t0=$(now)
# archive_mode off: the restored copy must not push its new timeline into the repository.
as_pg "$PGBIN/pg_ctl" -D "$RESTORED" -l "$T/pg-restored.log" -w -t 60 \
  -o "-p $PORT2 -c archive_mode=off" start >/dev/null
deadline=$((SECONDS + 60))
until [ "$(psql_at "$PORT2" -c "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ]; do
  # pg_ctl -w returns once the server accepts connections, which in recovery can be before
  # the end: a failed recovery (e.g. target not reached) shows up as the server stopping.
  as_pg "$PGBIN/pg_ctl" -D "$RESTORED" status >/dev/null \
    || die "restored cluster stopped during recovery (see pg-restored.log below)"
  [ "$SECONDS" -lt "$deadline" ] || die "restored cluster still in recovery after 60s"
  sleep 0.1
done
t_recovery=$(secs "$t0" "$(now)")
log "recovery done in ${t_recovery}s (promoted)"
grep -E "recovery stopping|last completed transaction|selected new timeline" "$T/pg-restored.log" | sed 's/^/  /' || true

dump_table "$PORT2" "$T/restored.copy"
log "timings: backup ${t_backup}s, restore ${t_restore}s, recovery ${t_recovery}s, total $(secs "$START" "$(now)")s"
if diff -u "$T/at-target.copy" "$T/restored.copy" >"$T/diff.txt"; then
  echo "PITR OK: restored to $TARGET, $ROWS rows match"
else
  echo "PITR MISMATCH: the table restored to $TARGET differs from the dump taken at that time:"
  head -n 200 "$T/diff.txt"
  exit 1
fi
