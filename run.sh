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

# Debian packages the tests need: SoftHSM2 (the PKCS#11 token the key-provider tests use) and Prometheus'
# server and promtool (the ops tests run their own server on a free port; the package's service is not used);
# Chromium for the consoles' browser tests (Playwright drives Debian's chromium: it cannot download its own here).
ensure_packages() {
    local missing=()
    { [ -e /usr/lib/softhsm/libsofthsm2.so ] && command -v softhsm2-util >/dev/null; } || missing+=(softhsm2)
    { command -v prometheus >/dev/null && command -v promtool >/dev/null; } || missing+=(prometheus)
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    if [ ${#missing[@]} -eq 0 ]; then return 0; fi
    echo "installing ${missing[*]} (apt-get)…" >&2
    local sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
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
        ensure_packages; install; ensure_rabbitmq
        exec "$VENV/bin/python" -m pytest -q "$@" ;;
    *)
        echo "usage: ./run.sh demo|test [args…]" >&2; exit 2 ;;
esac
