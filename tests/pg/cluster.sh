#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: `cluster.sh start DIR` creates it (initdb) on
# first use, starts it on a free loopback port if it is not running (pg_ctl, no system service)
# and prints its URL, also written to DIR/url; `cluster.sh stop DIR` stops it. Idempotent: a
# running cluster is reused. Trust authentication, loopback only, no Unix socket: it holds
# nothing but test data. TLS is on, with a certificate for 127.0.0.1 from a test CA made here
# (DIR/tls/ca.pem), and the URL asks for sslmode=verify-full against that CA, so every
# PostgreSQL test connects as a production replica should. As root, the server runs as the
# `postgres` user of Debian's package (initdb refuses root).
set -euo pipefail
cmd=${1:?usage: cluster.sh start|stop DIR}
dir=$(realpath -m "${2:?usage: cluster.sh start|stop DIR}")
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/initdb" ] || { echo "error: PostgreSQL server binaries not found under /usr/lib/postgresql (install Debian's postgresql)" >&2; exit 1; }
as=()
if [ "$(id -u)" = 0 ]; then
	id postgres >/dev/null 2>&1 || { echo "error: running as root and no postgres user to run the server as" >&2; exit 1; }
	as=(runuser -u postgres --)
fi
data=$dir/data
case $cmd in
start)
	mkdir -p "$dir"
	if [ ! -f "$data/PG_VERSION" ]; then
		rm -rf "$data"
		mkdir -p "$data"
		[ ${#as[@]} = 0 ] || chown postgres "$data"
		"${as[@]}" "$bin/initdb" -D "$data" -U clipguard --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
	fi
	tls=$dir/tls
	if [ ! -f "$tls/server.key" ]; then
		rm -rf "$tls"
		mkdir -p "$tls"
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
			-subj "/CN=clipguard test CA" -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-subj "/CN=127.0.0.1" -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$tls/ext"
		openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
			-CAcreateserial -days 3650 -extfile "$tls/ext" -out "$tls/server.pem" 2>/dev/null
		chmod 600 "$tls/server.key" "$tls/ca.key"
		[ ${#as[@]} = 0 ] || chown postgres "$tls/server.key"
	fi
	if ! "${as[@]}" "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		"${as[@]}" "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
			-o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='' -c max_connections=200 -c fsync=off -c ssl=on -c ssl_cert_file=$tls/server.pem -c ssl_key_file=$tls/server.key" start >/dev/null
		echo "postgres://clipguard@127.0.0.1:$port/postgres?sslmode=verify-full&sslrootcert=$tls/ca.pem" >"$dir/url"
	fi
	cat "$dir/url"
	;;
stop)
	if [ -f "$data/PG_VERSION" ]; then
		"${as[@]}" "$bin/pg_ctl" -D "$data" -m fast stop >/dev/null 2>&1 || true
	fi
	;;
*) echo "usage: cluster.sh start|stop DIR" >&2; exit 2 ;;
esac
