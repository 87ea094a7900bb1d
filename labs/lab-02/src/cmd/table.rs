//! The command table: every command's name, arity, flags, keys, route,
//! documentation and implementation, sorted by name so that `lookup` can
//! binary-search it (a unit test checks the order).

use super::flags::{
    ADMIN, ALLOW_BUSY, DENYOOM, FAST, LOADING_OK, NO_MULTI, NOAUTH, NOSCRIPT, READONLY, SENTINEL,
    STALE, TRANSACTION, WRITE,
};
use super::{
    KeyFn, Merge, Route, Run, ServerFn, Spec, hashes, introspect, keys, lists, server, sets,
    strings, zsets,
};

const R: u32 = READONLY;
const RF: u32 = READONLY | FAST;
const W: u32 = WRITE;
const WF: u32 = WRITE | FAST;
const WD: u32 = WRITE | DENYOOM;
const WDF: u32 = WRITE | DENYOOM | FAST;
/// Connection commands allowed before AUTH.
const CONN_NOAUTH: u32 = NOSCRIPT | LOADING_OK | STALE | FAST | NOAUTH | SENTINEL | ALLOW_BUSY;

/// One key at `args[1]`.
const K1: (i32, i32, i32) = (1, 1, 1);
/// Every argument from 1 is a key.
const KN: (i32, i32, i32) = (1, -1, 1);
/// Two keys, at 1 and 2.
const K2: (i32, i32, i32) = (1, 2, 1);
/// Key-value pairs from 1.
const KV: (i32, i32, i32) = (1, -1, 2);
/// No keys.
const K0: (i32, i32, i32) = (0, 0, 0);

const O1: &str = "O(1)";
const ON: &str = "O(N)";
const OLOGN: &str = "O(log(N))";
/// Redis's skip list ranks in O(log(N)); this server's B-tree does not.
const ZRANK_COST: &str = "O(N) here (O(log(N)) in Redis)";
/// Lex ranges are a linear filter here (Redis seeks them in its skip list).
const LEX_COST: &str = "O(N) here (O(log(N)+M) in Redis)";

/// A keyspace command.
#[allow(clippy::too_many_arguments)]
const fn k(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: (i32, i32, i32),
    route: Route,
    group: &'static str,
    since: &'static str,
    complexity: &'static str,
    summary: &'static str,
    f: KeyFn,
) -> Spec {
    Spec {
        name,
        arity,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        step: keys.2,
        route,
        group,
        summary,
        since,
        complexity,
        subcommands: &[],
        run: Run::Key(f),
    }
}

/// A connection command.
#[allow(clippy::too_many_arguments)]
const fn s(
    name: &'static str,
    arity: i32,
    flags: u32,
    group: &'static str,
    since: &'static str,
    complexity: &'static str,
    summary: &'static str,
    subcommands: &'static [Spec],
    f: ServerFn,
) -> Spec {
    Spec {
        name,
        arity,
        flags,
        first_key: 0,
        last_key: 0,
        step: 0,
        route: Route::Server,
        group,
        summary,
        since,
        complexity,
        subcommands,
        run: Run::Server(f),
    }
}

/// A subcommand of a container command.
const fn sub(
    name: &'static str,
    arity: i32,
    flags: u32,
    group: &'static str,
    since: &'static str,
    complexity: &'static str,
    summary: &'static str,
) -> Spec {
    Spec {
        name,
        arity,
        flags,
        first_key: 0,
        last_key: 0,
        step: 0,
        route: Route::Server,
        group,
        summary,
        since,
        complexity,
        subcommands: &[],
        run: Run::Sub,
    }
}

const CONN: &str = "connection";
const TRANSACTIONS: &str = "transactions";
const SERVER: &str = "server";
const STR: &str = "string";
const GEN: &str = "generic";
const LIST: &str = "list";
const HASH: &str = "hash";
const SET: &str = "set";
const ZSET: &str = "sorted-set";

const KEY: Route = Route::Key;
const KEYS: Route = Route::Keys;

