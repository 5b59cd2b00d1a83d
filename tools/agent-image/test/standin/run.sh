#!/usr/bin/env bash
# Stand-in for the agent's run.sh (tests only): records its arguments and the environment the
# agent would see, then exits with $STANDIN_RUN_RC, or with STANDIN_RUN_MODE=wait runs until
# SIGTERM like an idle listener.
set -u
log=${STANDIN_LOG:?}
echo "run $*" >>"$log"
for v in AZP_TOKEN VSTS_AGENT_INPUT_TOKEN; do
    echo "env $v=${!v+set}" >>"$log"
done
for v in VSO_AGENT_IGNORE SSL_CERT_FILE SSL_CERT_DIR NODE_EXTRA_CA_CERTS AGENT_FROM_ENV_SH; do
    echo "env $v=${!v:-}" >>"$log"
done
if [ "${STANDIN_RUN_MODE:-}" = wait ]; then
    trap 'echo "run got TERM" >>"$log"; exit 0' TERM
    echo "run waiting" >>"$log"
    while :; do sleep 0.1; done
fi
exit "${STANDIN_RUN_RC:-0}"
