# Start the local services the test suite needs when they are down (sourced, not run).
# CI machines and fresh machines may not have them running; a failure here is fatal.

ensure_postgres() {
    if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return 0; fi
    echo "==> PostgreSQL is down; starting it" >&2
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
        echo "error: PostgreSQL is not running on 127.0.0.1:5432 and pg_ctlcluster is missing" >&2
        return 1
    fi
    local version
    version="$(ls /etc/postgresql | sort -V | tail -n 1)"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
    for _ in $(seq 1 30); do
        pg_isready -q -h 127.0.0.1 -p 5432 && return 0
        sleep 1
    done
    echo "error: PostgreSQL did not come up on 127.0.0.1:5432" >&2
    return 1
}

ensure_redis() {
    if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return 0; fi
    echo "==> Redis is down; starting it" >&2
    if ! command -v redis-server >/dev/null 2>&1; then
        echo "error: Redis is not running on 127.0.0.1:6379 and redis-server is missing" >&2
        return 1
    fi
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log
    for _ in $(seq 1 30); do
        redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return 0
        sleep 1
    done
    echo "error: Redis did not come up on 127.0.0.1:6379" >&2
    return 1
}

ensure_chromium() {
    if [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then return 0; fi
    echo "==> installing Debian's chromium for the browser tier" >&2
    if [ "$(id -u)" != 0 ]; then
        echo "error: Chromium is missing; run 'sudo apt-get install chromium' (browser tier)" >&2
        return 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || {
        apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
    }
    [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || {
        echo "error: Chromium could not be installed" >&2
        return 1
    }
}
