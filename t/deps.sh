#!/bin/sh
# t/deps.sh [build|test|valgrind|check] -- make sure the Debian packages
# that building (and testing) sluice needs are installed. As root it
# installs the missing ones; otherwise it prints the exact apt-get line and
# fails. Only `make run` and `make test*` call it so; plain `make` (and
# configure's rerun) calls it with "check", which installs nothing: it
# names what is missing, with the apt-get line, and fails.
#
# On a system without dpkg/apt it cannot tell packages apart: it prints
# what sluice needs and goes on, and configure stops with a clear message
# if a header or library is really missing.
#
# The peers of t/integ/test_proxy_nginx.c (nginx-light, curl, wrk) are
# optional, for "test" and "valgrind": as root they are installed too, and
# a failure to install them is only reported; otherwise the apt-get line is
# printed and the run goes on (that suite then says what it skipped). Each
# counts as there when its program is, whichever package brought it.

set -u

# configure insists on Check too: the test suites are part of every build
need="gcc make pkg-config libssl-dev libpcre2-dev check libsubunit-dev"
# the optional ones: PACKAGE:PROGRAM
peers="nginx-light:nginx curl:curl wrk:wrk"
optional=""
mode=${1:-build}
case "$mode" in
    test) need="$need openssl socat"; optional="$peers" ;;
    valgrind) need="$need openssl socat valgrind"; optional="$peers" ;;
    check|build) ;;
    *) echo "usage: t/deps.sh [build|test|valgrind|check]" >&2; exit 2 ;;
esac
missing=""
absent=""

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "t/deps.sh: not a Debian system, so nothing is installed; sluice" \
         "needs a C11 compiler, make, pkg-config, OpenSSL 3.0 or later with" \
         "its headers, PCRE2 with its headers, and Check (plus openssl and socat for the tests)" >&2
    exit 0
fi

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

if [ "$mode" = check ]; then
    [ -z "$missing" ] && exit 0
    echo "sluice needs these Debian packages:$missing" >&2
    echo "plain make installs nothing: run 'make run' or 'make test' as" \
         "root, or: sudo apt-get install -y$missing" >&2
    exit 1
fi

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

if ! command -v apt-get >/dev/null 2>&1; then
    echo "t/deps.sh: no apt-get here; install:$missing" >&2
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