const CLIENT_SUBS: &[Spec] = &[
    sub(
        "client|getname",
        2,
        NOSCRIPT | LOADING_OK | STALE,
        CONN,
        "2.6.9",
        O1,
        "Returns the name of the connection.",
    ),
    sub(
        "client|help",
        2,
        LOADING_OK | STALE,
        CONN,
        "5.0.0",
        O1,
        "Returns helpful text about the different subcommands.",
    ),
    sub(
        "client|id",
        2,
        NOSCRIPT | LOADING_OK | STALE,
        CONN,
        "5.0.0",
        O1,
        "Returns the unique client ID of the connection.",
    ),
    sub(
        "client|info",
        2,
        NOSCRIPT | LOADING_OK | STALE,
        CONN,
        "6.2.0",
        O1,
        "Returns information about the connection.",
    ),
    sub(
        "client|list",
        -2,
        ADMIN | NOSCRIPT | LOADING_OK | STALE,
        CONN,
        "2.4.0",
        ON,
        "Lists open connections.",
    ),
    sub(
        "client|no-evict",
        3,
        ADMIN | NOSCRIPT | LOADING_OK | STALE,
        CONN,
        "7.0.0",
        O1,
        "Sets the client eviction mode of the connection.",
    ),
    sub(
        "client|no-touch",
        3,
        NOSCRIPT | LOADING_OK | STALE,
        CONN,
        "7.2.0",
        O1,
        "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
    ),
    sub(
        "client|setinfo",
        4,
        NOSCRIPT | LOADING_OK | STALE,
        CONN,
        "7.2.0",
        O1,
        "Sets information specific to the client or connection.",
    ),
    sub(
        "client|setname",
        3,
        NOSCRIPT | LOADING_OK | STALE,
        CONN,
        "2.6.9",
        O1,
        "Sets the connection name.",
    ),
];

const COMMAND_SUBS: &[Spec] = &[
    sub(
        "command|count",
        2,
        LOADING_OK | STALE,
        SERVER,
        "2.8.13",
        O1,
        "Returns a count of commands.",
    ),
    sub(
        "command|docs",
        -2,
        LOADING_OK | STALE,
        SERVER,
        "7.0.0",
        "O(N) where N is the number of commands to look up",
        "Returns documentary information about one, multiple or all commands.",
    ),
    sub(
        "command|getkeys",
        -3,
        LOADING_OK | STALE,
        SERVER,
        "2.8.13",
        ON,
        "Extracts the key names from an arbitrary command.",
    ),
    sub(
        "command|help",
        2,
        LOADING_OK | STALE,
        SERVER,
        "5.0.0",
        O1,
        "Returns helpful text about the different subcommands.",
    ),
    sub(
        "command|info",
        -2,
        LOADING_OK | STALE,
        SERVER,
        "2.8.13",
        "O(N) where N is the number of commands to look up",
        "Returns information about one, multiple or all commands.",
    ),
    sub(
        "command|list",
        -2,
        LOADING_OK | STALE,
        SERVER,
        "7.0.0",
        "O(N) where N is the total number of Redis commands",
        "Returns a list of command names.",
    ),
];

const CONFIG_SUBS: &[Spec] = &[
    sub(
        "config|get",
        -3,
        ADMIN | NOSCRIPT | LOADING_OK | STALE,
        SERVER,
        "2.0.0",
        "O(N) when N is the number of configuration parameters provided",
        "Returns the effective values of configuration parameters.",
    ),
    sub(
        "config|help",
        2,
        LOADING_OK | STALE,
        SERVER,
        "5.0.0",
        O1,
        "Returns helpful text about the different subcommands.",
    ),
    sub(
        "config|resetstat",
        2,
        ADMIN | NOSCRIPT | LOADING_OK | STALE,
        SERVER,
        "2.0.0",
        O1,
        "Resets the server's statistics.",
    ),
    sub(
        "config|rewrite",
        2,
        ADMIN | NOSCRIPT | LOADING_OK | STALE,
        SERVER,
        "2.8.0",
        O1,
        "Persists the effective configuration to file.",
    ),
    sub(
        "config|set",
        -4,
        ADMIN | NOSCRIPT | LOADING_OK | STALE,
        SERVER,
        "2.0.0",
        "O(N) when N is the number of configuration parameters provided",
        "Sets configuration parameters in-flight.",
    ),
];

