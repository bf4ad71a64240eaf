"""The test suite; `make test` runs it all, `make test-fast` the unit tier."""
