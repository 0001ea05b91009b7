"""The benchmark, the soak test and the backup round trip (``make bench``, ``make soak``,
``make backup-check``). They run the real app under gunicorn against PostgreSQL and take
minutes, so they are not part of the test suite; docs/operations.md explains them."""
