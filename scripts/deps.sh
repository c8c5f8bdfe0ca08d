#!/bin/sh
# deps.sh: install the Debian packages Switchyard needs, only those missing.
#   sh scripts/deps.sh run    build dependencies (compiler, make, SQLite, OpenSSL, hiredis)
#   sh scripts/deps.sh test   the above plus what `make test` uses (cmocka, SIPp, clang with
#                             libFuzzer runtime, python3, nftables, iproute2, redis-server)
#   sh scripts/deps.sh bench  the test set plus kamailio (the benchmark's reference proxy)
# apt-get runs only when something is missing (then `apt-get update` once, quietly), so the
# common case costs one dpkg-query and needs no root.
set -e

RUN_PKGS="gcc make libsqlite3-dev libssl-dev libhiredis-dev pkg-config"
TEST_PKGS="$RUN_PKGS libcmocka-dev sip-tester clang libclang-rt-14-dev python3 nftables iproute2 redis-server sipvicious"
BENCH_PKGS="$TEST_PKGS kamailio"

case "${1:-run}" in
run) want=$RUN_PKGS ;;
test) want=$TEST_PKGS ;;
bench) want=$BENCH_PKGS ;;
*) echo "usage: $0 run|test|bench" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

echo "deps.sh: installing:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "deps.sh: missing packages:$missing; run as root to install them" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
