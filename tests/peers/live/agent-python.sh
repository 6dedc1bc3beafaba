#!/bin/sh
# Stand-in for "python" that the App Server's process sandbox runs as
#   <this script> -m openhands.agent_server --port N
# It runs the peer venv's interpreter (AGENT_SERVER_PYTHON, set by tests/peers/live_fixtures.py)
# and adds --host 127.0.0.1, because the agent server binds 0.0.0.0 once it has a session key and
# the process sandbox passes only --port.
exec "${AGENT_SERVER_PYTHON:?must name the peer venv python}" "$@" --host 127.0.0.1
