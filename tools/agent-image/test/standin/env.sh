#!/usr/bin/env bash
# Stand-in for the agent's env.sh (tests only): start.sh sources it before registering.
export AGENT_FROM_ENV_SH=sourced
