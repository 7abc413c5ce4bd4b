#!/bin/sh
# t/mkcert.sh DIR [NAME] -- a throwaway self-signed certificate for the
# TLS example configuration (conf/tls-echo.conf) and the tests: DIR/NAME.crt
# and DIR/NAME.key (NAME defaults to tls-echo), an ECDSA P-256 key and a
# certificate for CN=localhost with the names localhost and 127.0.0.1,
# valid for 30 days. Made with the openssl command; nothing here is
# secret and nothing it writes is committed (see .gitignore). Files that
# already exist are kept unless FORCE=1.
set -eu

dir=${1:-conf}
name=${2:-tls-echo}

if [ "${FORCE:-0}" != 1 ] && [ -s "$dir/$name.crt" ] && [ -s "$dir/$name.key" ]
then
    exit 0
fi

command -v openssl >/dev/null 2>&1 || {
    echo "mkcert.sh: the openssl command is needed" >&2
    exit 1
}

mkdir -p "$dir"
umask 077
tmp="$dir/.$name.$$"
trap 'rm -f "$tmp.key" "$tmp.crt"' EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -nodes -days 30 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$tmp.key" -out "$tmp.crt" 2>/dev/null

mv "$tmp.key" "$dir/$name.key"
mv "$tmp.crt" "$dir/$name.crt"
