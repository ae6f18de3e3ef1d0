"""Django's Redis cache backend, with one Redis client per connection pool instead of one per call.

`django.core.cache.backends.redis.RedisCacheClient.get_client` builds a new `redis.Redis` for every
cache operation, and building one (its table of response callbacks) costs redis-py 8 about as much
CPU as the round trip itself: a posting's few cache reads spent more there than in Redis (issue 20,
benchmarks/profile_posting.py). A `redis.Redis` is safe to share between threads (it takes a
connection from its pool per command), so each pool keeps one. Everything else is Django's.
"""

from __future__ import annotations

from django.core.cache.backends import redis as redis_backend


class RedisCacheClient(redis_backend.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(redis_backend.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient
