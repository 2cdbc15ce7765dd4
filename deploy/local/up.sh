#!/bin/sh
# Brings up NATS (JetStream), PostgreSQL and Redis when they are not running.
exec node "$(dirname "$0")/up.mjs" "$@"
