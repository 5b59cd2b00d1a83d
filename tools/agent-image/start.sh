#!/usr/bin/env bash
# start.sh - entrypoint of the Azure Pipelines agent image (tools/agent-image/Dockerfile).
#
# Follows Microsoft's documented container flow: install extra CA certificates, get the agent
# (baked into the image, or downloaded from the organisation), register it with
# `config.sh --unattended --replace`, run it with `run.sh` (arguments pass through, e.g.
# --once), and unregister with `config.sh remove` when it ends or on SIGTERM/SIGINT.
#
# Environment (the operator sets the AZP_* ones on every agent pod):
#   AZP_URL          organisation or collection URL (required)
#   AZP_TOKEN_FILE   file holding the PAT (the operator mounts its Secret read-only), or
#   AZP_TOKEN        the PAT itself (written to a private file, then unset)
#   AZP_POOL         agent pool (default "Default");  AZP_AGENT_NAME  (default: hostname)
#   AZP_WORK         work folder (default "_work", created);  AZP_RUN_ONCE=true: one job only
#   AZP_AGENT_DIR    where config.sh/run.sh live (default /azp/agent; downloaded if absent)
#   AZP_CERTS_ROOT   mounted certificate Secrets: every <root>/*/ *.crt and *.pem file is
#                    trusted (default /etc/ssl/certs)
#   AZP_CERTS_WORK   writable directory for the trust-store copy (default $TMPDIR/azp-certs)
#   AZP_REMOVE_RETRY_SECONDS  pause between failed unregistrations (default 30)
#
# The PAT never appears in a command line or in the output: config.sh gets it through
# VSTS_AGENT_INPUT_TOKEN in its own environment only, curl through a config on stdin, and the
# agent (run.sh) does not see it at all (VSO_AGENT_IGNORE also keeps the names out of the
# agent's capabilities).
set -euo pipefail

