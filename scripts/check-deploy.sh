#!/usr/bin/env bash
# Checks the deployment files of deploy/ without running them:
#
#   1. deploy/systemd/ghostkit@.service, for each bot (modbot, ircbridge,
#      webhooks): `systemd-analyze verify` prints nothing and exits 0, and
#      `systemd-analyze security --offline` rates it at most
#      $SECURITY_THRESHOLD tenths, 2.0 (the hardening did not regress).
#   2. deploy/systemd/modbot.env.example sets only variables that modbot
#      reads: modbot runs with them (commented-out ones too) and gets past
#      its settings to the registration (it refuses an unknown GHOSTKIT_*
#      variable or a bad value before that).
#   3. the package and binary of each build in deploy/docker-compose.yml
#      exist in the workspace (`cargo metadata --no-deps`, no build).
#   4. `docker compose config -q` (or `docker-compose config -q`) accepts
#      deploy/docker-compose.yml, when a Compose is installed; else it says
#      it skipped that.
#
# Exits non-zero on the first failure. Needs bash, python3 and cargo; installs
# Debian's systemd package when systemd-analyze is missing (as root).
#
# `systemd-analyze verify` cannot check a template, and checks that the
# ExecStart binary exists: so the unit is copied to a temporary folder as
# ghostkit@<bot>.service, beside a drop-in ghostkit@<bot>.service.d/stub.conf
# that replaces ExecStart with an executable stub in that folder (verify
# reads drop-ins beside the unit it is given). That the real ExecStart is
# /usr/local/bin/%i is checked separately.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# In tenths, as systemd-analyze takes it: 20 is an exposure of 2.0 (of 10).
SECURITY_THRESHOLD=${SECURITY_THRESHOLD:-20}
unit=deploy/systemd/ghostkit@.service
env_example=deploy/systemd/modbot.env.example
compose=deploy/docker-compose.yml
bots=(modbot ircbridge webhooks)

fail() {
    echo "check-deploy: FAIL: $*" >&2
    exit 1
}
ok() { echo "check-deploy: ok: $*"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- 1. the systemd unit ---------------------------------------------------
if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "check-deploy: systemd-analyze is missing; installing Debian's systemd package"
    [ "$(id -u)" = 0 ] || fail "systemd-analyze is missing and this is not root: apt-get install systemd"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null; } \
        || fail "could not install systemd"
fi

grep -qx 'ExecStart=/usr/local/bin/%i' "$unit" || fail "$unit: ExecStart is not /usr/local/bin/%i"

for bot in "${bots[@]}"; do
    dir="$tmp/systemd-$bot"
    mkdir -p "$dir/ghostkit@$bot.service.d"
    cp "$unit" "$dir/ghostkit@$bot.service"
    printf '#!/bin/sh\nexit 0\n' >"$dir/$bot"
    chmod +x "$dir/$bot"
    printf '[Service]\nExecStart=\nExecStart=%s\n' "$dir/$bot" >"$dir/ghostkit@$bot.service.d/stub.conf"
    # verify exits 0 on an unknown key or a bad value (it only warns), so
    # any output is a failure too.
    if ! out=$(systemd-analyze verify --man=no "$dir/ghostkit@$bot.service" 2>&1) || [ -n "$out" ]; then
        echo "$out" >&2
        fail "systemd-analyze verify ghostkit@$bot.service"
    fi
    if ! out=$(systemd-analyze security --offline=yes --threshold="$SECURITY_THRESHOLD" \
        "$dir/ghostkit@$bot.service" 2>&1); then
        echo "$out" | grep -E '✗|Overall' >&2 || echo "$out" >&2
        fail "systemd-analyze security ghostkit@$bot.service: exposure above $SECURITY_THRESHOLD tenths"
    fi
    ok "ghostkit@$bot.service verifies; $(echo "$out" | grep -o 'Overall exposure level.*' || true)"
done

# --- 2. the env file example -----------------------------------------------
bad=$(grep -vE '^[[:space:]]*(#.*)?$|^[A-Z][A-Z0-9_]*=' "$env_example" || true)
[ -z "$bad" ] || fail "$env_example: lines that are neither VAR=value nor comments: $bad"
# Set lines and commented-out ones (`#VAR=value`).
mapfile -t assignments < <(grep -oE '^#?[A-Z][A-Z0-9_]*=.*' "$env_example" | sed 's/^#//')
[ ${#assignments[@]} -gt 0 ] || fail "$env_example sets no variable"
cargo build -q -p ghostkit-modbot --bin modbot || fail "cargo build -p ghostkit-modbot"
modbot_bin=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/modbot
out=$(cd "$tmp" && env -i PATH="$PATH" "${assignments[@]}" \
    GHOSTKIT_REGISTRATION="$tmp/none.yaml" "$modbot_bin" 2>&1) && fail "modbot ran with no registration"
grep -q "registration file $tmp/none.yaml not found" <<<"$out" \
    || { echo "$out" >&2; fail "$env_example: modbot refused its settings"; }
ok "$env_example: ${#assignments[@]} variables, each one read by modbot"

# --- 3. the packages and binaries the compose file builds ------------------
cargo metadata --no-deps --format-version 1 --offline >"$tmp/metadata.json" 2>"$tmp/metadata.err" \
    || cargo metadata --no-deps --format-version 1 >"$tmp/metadata.json" 2>"$tmp/metadata.err" \
    || { cat "$tmp/metadata.err" >&2; fail "cargo metadata"; }
python3 - "$tmp/metadata.json" "$compose" <<'EOF' || fail "$compose: a build names a package or binary the workspace lacks"
import json, re, sys
meta = json.load(open(sys.argv[1]))
bins = {p["name"]: {t["name"] for t in p["targets"] if "bin" in t["kind"]} for p in meta["packages"]}
text = open(sys.argv[2]).read()
pairs = re.findall(r"^\s+BOT:\s*(\S+)\s*\n\s+BIN:\s*(\S+)\s*$", text, re.M)
if len(pairs) != 3:
    sys.exit(f"expected 3 builds (BOT: then BIN:) in the compose file, found {len(pairs)}")
for bot, bin_ in pairs:
    if bot not in bins:
        sys.exit(f"BOT {bot} is no package of the workspace")
    if bin_ not in bins[bot]:
        sys.exit(f"package {bot} has no binary {bin_} (it has {sorted(bins[bot])})")
    print(f"check-deploy: ok: build {bot} -> {bin_}")
EOF

# --- 4. the compose file ---------------------------------------------------
# The operator's deploy/.env is not needed: the variables the file requires
# are given here.
export SERVER_NAME=example.org WEBHOOKS_PUBLIC_URL=https://hooks.example.org
if docker compose version >/dev/null 2>&1; then
    compose_cmd=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
    compose_cmd=(docker-compose)
else
    compose_cmd=()
fi
if [ ${#compose_cmd[@]} -gt 0 ]; then
    "${compose_cmd[@]}" -f "$compose" config -q || fail "${compose_cmd[*]} config -q $compose"
    ok "${compose_cmd[*]} config -q accepts $compose ($("${compose_cmd[@]}" version --short 2>/dev/null || echo '?'))"
elif command -v docker >/dev/null 2>&1; then
    echo "check-deploy: SKIPPED: docker compose config: the docker CLI is here but no Compose (neither \`docker compose\` nor docker-compose)"
else
    echo "check-deploy: SKIPPED: docker compose config: no docker CLI"
fi

echo "check-deploy: all checks passed"
