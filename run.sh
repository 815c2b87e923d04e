#!/usr/bin/env bash
# The two set-up commands of the README, on a fresh machine:
#   ./run.sh demo   install, start RabbitMQ if needed, run `papilla demo`
#   ./run.sh test   install, start RabbitMQ if needed, run the test suite
# Extra arguments go to `papilla demo` / pytest.
set -euo pipefail
cd "$(dirname "$0")"
VENV="${PAPILLA_VENV:-.venv}"
PY="${PYTHON:-python3}"

install() {
    if [ ! -x "$VENV/bin/python" ]; then
        "$PY" -m venv "$VENV"
    fi
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e '.[test]'
}

# Prometheus' server and promtool (Debian's `prometheus` package) for the ops tests. The package's
# own service, if the machine starts it, is not used: the tests run their own server on a free port.
ensure_prometheus() {
    if command -v prometheus >/dev/null && command -v promtool >/dev/null; then return 0; fi
    echo "installing Prometheus (apt-get install prometheus)…" >&2
    local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
}

rabbit_up() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }

ensure_rabbitmq() {
    if rabbit_up; then return 0; fi
    echo "starting RabbitMQ (rabbitmq-server -detached)…" >&2
    rabbitmq-server -detached
    for _ in $(seq 1 120); do
        if rabbit_up; then
            rabbitmqctl -q await_startup >/dev/null 2>&1 || true
            return 0
        fi
        sleep 1
    done
    echo "RabbitMQ did not come up on 127.0.0.1:5672" >&2
    return 1
}

cmd="${1:-}"; shift || true
case "$cmd" in
    demo)
        install; ensure_rabbitmq
        exec "$VENV/bin/papilla" demo --broker "${PAPILLA_BROKER_URL:-amqp://guest:guest@127.0.0.1:5672/%2F}" "$@" ;;
    test)
        install; ensure_rabbitmq; ensure_prometheus
        exec "$VENV/bin/python" -m pytest -q "$@" ;;
    *)
        echo "usage: ./run.sh demo|test [args…]" >&2; exit 2 ;;
esac
