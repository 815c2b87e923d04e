"""Local processes for a development stack and for the tests: free ports, a throwaway RabbitMQ node, worker
processes, a Prometheus server, FVC images as a scanner. Everything listens on 127.0.0.1 only. Needs the
`test` extra (pyyaml for the Prometheus config).

One library for both users (`infra/grafana/devstack.py`, `demo_stack.py` and `tests/helpers/`): a fix to how a
node is started or stopped lands once. Not used by the services themselves."""