/// `OBJECT`: a container whose one keyed subcommand has its key at
/// index 2. It runs on the keyspace (route Key), routed by the
/// subcommand's key (`Spec::routing_key`).
const OBJECT: Spec = Spec {
    name: "object",
    arity: -2,
    flags: 0,
    first_key: 0,
    last_key: 0,
    step: 0,
    route: KEY,
    group: GEN,
    summary: "A container for object introspection commands.",
    since: "2.2.3",
    complexity: "Depends on subcommand.",
    subcommands: OBJECT_SUBS,
    run: Run::Key(keys::object),
};

const OBJECT_SUBS: &[Spec] = &[
    Spec {
        first_key: 2,
        last_key: 2,
        step: 1,
        route: KEY,
        ..sub(
            "object|encoding",
            3,
            READONLY,
            GEN,
            "2.2.3",
            O1,
            "Returns the internal encoding of a Redis object.",
        )
    },
    sub(
        "object|help",
        2,
        LOADING_OK | STALE,
        GEN,
        "6.2.0",
        O1,
        "Returns helpful text about the different subcommands.",
    ),
];

/// Every command, sorted by name.
#[rustfmt::skip]
pub(crate) static TABLE: &[Spec] = &[
    k("append", 3, WDF, K1, KEY, STR, "2.0.0", O1, "Appends a string to the value of a key. Creates the key if it doesn't exist.", strings::append),
    s("auth", -2, CONN_NOAUTH, CONN, "1.0.0", "O(N) where N is the number of passwords defined for the user", "Authenticates the connection.", &[], server::auth),
    s("client", -2, SENTINEL, CONN, "2.4.0", "Depends on subcommand.", "A container for client connection commands.", CLIENT_SUBS, server::client),
    s("command", -1, LOADING_OK | STALE | SENTINEL, SERVER, "2.8.13", ON, "Returns detailed information about all commands.", COMMAND_SUBS, introspect::command),
    s("config", -2, 0, SERVER, "2.0.0", "Depends on subcommand.", "A container for server configuration commands.", CONFIG_SUBS, introspect::config),
    k("copy", -3, WD, K2, KEYS, GEN, "6.2.0", "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.", "Copies the value of a key to a new key.", keys::copy),
    k("dbsize", 1, RF, K0, Route::AllShards(Merge::SumInts), SERVER, "1.0.0", O1, "Returns the number of keys in the database.", keys::dbsize),
    k("decr", 2, WDF, K1, KEY, STR, "1.0.0", O1, "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", strings::decr),
    k("decrby", 3, WDF, K1, KEY, STR, "1.0.0", O1, "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", strings::decrby),
    k("del", -2, W, KN, Route::EachKey(Merge::SumInts), GEN, "1.0.0", "O(N) where N is the number of keys that will be removed.", "Deletes one or more keys.", keys::del),
    s("discard", 1, NOSCRIPT | LOADING_OK | STALE | FAST | ALLOW_BUSY | TRANSACTION, TRANSACTIONS, "2.0.0", "O(N), when N is the number of queued commands", "Discards a transaction.", &[], server::transaction),
    s("echo", 2, FAST, CONN, "1.0.0", O1, "Returns the given string.", &[], server::echo),
    s("exec", 1, NOSCRIPT | LOADING_OK | STALE | TRANSACTION, TRANSACTIONS, "1.2.0", "Depends on commands in the transaction", "Executes all commands in a transaction.", &[], server::transaction),
    k("exists", -2, RF, KN, Route::EachKey(Merge::SumInts), GEN, "1.0.0", "O(N) where N is the number of keys to check.", "Determines whether one or more keys exist.", keys::exists),
    k("expire", -3, WF, K1, KEY, GEN, "1.0.0", O1, "Sets the expiration time of a key in seconds.", keys::expire),
    k("expireat", -3, WF, K1, KEY, GEN, "1.2.0", O1, "Sets the expiration time of a key to a Unix timestamp.", keys::expireat),
    k("expiretime", 2, RF, K1, KEY, GEN, "7.0.0", O1, "Returns the expiration time of a key as a Unix timestamp.", keys::expiretime),
    k("flushall", -1, W, K0, Route::AllShards(Merge::AllOk), SERVER, "1.0.0", "O(N) where N is the total number of keys in all databases", "Removes all keys from all databases.", keys::flushdb),
    k("flushdb", -1, W, K0, Route::AllShards(Merge::AllOk), SERVER, "1.0.0", "O(N) where N is the number of keys in the selected database", "Remove all keys from the current database.", keys::flushdb),
    k("get", 2, RF, K1, KEY, STR, "1.0.0", O1, "Returns the string value of a key.", strings::get),
    k("getdel", 2, WF, K1, KEY, STR, "6.2.0", O1, "Returns the string value of a key after deleting the key.", strings::getdel),
    k("getex", -2, WF, K1, KEY, STR, "6.2.0", O1, "Returns the string value of a key after setting its expiration time.", strings::getex),
    k("getrange", 4, R, K1, KEY, STR, "2.4.0", "O(N) where N is the length of the returned string.", "Returns a substring of the string stored at a key.", strings::getrange),
    k("getset", 3, WDF, K1, KEY, STR, "1.0.0", O1, "Returns the previous string value of a key after setting it to a new value.", strings::getset),
    k("hdel", -3, WF, K1, KEY, HASH, "2.0.0", "O(N) where N is the number of fields to be removed.", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", hashes::hdel),
    s("hello", -1, CONN_NOAUTH, CONN, "6.0.0", O1, "Handshakes with the Redis server.", &[], server::hello),
    k("hexists", 3, RF, K1, KEY, HASH, "2.0.0", O1, "Determines whether a field exists in a hash.", hashes::hexists),
    k("hget", 3, RF, K1, KEY, HASH, "2.0.0", O1, "Returns the value of a field in a hash.", hashes::hget),
    k("hgetall", 2, R, K1, KEY, HASH, "2.0.0", "O(N) where N is the size of the hash.", "Returns all fields and values in a hash.", hashes::hgetall),
    k("hincrby", 4, WDF, K1, KEY, HASH, "2.0.0", O1, "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", hashes::hincrby),
    k("hincrbyfloat", 4, WDF, K1, KEY, HASH, "2.6.0", O1, "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", hashes::hincrbyfloat),
    k("hkeys", 2, R, K1, KEY, HASH, "2.0.0", "O(N) where N is the size of the hash.", "Returns all fields in a hash.", hashes::hkeys),
    k("hlen", 2, RF, K1, KEY, HASH, "2.0.0", O1, "Returns the number of fields in a hash.", hashes::hlen),
    k("hmget", -3, RF, K1, KEY, HASH, "2.0.0", "O(N) where N is the number of fields being requested.", "Returns the values of all fields in a hash.", hashes::hmget),
    k("hmset", -4, WDF, K1, KEY, HASH, "2.0.0", "O(N) where N is the number of fields being set.", "Sets the values of multiple fields.", hashes::hmset),
    k("hset", -4, WDF, K1, KEY, HASH, "2.0.0", "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.", "Creates or modifies the value of a field in a hash.", hashes::hset),
    k("hsetnx", 4, WDF, K1, KEY, HASH, "2.0.0", O1, "Sets the value of a field in a hash only when the field doesn't exist.", hashes::hsetnx),
    k("hstrlen", 3, RF, K1, KEY, HASH, "3.2.0", O1, "Returns the length of the value of a field.", hashes::hstrlen),
    k("hvals", 2, R, K1, KEY, HASH, "2.0.0", "O(N) where N is the size of the hash.", "Returns all values in a hash.", hashes::hvals),
    k("incr", 2, WDF, K1, KEY, STR, "1.0.0", O1, "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", strings::incr),
    k("incrby", 3, WDF, K1, KEY, STR, "1.0.0", O1, "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", strings::incrby),
    k("incrbyfloat", 3, WDF, K1, KEY, STR, "2.6.0", O1, "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", strings::incrbyfloat),
    s("info", -1, LOADING_OK | STALE | SENTINEL, SERVER, "1.0.0", O1, "Returns information and statistics about the server.", &[], introspect::info),
    k("keys", 2, R, K0, Route::AllShards(Merge::ConcatArrays), GEN, "1.0.0", "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.", "Returns all key names that match a pattern.", keys::keys),
    k("lindex", 3, R, K1, KEY, LIST, "1.0.0", "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).", "Returns an element from a list by its index.", lists::lindex),
    k("linsert", 5, WD, K1, KEY, LIST, "2.2.0", "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).", "Inserts an element before or after another element in a list.", lists::linsert),
    k("llen", 2, RF, K1, KEY, LIST, "1.0.0", O1, "Returns the length of a list.", lists::llen),
    k("lpop", -2, WF, K1, KEY, LIST, "1.0.0", "O(N) where N is the number of elements returned", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", lists::lpop),
    k("lpos", -3, R, K1, KEY, LIST, "6.0.6", "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.", "Returns the index of matching elements in a list.", lists::lpos),
    k("lpush", -3, WDF, K1, KEY, LIST, "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "Prepends one or more elements to a list. Creates the key if it doesn't exist.", lists::lpush),
    k("lpushx", -3, WDF, K1, KEY, LIST, "2.2.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "Prepends one or more elements to a list only when the list exists.", lists::lpushx),
    k("lrange", 4, R, K1, KEY, LIST, "1.0.0", "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.", "Returns a range of elements from a list.", lists::lrange),
    k("lrem", 4, W, K1, KEY, LIST, "1.0.0", "O(N+M) where N is the length of the list and M is the number of elements removed.", "Removes elements from a list. Deletes the list if the last element was removed.", lists::lrem),
    k("lset", 4, WD, K1, KEY, LIST, "1.0.0", "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).", "Sets the value of an element in a list by its index.", lists::lset),
    k("ltrim", 4, W, K1, KEY, LIST, "1.0.0", "O(N) where N is the number of elements to be removed by the operation.", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", lists::ltrim),
    k("mget", -2, RF, KN, Route::EachKey(Merge::ConcatArrays), STR, "1.0.0", "O(N) where N is the number of keys to retrieve.", "Atomically returns the string values of one or more keys.", strings::mget),
    k("mset", -3, WD, KV, Route::EachKey(Merge::AllOk), STR, "1.0.1", "O(N) where N is the number of keys to set.", "Atomically creates or modifies the string values of one or more keys.", strings::mset),
    s("multi", 1, NOSCRIPT | LOADING_OK | STALE | FAST | ALLOW_BUSY | TRANSACTION, TRANSACTIONS, "1.2.0", O1, "Starts a transaction.", &[], server::transaction),
    OBJECT,
    k("persist", 2, WF, K1, KEY, GEN, "2.2.0", O1, "Removes the expiration time of a key.", keys::persist),
    k("pexpire", -3, WF, K1, KEY, GEN, "2.6.0", O1, "Sets the expiration time of a key in milliseconds.", keys::pexpire),
    k("pexpireat", -3, WF, K1, KEY, GEN, "2.6.0", O1, "Sets the expiration time of a key to a Unix milliseconds timestamp.", keys::pexpireat),
    k("pexpiretime", 2, RF, K1, KEY, GEN, "7.0.0", O1, "Returns the expiration time of a key as a Unix milliseconds timestamp.", keys::pexpiretime),
    s("ping", -1, FAST | SENTINEL, CONN, "1.0.0", O1, "Returns the server's liveliness response.", &[], server::ping),
    k("psetex", 4, WD, K1, KEY, STR, "2.6.0", O1, "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", strings::psetex),
    k("pttl", 2, RF, K1, KEY, GEN, "2.6.0", O1, "Returns the expiration time in milliseconds of a key.", keys::pttl),
    s("quit", -1, ALLOW_BUSY | NOSCRIPT | LOADING_OK | STALE | FAST | NOAUTH, CONN, "1.0.0", O1, "Closes the connection.", &[], server::quit),
    k("rename", 3, W, K2, KEYS, GEN, "1.0.0", O1, "Renames a key and overwrites the destination.", keys::rename),
    k("renamenx", 3, WF, K2, KEYS, GEN, "1.0.0", O1, "Renames a key only when the target key name doesn't exist.", keys::renamenx),
    k("rpop", -2, WF, K1, KEY, LIST, "1.0.0", "O(N) where N is the number of elements returned", "Returns and removes the last elements of a list. Deletes the list if the last element was popped.", lists::rpop),
    k("rpush", -3, WDF, K1, KEY, LIST, "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "Appends one or more elements to a list. Creates the key if it doesn't exist.", lists::rpush),
    k("rpushx", -3, WDF, K1, KEY, LIST, "2.2.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "Appends an element to a list only when the list exists.", lists::rpushx),
    k("sadd", -3, WDF, K1, KEY, SET, "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "Adds one or more members to a set. Creates the key if it doesn't exist.", sets::sadd),
    k("scan", -2, R, K0, Route::Scan, GEN, "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", "Iterates over the key names in the database.", keys::scan),
    k("scard", 2, RF, K1, KEY, SET, "1.0.0", O1, "Returns the number of members in a set.", sets::scard),
    k("sdiff", -2, R, KN, KEYS, SET, "1.0.0", "O(N) where N is the total number of elements in all given sets.", "Returns the difference of multiple sets.", sets::sdiff),
    k("sdiffstore", -3, WD, KN, KEYS, SET, "1.0.0", "O(N) where N is the total number of elements in all given sets.", "Stores the difference of multiple sets in a key.", sets::sdiffstore),
    s("select", 2, LOADING_OK | STALE | FAST, CONN, "1.0.0", O1, "Changes the selected database.", &[], server::select),
    k("set", -3, WD, K1, KEY, STR, "1.0.0", O1, "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", strings::set),
    k("setex", 4, WD, K1, KEY, STR, "2.0.0", O1, "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", strings::setex),
    k("setnx", 3, WDF, K1, KEY, STR, "1.0.0", O1, "Set the string value of a key only when the key doesn't exist.", strings::setnx),
    k("setrange", 4, WD, K1, KEY, STR, "2.2.0", "O(1), not counting the time taken to copy the new string in place.", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", strings::setrange),
    s("shutdown", -1, ADMIN | NOSCRIPT | LOADING_OK | STALE | NO_MULTI | SENTINEL | ALLOW_BUSY, SERVER, "1.0.0", "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)", "Synchronously saves the database(s) to disk and shuts down the Redis server.", &[], server::shutdown),
    k("sinter", -2, R, KN, KEYS, SET, "1.0.0", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", "Returns the intersect of multiple sets.", sets::sinter),
    k("sinterstore", -3, WD, KN, KEYS, SET, "1.0.0", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", "Stores the intersect of multiple sets in a key.", sets::sinterstore),
    k("sismember", 3, RF, K1, KEY, SET, "1.0.0", O1, "Determines whether a member belongs to a set.", sets::sismember),
    k("smembers", 2, R, K1, KEY, SET, "1.0.0", "O(N) where N is the set cardinality.", "Returns all members of a set.", sets::smembers),
    k("smismember", -3, RF, K1, KEY, SET, "6.2.0", "O(N) where N is the number of elements being checked for membership", "Determines whether multiple members belong to a set.", sets::smismember),
    k("smove", 4, WF, K2, KEYS, SET, "1.0.0", O1, "Moves a member from one set to another.", sets::smove),
    k("spop", -2, WF, K1, KEY, SET, "1.0.0", "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", sets::spop),
    k("srandmember", -2, R, K1, KEY, SET, "1.0.0", "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.", "Get one or multiple random members from a set", sets::srandmember),
    k("srem", -3, WF, K1, KEY, SET, "1.0.0", "O(N) where N is the number of members to be removed.", "Removes one or more members from a set. Deletes the set if the last member was removed.", sets::srem),
    k("strlen", 2, RF, K1, KEY, STR, "2.2.0", O1, "Returns the length of a string value.", strings::strlen),
    k("sunion", -2, R, KN, KEYS, SET, "1.0.0", "O(N) where N is the total number of elements in all given sets.", "Returns the union of multiple sets.", sets::sunion),
    k("sunionstore", -3, WD, KN, KEYS, SET, "1.0.0", "O(N) where N is the total number of elements in all given sets.", "Stores the union of multiple sets in a key.", sets::sunionstore),
    s("time", 1, LOADING_OK | STALE | FAST, SERVER, "2.6.0", O1, "Returns the server time.", &[], server::time),
    k("touch", -2, RF, KN, Route::EachKey(Merge::SumInts), GEN, "3.2.1", "O(N) where N is the number of keys that will be touched.", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", keys::exists),
    k("ttl", 2, RF, K1, KEY, GEN, "1.0.0", O1, "Returns the expiration time in seconds of a key.", keys::ttl),
    k("type", 2, RF, K1, KEY, GEN, "1.0.0", O1, "Determines the type of value stored at a key.", keys::type_),
    k("unlink", -2, WF, KN, Route::EachKey(Merge::SumInts), GEN, "4.0.0", "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.", "Asynchronously deletes one or more keys.", keys::del),
    s("unwatch", 1, NOSCRIPT | LOADING_OK | STALE | FAST | ALLOW_BUSY | TRANSACTION, TRANSACTIONS, "2.2.0", O1, "Forgets about watched keys of a transaction.", &[], server::transaction),
    s("watch", -2, NOSCRIPT | LOADING_OK | STALE | FAST | ALLOW_BUSY | TRANSACTION, TRANSACTIONS, "2.2.0", "O(1) for every key.", "Monitors changes to keys to determine the execution of a transaction.", &[], server::transaction),
    k("zadd", -4, WDF, K1, KEY, ZSET, "1.2.0", "O(log(N)) for each item added, where N is the number of elements in the sorted set.", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", zsets::zadd),
    k("zcard", 2, RF, K1, KEY, ZSET, "1.2.0", O1, "Returns the number of members in a sorted set.", zsets::zcard),
    k("zcount", 4, RF, K1, KEY, ZSET, "2.0.0", "O(log(N)) with N being the number of elements in the sorted set.", "Returns the count of members in a sorted set that have scores within a range.", zsets::zcount),
    k("zincrby", 4, WDF, K1, KEY, ZSET, "1.2.0", OLOGN, "Increments the score of a member in a sorted set.", zsets::zincrby),
    k("zlexcount", 4, RF, K1, KEY, ZSET, "2.8.9", LEX_COST, "Returns the number of members in a sorted set within a lexicographical range.", zsets::zlexcount),
    k("zmscore", -3, RF, K1, KEY, ZSET, "6.2.0", "O(N) where N is the number of members being requested.", "Returns the score of one or more members in a sorted set.", zsets::zmscore),
    k("zpopmax", -2, WF, K1, KEY, ZSET, "5.0.0", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", zsets::zpopmax),
    k("zpopmin", -2, WF, K1, KEY, ZSET, "5.0.0", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", zsets::zpopmin),
    k("zrange", -4, R, K1, KEY, ZSET, "1.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.", "Returns members in a sorted set within a range of indexes.", zsets::zrange),
    k("zrangebylex", -4, R, K1, KEY, ZSET, "2.8.9", LEX_COST, "Returns members in a sorted set within a lexicographical range.", zsets::zrangebylex),
    k("zrangebyscore", -4, R, K1, KEY, ZSET, "1.0.5", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned.", "Returns members in a sorted set within a range of scores.", zsets::zrangebyscore),
    k("zrank", 3, RF, K1, KEY, ZSET, "2.0.0", ZRANK_COST, "Returns the index of a member in a sorted set ordered by ascending scores.", zsets::zrank),
    k("zrem", -3, WF, K1, KEY, ZSET, "1.2.0", "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", zsets::zrem),
    k("zremrangebylex", 4, W, K1, KEY, ZSET, "2.8.9", LEX_COST, "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", zsets::zremrangebylex),
    k("zremrangebyrank", 4, W, K1, KEY, ZSET, "2.0.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", zsets::zremrangebyrank),
    k("zremrangebyscore", 4, W, K1, KEY, ZSET, "1.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", zsets::zremrangebyscore),
    k("zrevrange", -4, R, K1, KEY, ZSET, "1.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.", "Returns members in a sorted set within a range of indexes in reverse order.", zsets::zrevrange),
    k("zrevrangebyscore", -4, R, K1, KEY, ZSET, "2.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned.", "Returns members in a sorted set within a range of scores in reverse order.", zsets::zrevrangebyscore),
    k("zrevrank", 3, RF, K1, KEY, ZSET, "2.0.0", ZRANK_COST, "Returns the index of a member in a sorted set ordered by descending scores.", zsets::zrevrank),
    k("zscore", 3, RF, K1, KEY, ZSET, "1.2.0", O1, "Returns the score of a member in a sorted set.", zsets::zscore),
];
