"""Fake provider servers for tests and benchmarks: real HTTP servers on 127.0.0.1 that check
requests as the provider documents them and answer as the provider does (tests/fakes/server.py)."""
