"""The Redis cache backend keeps one client per connection pool and is Django's otherwise."""

from __future__ import annotations

from django.conf import settings

from archiveportal.cache import PortalRedisCache


def _cache() -> PortalRedisCache:
    return PortalRedisCache(settings.REDIS_URL, {"KEY_PREFIX": "test-cache-client"})


def test_every_call_goes_through_one_client_per_pool():
    cache = _cache()
    assert cache._cache.get_client(write=True) is cache._cache.get_client(write=False)


def test_it_reads_writes_and_deletes_as_djangos_backend_does():
    cache = _cache()
    cache.set("k", {"total": 86_168}, 30)
    assert cache.get("k") == {"total": 86_168}
    assert cache.get_many(["k", "missing"]) == {"k": {"total": 86_168}}
    cache.delete("k")
    assert cache.get("k") is None


def test_a_dropped_connection_is_made_again_by_the_kept_client():
    cache = _cache()
    cache.set("k", 1, 30)
    client = cache._cache.get_client()
    client.connection_pool.disconnect()  # what a Redis restart does to open connections
    assert cache.get("k") == 1
    assert cache._cache.get_client() is client
    cache.delete("k")
