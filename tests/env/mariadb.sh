#!/usr/bin/env bash
# tests/env/mariadb.sh — throw-away MariaDB servers on 127.0.0.1 for labrun's probe tests.
#
#   tests/env/mariadb.sh template DIR  # prepares DIR/template (a data directory) and
#                                      # DIR/password; prints `export LABRUN_MARIADB_…`
#   tests/env/mariadb.sh start DIR     # four servers from that template (made if missing);
#                                      # prints `export LABRUN_MARIADB_…=…` lines on stdout
#   tests/env/mariadb.sh stop DIR
#
# Uses Debian's mariadb-server binaries (mariadb-install-db, mariadbd, mariadb-admin,
# mariadb); no systemd, no config files (--no-defaults), nothing outside DIR.
# The template holds database `wordpress` (wp_options siteurl/home = the ALB URL below)
# and user admin@'%' (and @localhost, @127.0.0.1) with a random password (DIR/password,
# mode 600) and Aurora-master-like privileges WITHOUT SUPER or READ_ONLY ADMIN, so
# --read-only binds it as it binds Aurora's master user on a reader. The e2e tests copy
# the template for each world (labrun-tests `MariaDb::start`). The four servers:
#   writer  database `wordpress`, wp_options siteurl/home = the ALB URL
#   reader  same data, started with --read-only
#   nowp    no `wordpress` database
#   oldurl  wordpress with siteurl/home still the EC2 instance's DNS name
set -euo pipefail

NAMES=(writer reader nowp oldurl)
ALB_URL='http://elb-user05-1234567890.ap-northeast-1.elb.amazonaws.com'
OLD_URL='http://ec2-54-250-1-2.ap-northeast-1.compute.amazonaws.com'

say() { printf 'mariadb.sh: %s\n' "$*" >&2; }
die() { printf 'mariadb.sh: error: %s\n' "$*" >&2; exit 1; }

usage() { die "usage: $0 template|start|stop DIR"; }
[ $# -eq 2 ] || usage
CMD=$1
DIR=$2

find_bin() {
    local b
    for b in "$@"; do
        if command -v "$b" >/dev/null 2>&1; then command -v "$b"; return 0; fi
        for d in /usr/sbin /usr/bin /usr/local/sbin /usr/local/bin; do
            if [ -x "$d/$b" ]; then echo "$d/$b"; return 0; fi
        done
    done
    return 1
}

# A TCP port on 127.0.0.1 that nothing listens on now (a race remains: start() retries).
free_port() {
    local p i
    for i in $(seq 1 200); do
        p=$((20000 + RANDOM % 40000))
        case " ${USED_PORTS:-} " in *" $p "*) continue ;; esac
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            USED_PORTS="${USED_PORTS:-} $p"
            echo "$p"
            return 0
        fi
    done
    die "no free TCP port found on 127.0.0.1"
}

stop_one() {
    local pidfile=$1 pid i
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile" 2>/dev/null || true)
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 1 150); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
        sleep 0.1
    done
    say "mariadbd $pid ($pidfile) did not stop in 15 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidfile"
}

do_stop() {
    local n
    for n in "${NAMES[@]}"; do
        stop_one "$DIR/$n.pid" &
    done
    wait
}

# Starts server $1 on a free port; sets PORT_<name>. Retries on a lost port race.
start_one() {
    local n=$1 attempt port pid i
    for attempt in 1 2 3; do
        port=$(free_port)
        rm -f "$DIR/$n.err" "$DIR/$n.pid"
        local extra=()
        [ "$n" = reader ] && extra+=(--read-only)
        mkdir -p "$DIR/$n.tmp" && chown "$RUN_USER" "$DIR/$n.tmp"
        "$MARIADBD" --no-defaults --user="$RUN_USER" --tmpdir="$DIR/$n.tmp" \
            --datadir="$DIR/$n" --port="$port" --bind-address=127.0.0.1 \
            --socket="$DIR/$n.sock" --pid-file="$DIR/$n.pid" --log-error="$DIR/$n.err" \
            --skip-name-resolve --skip-log-bin --innodb-buffer-pool-size=32M \
            --innodb-log-file-size=8M --innodb-flush-log-at-trx-commit=0 \
            --skip-innodb-doublewrite --performance-schema=OFF --skip-slave-start \
            --max-connections=50 --character-set-server=utf8mb4 \
            "${extra[@]}" </dev/null >/dev/null 2>&1 &
        pid=$!
        echo "$pid" >"$DIR/$n.pid"
        for i in $(seq 1 600); do
            if ! kill -0 "$pid" 2>/dev/null; then
                break
            fi
            if "$ADMIN" --no-defaults --user=root --socket="$DIR/$n.sock" \
                --connect-timeout=2 ping >/dev/null 2>&1; then
                printf -v "PORT_$n" '%s' "$port"
                return 0
            fi
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
            say "mariadbd '$n' did not answer within 60 s; last lines of $DIR/$n.err:"
            tail -n 30 "$DIR/$n.err" >&2 || true
            return 1
        fi
        if grep -q 'Address already in use\|Can.t start server: Bind' "$DIR/$n.err" 2>/dev/null; then
            say "port $port was taken meanwhile; retrying '$n' (attempt $attempt)"
            continue
        fi
        say "mariadbd '$n' exited while starting; last lines of $DIR/$n.err:"
        tail -n 30 "$DIR/$n.err" >&2 || true
        return 1
    done
    say "could not start mariadbd '$n' after 3 attempts"
    return 1
}

sql_root() {
    "$CLIENT" --no-defaults --user=root --socket="$DIR/$1.sock" --batch -e "$2"
}

