#!/usr/bin/env bash
# Services for the test suite: a PostgreSQL server on loopback for the audit-store tests,
# and a Redis server on loopback for the shared-state tests (tests/api/test_shared_state.py).
#
# Sourced by .ci/run (as root, on a fresh Debian machine) before `make test`; can also be
# run on its own. Idempotent. It never fails the caller: when PostgreSQL cannot be
# installed or started, AUDIO_DETECT_TEST_POSTGRES_URL stays unset and the PostgreSQL
# store tests skip with a reason. On success it exports
#   AUDIO_DETECT_TEST_POSTGRES_URL=postgresql+psycopg://audio_detect:audio_detect@127.0.0.1:5432/audio_detect_test
# and, when Redis starts,
#   AUDIO_DETECT_TEST_REDIS_URL=redis://127.0.0.1:6390/0
# (without it those tests start their own redis-server on a Unix socket, or skip).
# (no `exit` here: this file is sourced.)

_ad_pg_setup() {
  local db=audio_detect_test user=audio_detect pass=audio_detect port="" ver="" cluster=""
  if [ "$(id -u)" != 0 ]; then
    echo "ci_services: not root; not installing/starting PostgreSQL" >&2
    return 1
  fi
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
      export DEBIAN_FRONTEND=noninteractive
      local i
      for i in 1 2 3 4 5 6; do  # another process may hold the dpkg lock for a while
        if apt-get install -y -qq postgresql >/dev/null 2>&1; then break; fi
        apt-get update -qq >/dev/null 2>&1 || true
        sleep 10
      done
    fi
  fi
  if ! command -v pg_lsclusters >/dev/null 2>&1; then
    echo "ci_services: PostgreSQL is not installed" >&2
    return 1
  fi
  ver=$(pg_lsclusters -h 2>/dev/null | awk 'NR==1 {print $1}')
  cluster=$(pg_lsclusters -h 2>/dev/null | awk 'NR==1 {print $2}')
  if [ -z "$ver" ]; then
    ver=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)
    [ -n "$ver" ] || { echo "ci_services: no PostgreSQL version found" >&2; return 1; }
    cluster=main
    pg_createcluster "$ver" "$cluster" >/dev/null 2>&1 || return 1
  fi
  port=$(pg_lsclusters -h | awk -v v="$ver" -v c="$cluster" '$1==v && $2==c {print $3}')
  if ! pg_lsclusters -h | awk -v v="$ver" -v c="$cluster" '$1==v && $2==c {print $4}' \
      | grep -q online; then
    pg_ctlcluster "$ver" "$cluster" start >/dev/null 2>&1 || {
      echo "ci_services: cannot start PostgreSQL $ver/$cluster" >&2
      return 1
    }
  fi
  local i
  for i in $(seq 1 30); do
    su postgres -c "pg_isready -q -h 127.0.0.1 -p $port" >/dev/null 2>&1 && break
    sleep 1
  done
  # Role and database (idempotent). Password auth over TCP loopback (md5/scram in pg_hba).
  su postgres -c "psql -q -p $port -tAc \"SELECT 1 FROM pg_roles WHERE rolname='$user'\"" \
      2>/dev/null | grep -q 1 \
    || su postgres -c "psql -q -p $port -c \"CREATE ROLE $user LOGIN PASSWORD '$pass'\"" \
      >/dev/null 2>&1 || return 1
  su postgres -c "psql -q -p $port -tAc \"SELECT 1 FROM pg_database WHERE datname='$db'\"" \
      2>/dev/null | grep -q 1 \
    || su postgres -c "createdb -p $port -O $user $db" >/dev/null 2>&1 || return 1
  export AUDIO_DETECT_TEST_POSTGRES_URL="postgresql+psycopg://$user:$pass@127.0.0.1:$port/$db"
  echo "ci_services: PostgreSQL $ver/$cluster ready on 127.0.0.1:$port (db $db)" >&2
  return 0
}

_ad_redis_setup() {
  local port=6390 i
  if ! command -v redis-server >/dev/null 2>&1 && [ "$(id -u)" = 0 ] \
      && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    for i in 1 2 3; do
      if apt-get install -y -qq redis-server >/dev/null 2>&1; then break; fi
      apt-get update -qq >/dev/null 2>&1 || true
      sleep 10
    done
  fi
  command -v redis-server >/dev/null 2>&1 || {
    echo "ci_services: redis-server is not installed" >&2
    return 1
  }
  if ! redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
    # Loopback only, nothing persisted: a throwaway server for the tests.
    redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
        --daemonize yes --logfile "${TMPDIR:-/tmp}/audio-detect-test-redis.log" \
        >/dev/null 2>&1 || {
      echo "ci_services: cannot start redis-server on 127.0.0.1:$port" >&2
      return 1
    }
    for i in $(seq 1 30); do
      redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG && break
      sleep 0.2
    done
  fi
  redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG || return 1
  export AUDIO_DETECT_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
  echo "ci_services: Redis ready on 127.0.0.1:$port" >&2
  return 0
}

_ad_pg_setup || echo "ci_services: PostgreSQL unavailable; PostgreSQL store tests will skip" >&2
_ad_redis_setup || echo "ci_services: Redis unavailable; tests start their own or skip" >&2
unset -f _ad_pg_setup _ad_redis_setup
true
