#!/usr/bin/env bash
# Stand-in for the Azure Pipelines agent's config.sh (tests only): records how it was called in
# $STANDIN_LOG. It prints its arguments, as a verbose tool might, so a token passed on the
# command line would show in the output the test searches. The token is never written: only
# whether VSTS_AGENT_INPUT_TOKEN held the expected one.
set -u
log=${STANDIN_LOG:?}
echo "config.sh $*"
tok=token-bad
if [ -n "${VSTS_AGENT_INPUT_TOKEN:-}" ] && [ "${VSTS_AGENT_INPUT_TOKEN}" = "${STANDIN_EXPECT_TOKEN:-}" ]; then
    tok=token-ok
fi
if [ "${1:-}" = remove ]; then
    echo "remove $tok $*" >>"$log"
    n=$(grep -c '^remove' "$log")
    if [ "$n" -le "${STANDIN_REMOVE_FAILS:-0}" ]; then
        echo "Failed: agent is running a job" >&2
        exit 1
    fi
    exit 0
fi
echo "config $tok $*" >>"$log"
echo "config cwd $(pwd)" >>"$log"
exit "${STANDIN_CONFIG_RC:-0}"