find_bins() {
    INSTALL_DB=$(find_bin mariadb-install-db mysql_install_db) ||
        die "mariadb-install-db not found: apt-get install mariadb-server"
    MARIADBD=$(find_bin mariadbd mysqld) || die "mariadbd not found: apt-get install mariadb-server"
    ADMIN=$(find_bin mariadb-admin mysqladmin) || die "mariadb-admin not found: apt-get install mariadb-client"
    CLIENT=$(find_bin mariadb mysql) || die "mariadb client not found: apt-get install mariadb-client"
    RUN_USER=$(id -un)
}

enter_dir() {
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd)
    # Unix socket paths are limited to ~107 bytes.
    [ ${#DIR} -lt 90 ] || die "DIR path too long for unix sockets: $DIR"
}

# DIR/template: a data directory with the users and the finished world's data, and
# DIR/password. Built in DIR/template.tmp so a half-made template is never used.
make_template() {
    rm -rf "${DIR:?}/template" "${DIR:?}/template.tmp"

    local password
    password=$(LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 24 || true)
    [ ${#password} -eq 24 ] || die "could not generate a password"
    (umask 077 && printf '%s' "$password" >"$DIR/password")
    chmod 600 "$DIR/password"

    # Users and data for the finished world, applied once at bootstrap.
    local setup="$DIR/setup.sql"
    (
        umask 077
        cat >"$setup" <<EOF
CREATE DATABASE wordpress;
CREATE TABLE wordpress.wp_options (
  option_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  option_name VARCHAR(191) NOT NULL DEFAULT '' UNIQUE,
  option_value LONGTEXT NOT NULL,
  autoload VARCHAR(20) NOT NULL DEFAULT 'yes'
);
INSERT INTO wordpress.wp_options (option_name, option_value, autoload) VALUES
  ('siteurl', '$ALB_URL', 'yes'),
  ('home', '$ALB_URL', 'yes'),
  ('blogname', 'user05 blog', 'yes');
EOF
        # Bootstrap runs with grant tables off; loading them makes CREATE USER work.
        echo 'FLUSH PRIVILEGES;' >>"$setup"
        for host in '%' 'localhost' '127.0.0.1'; do
            cat >>"$setup" <<EOF
CREATE USER 'admin'@'$host' IDENTIFIED BY '$password';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD, PROCESS, REFERENCES, INDEX,
  ALTER, SHOW DATABASES, CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, REPLICATION SLAVE,
  BINLOG MONITOR, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, CREATE USER,
  EVENT, TRIGGER ON *.* TO 'admin'@'$host' WITH GRANT OPTION;
EOF
        done
    )

    # Temporary tables are named after mariadbd's pid: in the shared /tmp, two
    # installs in separate pid namespaces (parallel test runs) collide on them.
    mkdir -p "$DIR/install.tmp" && chown "$RUN_USER" "$DIR/install.tmp"
    if ! "$INSTALL_DB" --no-defaults --user="$RUN_USER" --datadir="$DIR/template.tmp" \
        --tmpdir="$DIR/install.tmp" \
        --auth-root-authentication-method=socket --skip-test-db --skip-name-resolve \
        --extra-file="$setup" \
        --innodb-log-file-size=8M --innodb-buffer-pool-size=32M --skip-log-bin \
        >"$DIR/install-db.log" 2>&1; then
        rm -f "$setup"
        tail -n 30 "$DIR/install-db.log" >&2 || true
        die "mariadb-install-db failed (log: $DIR/install-db.log)"
    fi
    rm -f "$setup"
    mv "$DIR/template.tmp" "$DIR/template"
}

print_template_env() {
    echo "export LABRUN_MARIADB_TEMPLATE=$DIR/template"
    echo "export LABRUN_MARIADB_PASSWORD_FILE=$DIR/password"
}

do_template() {
    find_bins
    enter_dir
    make_template
    print_template_env
}

do_start() {
    find_bins
    enter_dir
    do_stop
    local n
    for n in "${NAMES[@]}"; do rm -rf "${DIR:?}/$n"; done
    if [ ! -d "$DIR/template/mysql" ] || [ ! -s "$DIR/password" ]; then
        make_template
    fi
    for n in "${NAMES[@]}"; do
        cp -a "$DIR/template" "$DIR/$n"
    done

    # Start all four at once; each reports in its own status file.
    local pids=() failed=0
    for n in "${NAMES[@]}"; do
        (
            start_one "$n" || exit 1
            v="PORT_$n"
            echo "${!v}" >"$DIR/$n.port"
        ) &
        pids+=($!)
    done
    for p in "${pids[@]}"; do
        wait "$p" || failed=1
    done
    if [ "$failed" -ne 0 ]; then
        do_stop
        die "could not start the MariaDB servers (logs in $DIR/*.err)"
    fi

    # Variants of the finished world (root bypasses read_only; these are not replicated).
    sql_root nowp "DROP DATABASE wordpress;" ||
        { do_stop; die "could not prepare 'nowp'"; }
    sql_root oldurl "UPDATE wordpress.wp_options SET option_value='$OLD_URL'
                     WHERE option_name IN ('siteurl','home');" ||
        { do_stop; die "could not prepare 'oldurl'"; }

    for n in "${NAMES[@]}"; do
        local upper
        upper=$(printf '%s' "$n" | tr '[:lower:]' '[:upper:]')
        echo "export LABRUN_MARIADB_$upper=127.0.0.1:$(cat "$DIR/$n.port")"
    done
    print_template_env
}

case "$CMD" in
    template) do_template ;;
    start) do_start ;;
    stop)
        [ -d "$DIR" ] || exit 0
        DIR=$(cd "$DIR" && pwd)
        do_stop
        ;;
    *) usage ;;
esac
