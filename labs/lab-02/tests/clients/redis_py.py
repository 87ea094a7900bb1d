"""redis-py against lab-02, with the library's default settings.

Run by tests/clients.rs as `python redis_py.py PORT`. Prints one line per
check and `all passed` at the end; any failure raises, and the exit status
is non-zero. redis-py 8 opens every connection with HELLO 3 (RESP3) and
makes `pipeline()` a MULTI/EXEC transaction: both are what this checks.
"""

import sys

import redis


def check(what, got, want):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")
    print(f"ok {what}")


def main(port):
    r = redis.Redis(port=port)
    other = redis.Redis(port=port)
    r.flushall()

    check("protocol", r.client_info()["resp"], "3")
    check("ping", r.ping(), True)

    # Strings.
    check("set", r.set("s", "hello"), True)
    check("get", r.get("s"), b"hello")
    check("get missing", r.get("missing"), None)
    check("incr", r.incr("n"), 1)
    check("incrbyfloat", r.incrbyfloat("f", 1.5), 1.5)
    check("mget", r.mget("s", "missing"), [b"hello", None])
    check("getex", r.getex("s", ex=100), b"hello")
    check("ttl after getex", 0 < r.ttl("s") <= 100, True)
    check("rename", r.rename("s", "s2"), True)
    check("renamenx", r.renamenx("s2", "n"), False)
    check("copy", r.copy("s2", "s3"), True)
    check("getrange", r.getrange("s3", 0, 1), b"he")

    # Lists.
    check("rpush", r.rpush("l", "a", "b", "c"), 3)
    check("lrange", r.lrange("l", 0, -1), [b"a", b"b", b"c"])
    check("lpop count", r.lpop("l", 2), [b"a", b"b"])
    check("lpop missing", r.lpop("missing"), None)
    check("lset", r.lset("l", 0, "z"), True)
    check("ltrim", r.ltrim("l", 0, 0), True)

    # Hashes: HGETALL is a RESP3 map, returned as a dict.
    check("hset", r.hset("h", mapping={"a": "1", "b": "2"}), 2)
    check("hgetall", r.hgetall("h"), {b"a": b"1", b"b": b"2"})
    check("hgetall missing", r.hgetall("missing"), {})
    check("hincrbyfloat", r.hincrbyfloat("h", "c", 0.5), 0.5)
    check("hkeys", sorted(r.hkeys("h")), [b"a", b"b", b"c"])
    check("hsetnx", r.hsetnx("h", "a", "9"), False)

    # Sets: SMEMBERS is a RESP3 set.
    check("sadd", r.sadd("s1", "x", "y"), 2)
    check("smembers", r.smembers("s1"), {b"x", b"y"})
    r.sadd("s4", "y", "z")
    check("sinter", r.sinter("s1", "s4"), {b"y"})
    check("sunionstore", r.sunionstore("u", "s1", "s4"), 3)
    check("smove", r.smove("s1", "s4", "x"), True)
    check("sismember", r.sismember("s4", "x"), True)

    # Sorted sets: scores are RESP3 doubles, returned as floats.
    check("zadd", r.zadd("z", {"a": 1.5, "b": 2}), 2)
    check("zscore", r.zscore("z", "a"), 1.5)
    check("zincrby", r.zincrby("z", 1, "b"), 3.0)
    check("zrange withscores", r.zrange("z", 0, -1, withscores=True), [(b"a", 1.5), (b"b", 3.0)])
    check("zrangebyscore", r.zrangebyscore("z", 2, "+inf"), [b"b"])
    check("zcount", r.zcount("z", "-inf", "+inf"), 2)
    check("zrevrank", r.zrevrank("z", "a"), 1)

    # Expiry.
    check("expire", r.expire("n", 100), True)
    check("ttl", 0 < r.ttl("n") <= 100, True)
    check("persist", r.persist("n"), True)
    check("ttl persistent", r.ttl("n"), -1)

    # The transactional pipeline, the default.
    with r.pipeline() as p:
        p.set("t1", "a").incr("t2").get("t1")
        check("pipeline (MULTI/EXEC)", p.execute(), [True, 1, b"a"])

    # WATCH: a conflict from another client raises WatchError.
    with r.pipeline() as p:
        p.watch("w")
        p.get("w")
        other.set("w", "changed")
        p.multi()
        p.set("w", "mine")
        try:
            p.execute()
            raise AssertionError("WATCH conflict: EXEC ran")
        except redis.WatchError:
            print("ok watch conflict aborts")
    check("watched key kept", r.get("w"), b"changed")

    # And without a conflict, the optimistic transaction runs.
    def incr_w2(pipe):
        current = int(pipe.get("w2") or 0)
        pipe.multi()
        pipe.set("w2", current + 1)

    check("transaction()", r.transaction(incr_w2, "w2"), [True])
    check("w2", r.get("w2"), b"1")

    # A server error is raised as an exception, and the connection stays.
    try:
        r.incr("s3")
        raise AssertionError("INCR of a string did not fail")
    except redis.ResponseError as e:
        check("error text", str(e), "value is not an integer or out of range")
    check("still connected", r.ping(), True)
    print("all passed")


if __name__ == "__main__":
    main(int(sys.argv[1]))
