#!/bin/sh
# t/deps.sh [build|test|valgrind] -- make sure the Debian packages that
# building (and testing) sluice needs are installed. As root it installs the
# missing ones; otherwise it prints the exact apt-get line and fails.

set -u

# configure insists on Check too: the test suites are part of every build
need="gcc make pkg-config libssl-dev check libsubunit-dev"
case "${1:-build}" in
    test) need="$need openssl socat" ;;
    valgrind) need="$need openssl socat valgrind" ;;
esac
missing=""

for p in $need; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
    case "$status" in
        *" installed") ;;
        *) missing="$missing $p" ;;
    esac
done

[ -z "$missing" ] && exit 0

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "t/deps.sh: not a Debian system; install:$missing" >&2
    exit 1
fi

if [ "$(id -u)" != 0 ]; then
    echo "sluice needs these Debian packages:$missing" >&2
    echo "install them with: sudo apt-get install -y$missing" >&2
    exit 1
fi

echo "installing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || exit 1
# shellcheck disable=SC2086
apt-get install -y -qq $missing || exit 1