log() { printf 'start.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

agent_dir=${AZP_AGENT_DIR:-/azp/agent}
certs_root=${AZP_CERTS_ROOT:-/etc/ssl/certs}
certs_work=${AZP_CERTS_WORK:-${TMPDIR:-/tmp}/azp-certs}
retry_s=${AZP_REMOVE_RETRY_SECONDS:-30}
local_ca_dir=${AZP_LOCAL_CA_DIR:-/usr/local/share/ca-certificates}

[ -n "${AZP_URL:-}" ] || die "AZP_URL is required (https://dev.azure.com/<org>)"
AZP_URL=${AZP_URL%/}

# ---- the token ------------------------------------------------------------------------------
if [ -n "${AZP_TOKEN_FILE:-}" ]; then
    [ -r "$AZP_TOKEN_FILE" ] || die "AZP_TOKEN_FILE $AZP_TOKEN_FILE cannot be read"
    token_file=$AZP_TOKEN_FILE
elif [ -n "${AZP_TOKEN:-}" ]; then
    state_dir=${AZP_STATE_DIR:-/azp}
    [ -w "$state_dir" ] || state_dir=${TMPDIR:-/tmp}
    token_file=$state_dir/.token
    (umask 077 && printf '%s' "$AZP_TOKEN" >"$token_file")
else
    die "AZP_TOKEN_FILE or AZP_TOKEN is required"
fi
unset AZP_TOKEN
# Read the token for each use, so a rotated Secret is picked up, and strip a trailing newline.
read_token() { local t; t=$(<"$token_file"); printf '%s' "${t%$'\n'}"; }
[ -n "$(read_token)" ] || die "the token file $token_file is empty"
export VSO_AGENT_IGNORE="AZP_TOKEN,AZP_TOKEN_FILE,VSTS_AGENT_INPUT_TOKEN${VSO_AGENT_IGNORE:+,$VSO_AGENT_IGNORE}"

# ---- certificates ---------------------------------------------------------------------------
# Collects every <certs_root>/<secret>/*.crt|*.pem (PEM, or DER converted) into $1 as PEM .crt
# files named <secret>-<file>.crt. Prints how many.
collect_certs() {
    local dest=$1 n=0 dir f base out
    mkdir -p "$dest"
    for dir in "$certs_root"/*/; do
        [ -d "$dir" ] || continue
        for f in "$dir"*.crt "$dir"*.pem; do
            [ -f "$f" ] || continue
            base=$(basename "$dir")-$(basename "$f")
            out=$dest/${base%.*}.crt
            if grep -q -- '-----BEGIN CERTIFICATE-----' "$f"; then
                cp -- "$f" "$out"
            elif ! openssl x509 -inform DER -in "$f" -out "$out" 2>/dev/null; then
                log "skipping $f: not a PEM or DER certificate"
                continue
            fi
            n=$((n + 1))
        done
    done
    echo "$n"
}

install_certs() {
    local n extra
    mkdir -p "$certs_work"
    n=$(collect_certs "$certs_work/local")
    [ "$n" -gt 0 ] || return 0
    extra=$certs_work/extra-ca.pem
    cat "$certs_work"/local/*.crt >"$extra"
    export NODE_EXTRA_CA_CERTS=$extra  # Node.js tasks use their own CA list plus this file
    if [ "$(id -u)" -eq 0 ] && [ -w "$local_ca_dir" ] && [ -w /etc/ssl/certs ]; then
        mkdir -p "$local_ca_dir/azp"
        cp -- "$certs_work"/local/*.crt "$local_ca_dir/azp/"
        update-ca-certificates >/dev/null
        log "trusted $n certificate(s) in the system store"
        return 0
    fi
    # Read-only system store (non-root, or read-only root filesystem): build a writable copy
    # with the same tool, and point OpenSSL (.NET, git, curl) at it.
    mkdir -p "$certs_work/certs"
    update-ca-certificates --fresh --etccertsdir "$certs_work/certs" \
        --localcertsdir "$certs_work/local" --hooksdir "$certs_work/no-hooks" >/dev/null
    export SSL_CERT_DIR=$certs_work/certs
    export SSL_CERT_FILE=$certs_work/certs/ca-certificates.crt
    export GIT_SSL_CAINFO=$SSL_CERT_FILE REQUESTS_CA_BUNDLE=$SSL_CERT_FILE
    log "trusted $n certificate(s) through SSL_CERT_DIR=$SSL_CERT_DIR"
}
install_certs

# ---- the agent ------------------------------------------------------------------------------
download_agent() {
    local platform meta url
    case "${TARGETARCH:-}" in
        linux-*) platform=$TARGETARCH ;;  # Microsoft's sample sets the platform this way
        *) case "$(uname -m)" in
               aarch64 | arm64) platform=linux-arm64 ;;
               armv7l | armhf) platform=linux-arm ;;
               *) platform=linux-x64 ;;
           esac ;;
    esac
    log "downloading the agent for $platform from $AZP_URL"
    # The PAT goes to curl on stdin, never on its command line.
    meta=$(printf 'user = "user:%s"\n' "$(read_token)" |
        curl -fsS --config - "$AZP_URL/_apis/distributedtask/packages/agent?platform=$platform&top=1") ||
        die "cannot query the agent package from $AZP_URL"
    url=$(printf '%s' "$meta" | sed -n 's/.*"downloadUrl" *: *"\([^"]*\)".*/\1/p')
    [ -n "$url" ] || die "no downloadUrl in the agent package answer"
    mkdir -p "$agent_dir"
    # The download host is a CDN: no credentials are sent there.
    curl -fsSL "$url" | tar -xz -C "$agent_dir" || die "cannot download the agent from $url"
}
[ -x "$agent_dir/config.sh" ] || download_agent
cd "$agent_dir"
if [ -f ./env.sh ]; then
    # shellcheck disable=SC1091
    source ./env.sh
fi
[ "$(id -u)" -ne 0 ] || export AGENT_ALLOW_RUNASROOT=1

registered=false
agent_pid=
# shellcheck disable=SC2317  # called from traps
unregister() {
    $registered || return 0
    log "unregistering ${AZP_AGENT_NAME:-$(hostname)}"
    until VSTS_AGENT_INPUT_TOKEN=$(read_token) ./config.sh remove --unattended --auth PAT; do
        log "unregistration failed (a job may still run); retrying in ${retry_s}s"
        sleep "$retry_s"
    done
    registered=false
}
# shellcheck disable=SC2317  # called from traps
on_signal() {  # on_signal EXIT-STATUS
    trap - TERM INT
    if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then
        kill -TERM "$agent_pid" 2>/dev/null || true
        wait "$agent_pid" 2>/dev/null || true
    fi
    unregister
    exit "$1"
}
trap 'on_signal 143' TERM
trap 'on_signal 130' INT
trap 'unregister' EXIT

work=${AZP_WORK:-_work}
mkdir -p "$work"
log "registering ${AZP_AGENT_NAME:-$(hostname)} in pool ${AZP_POOL:-Default}"
VSTS_AGENT_INPUT_TOKEN=$(read_token) ./config.sh --unattended \
    --agent "${AZP_AGENT_NAME:-$(hostname)}" --url "$AZP_URL" --auth PAT \
    --pool "${AZP_POOL:-Default}" --work "$work" --replace --acceptTeeEula
registered=true

# Run-once: --once among the arguments, or AZP_RUN_ONCE=true; passed to run.sh once.
args=()
once=false
[ "${AZP_RUN_ONCE:-false}" = true ] && once=true
for a in "$@"; do
    if [ "$a" = --once ]; then once=true; else args+=("$a"); fi
done
$once && args+=(--once)

# In the background, so that SIGTERM reaches this script's trap at once.
./run.sh "${args[@]}" &
agent_pid=$!
set +e
wait "$agent_pid"
rc=$?
set -e
agent_pid=
exit "$rc"
