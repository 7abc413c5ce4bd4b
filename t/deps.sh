#!/bin/sh
# t/deps.sh [build|test|valgrind] -- make sure the Debian packages that
# building (and testing) sluice needs are installed. As root it installs the
# missing ones; otherwise it prints the exact apt-get line and fails.
#
# The peers of t/integ/test_proxy_nginx.c (nginx-light, curl, wrk) are
# optional, for "test" and "valgrind": as root they are installed too, and
# a failure to install them is only reported; otherwise the apt-get line is
# printed and the run goes on (that suite then says what it skipped). Each
# counts as there when its program is, whichever package brought it.

set -u

# configure insists on Check too: the test suites are part of every build
need="gcc make pkg-config libssl-dev check libsubunit-dev"
# the optional ones: PACKAGE:PROGRAM
peers="nginx-light:nginx curl:curl wrk:wrk"
optional=""
case "${1:-build}" in
    test) need="$need openssl socat"; optional="$peers" ;;
    valgrind) need="$need openssl socat valgrind"; optional="$peers" ;;
esac
missing=""
absent=""

# in PATH or in an sbin directory, which a user's PATH may lack
have_prog() {
    PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin" command -v "$1" \
        >/dev/null 2>&1
}

for p in $optional; do
    have_prog "${p#*:}" || absent="$absent ${p%%:*}"
done

for p in $need; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
    case "$status" in
        *" installed") ;;
        *) missing="$missing $p" ;;
    esac
done

if [ -n "$absent" ] \
    && { [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; }
then
    echo "test_proxy_nginx skips what needs these Debian packages:$absent" >&2
    echo "install them with: sudo apt-get install -y$absent" >&2
fi

if [ -z "$missing" ] && [ -n "$absent" ] && [ "$(id -u)" = 0 ] \
    && command -v apt-get >/dev/null 2>&1
then
    echo "installing Debian packages:$absent"
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086
    if ! { apt-get update -qq && apt-get install -y -qq $absent; }; then
        echo "t/deps.sh: could not install$absent;" \
             "test_proxy_nginx will skip what needs them" >&2
    fi
    exit 0
fi

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

if [ -n "$absent" ]; then
    echo "installing Debian packages:$absent"
    # shellcheck disable=SC2086
    apt-get install -y -qq $absent \
        || echo "t/deps.sh: could not install$absent;" \
                "test_proxy_nginx will skip what needs them" >&2
fi
