#!/usr/bin/env bash
# Prepares a machine for Helix: pnpm, the locked dependencies, the pinned sqlc, Chromium for the
# status page's browser test, promtool for the alerting rules' tests, and a reachable MySQL.
# When HELIX_MYSQL_URL (default mysql://root@127.0.0.1:3306/helix) names this machine and nothing
# answers there, it starts the local MariaDB, installing it from Debian's packages if it is missing.
set -euo pipefail
PNPM_VERSION=12.21.0
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if ! command -v pnpm >/dev/null || [ "$(pnpm --version)" != "$PNPM_VERSION" ]; then
  echo "setup: installing pnpm $PNPM_VERSION"
  npm install --global --no-fund --no-audit "pnpm@$PNPM_VERSION" >/dev/null
fi
pnpm install --frozen-lockfile

bash scripts/sqlc.sh version

# The status page is tested in a real browser: Debian's Chromium, driven by playwright-core.
if [ ! -x /usr/bin/chromium ]; then
  echo "setup: installing Chromium from Debian's packages (for the status page's browser test)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

# The alerting rules in deploy/ are checked and unit-tested with promtool (Debian's prometheus
# package); only promtool is needed, not the daemon the package installs.
if ! command -v promtool >/dev/null; then
  echo "setup: installing promtool from Debian's packages (for scripts/check-deploy.sh)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null
  systemctl disable --now prometheus 2>/dev/null || pkill -x prometheus || true
fi

url=${HELIX_MYSQL_URL:-mysql://root@127.0.0.1:3306/helix}
hostport=$(node -e 'const u = new URL(process.argv[1]); console.log(`${u.hostname} ${u.port || 3306}`)' "$url")
read -r host port <<<"$hostport"
reachable() { (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }

if ! reachable; then
  case "$host" in
    127.0.0.1|localhost|::1|\[::1\]) ;;
    *) echo "setup: MySQL at $host:$port is not reachable" >&2; exit 1 ;;
  esac
  if [ ! -x /usr/sbin/mariadbd ]; then
    echo "setup: installing MariaDB from Debian's packages"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >/dev/null
  fi
  echo "setup: starting MariaDB"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  for _ in $(seq 1 60); do reachable && break; sleep 1; done
  reachable || { echo "setup: MariaDB did not start listening on $host:$port" >&2; exit 1; }
fi

# A fresh Debian MariaDB lets root in through the unix socket only; Helix connects over TCP.
if command -v mariadb >/dev/null && [ "$host" = "127.0.0.1" ] && [ -z "${HELIX_MYSQL_URL:-}" ]; then
  if ! mariadb --protocol=tcp -h 127.0.0.1 -P "$port" -u root -e 'SELECT 1' >/dev/null 2>&1; then
    echo "setup: letting root log in over TCP without a password (local development server)"
    mariadb -u root -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket"
  fi
fi
echo "setup: ready (MySQL at $host:$port)"
