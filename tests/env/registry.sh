#!/usr/bin/env bash
# tests/env/registry.sh — a throw-away OCI registry on 127.0.0.1 (Debian's
# docker-registry, the CNCF distribution registry) for labrun's publish tests.
#
#   tests/env/registry.sh start DIR PORT [USER:PASSWORD]
#       storage in DIR/storage, config DIR/config.yml, log DIR/registry.log;
#       with USER:PASSWORD, htpasswd (bcrypt) auth from DIR/htpasswd.
#       Waits until the port answers; prints `export LABRUN_REGISTRY=127.0.0.1:PORT`.
#   tests/env/registry.sh stop DIR
#
# Needs docker-registry and, for auth, htpasswd (apache2-utils); tests/run installs both.
set -euo pipefail

die() { printf 'registry.sh: error: %s\n' "$*" >&2; exit 1; }
usage() { die "usage: $0 start DIR PORT [USER:PASSWORD] | stop DIR"; }

[ $# -ge 2 ] || usage
CMD=$1
DIR=$2

find_bin() {
    local b=$1 d
    if command -v "$b" >/dev/null 2>&1; then command -v "$b"; return 0; fi
    for d in /usr/bin /usr/sbin /usr/local/bin; do
        if [ -x "$d/$b" ]; then echo "$d/$b"; return 0; fi
    done
    return 1
}

case $CMD in
start)
    [ $# -ge 3 ] || usage
    PORT=$3
    AUTH=${4:-}
    REGISTRY=$(find_bin docker-registry) ||
        die "docker-registry not found: apt-get install docker-registry (tests/run installs it)"
    mkdir -p "$DIR/storage"
    AUTH_YAML=""
    if [ -n "$AUTH" ]; then
        HTPASSWD=$(find_bin htpasswd) ||
            die "htpasswd not found: apt-get install apache2-utils (tests/run installs it)"
        "$HTPASSWD" -Bbn "${AUTH%%:*}" "${AUTH#*:}" >"$DIR/htpasswd" 2>/dev/null ||
            die "htpasswd failed"
        AUTH_YAML="auth:
  htpasswd:
    realm: labrun-test
    path: $DIR/htpasswd"
    fi
    cat >"$DIR/config.yml" <<YAML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $DIR/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$PORT
  secret: labrun-test-only
$AUTH_YAML
YAML
    "$REGISTRY" serve "$DIR/config.yml" >"$DIR/registry.log" 2>&1 </dev/null &
    echo $! >"$DIR/registry.pid"
    for _ in $(seq 1 100); do
        if ! kill -0 "$(cat "$DIR/registry.pid")" 2>/dev/null; then
            tail -n 20 "$DIR/registry.log" >&2 || true
            die "docker-registry exited (port $PORT taken?)"
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
            echo "export LABRUN_REGISTRY=127.0.0.1:$PORT"
            exit 0
        fi
        sleep 0.1
    done
    die "docker-registry did not answer on 127.0.0.1:$PORT within 10 s (log: $DIR/registry.log)"
    ;;
stop)
    if [ -f "$DIR/registry.pid" ]; then
        pid=$(cat "$DIR/registry.pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$DIR/registry.pid"
    fi
    ;;
*) usage ;;
esac
