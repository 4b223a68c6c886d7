#!/usr/bin/env bash
# Rehearsal on a scratch SoftHSM2 token: nothing here touches a real HSM.
# It runs the most complete thing the project can do so far.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d -t ceremony-demo-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$work" > "$work/softhsm2.conf"
export SOFTHSM2_CONF="$work/softhsm2.conf"
# Scratch PINs, made fresh and kept in 0600 files; the ceremony reads them with file: sources.
umask 077
head -c 9 /dev/urandom | base64 | tr -d '/+=' > "$work/pin"
head -c 9 /dev/urandom | base64 | tr -d '/+=' > "$work/so-pin"
softhsm2-util --init-token --free --label demo --pin "$(cat "$work/pin")" --so-pin "$(cat "$work/so-pin")" >/dev/null
echo "== scratch SoftHSM2 token 'demo' in $work"
echo "== a key pair made by OpenSC's pkcs11-tool, as a vendor tool would"
pkcs11-tool --module /usr/lib/softhsm/libsofthsm2.so --token-label demo --login --pin "$(cat "$work/pin")" \
	--keypairgen --key-type EC:prime256v1 --label vendor-key --id 01 >/dev/null
echo "== ceremony hsm list --token demo --pin file:…"
./bin/ceremony hsm list --token demo --pin "file:$work/pin"
echo "== a wrong PIN is one clear line and a non-zero exit:"
echo wrong > "$work/wrong-pin"
./bin/ceremony hsm list --token demo --pin "file:$work/wrong-pin" || echo "(exit $?)"
