#!/usr/bin/env bash
# Rehearsal on a scratch SoftHSM2 token: nothing here touches a real HSM.
# It runs the most complete thing the project can do so far: the headless
# ceremony (preflight, CA, root key, repository certificates), then checks
# the result with openssl and pkcs11-tool, the independent witnesses.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d -t ceremony-demo-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$work" > "$work/softhsm2.conf"
export SOFTHSM2_CONF="$work/softhsm2.conf"
umask 077
# Scratch PINs, made fresh; the ceremony reads its PIN from the environment.
CEREMONY_PIN=$(head -c 9 /dev/urandom | base64 | tr -d '/+=')
export CEREMONY_PIN
softhsm2-util --init-token --free --label demo --pin "$CEREMONY_PIN" --so-pin "$(head -c 9 /dev/urandom | base64)" >/dev/null
cat > "$work/ceremony.yaml" <<YAML
# A rehearsal: scratch token "demo", two repositories.
hsm:   {module: /usr/lib/softhsm/libsofthsm2.so, token: demo, pin: env:CEREMONY_PIN}
ca:    {label: ca, key: ecdsa-p256, subject: "CN=Docker Notary CA (rehearsal)", days: 7300}
root:  {label: root, key: ecdsa-p256, days: 365}
repositories:
  - {gun: docker.io/demo/nginx, days: 375}
  - {gun: docker.io/demo/redis, days: 375}
output: ./ceremony-out
YAML
echo "== the plan (what the witnesses follow)"
./bin/ceremony run --config "$work/ceremony.yaml" --plan
echo
echo "== ceremony run --non-interactive"
./bin/ceremony run --config "$work/ceremony.yaml" --non-interactive
out="$work/ceremony-out"
echo
echo "== openssl verifies each repository certificate against the CA"
for pem in "$out"/repos/*.pem; do openssl verify -CAfile "$out/ca.pem" "$pem"; done
echo
echo "== the token, as ceremony and pkcs11-tool see it"
./bin/ceremony hsm list --token demo --pin env:CEREMONY_PIN | sed -n '3,$p'
pkcs11-tool --module /usr/lib/softhsm/libsofthsm2.so --token-label demo --login --pin "$CEREMONY_PIN" --list-objects --type privkey 2>/dev/null | grep -E 'label|Access'
echo
echo "== running it again: a finished ceremony is never run twice"
./bin/ceremony run --config "$work/ceremony.yaml" --non-interactive || echo "(exit $?)"
