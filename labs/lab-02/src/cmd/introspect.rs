//! Introspection: COMMAND (INFO, DOCS, COUNT, LIST, GETKEYS), INFO and
//! CONFIG (GET, SET, RESETSTAT, REWRITE).
//!
//! COMMAND's replies are built from the command table, in Redis 7's shape
//! (RESP2, so maps are flat arrays); redis-cli asks for `COMMAND DOCS`
//! when it starts.

use super::glob::Glob;
use super::server::{After, ServerCtx, Session, VERSION, help, subcommand};
use super::{Merge, Route, Spec, Tunables, arity_ok, flags, lookup, table};
use crate::reply;

/// The ACL categories Redis would list for `spec` (approximated from its
/// flags and group).
fn categories(spec: &Spec) -> Vec<&'static str> {
    let mut cats = Vec::new();
    if spec.has(flags::WRITE) {
        cats.push("@write");
    } else if spec.has(flags::READONLY) {
        cats.push("@read");
    }
    match spec.group {
        "string" => cats.push("@string"),
        "list" => cats.push("@list"),
        "hash" => cats.push("@hash"),
        "set" => cats.push("@set"),
        "sorted-set" => cats.push("@sortedset"),
        "generic" => cats.push("@keyspace"),
        "connection" => cats.push("@connection"),
        "transactions" => cats.push("@transaction"),
        _ => {}
    }
    cats.push(if spec.has(flags::FAST) {
        "@fast"
    } else {
        "@slow"
    });
    if spec.has(flags::ADMIN) {
        cats.push("@admin");
        cats.push("@dangerous");
    }
    cats
}

/// Redis 7's request/response policy tips, from the route.
fn tips(spec: &Spec) -> &'static [&'static str] {
    match spec.route {
        Route::AllShards(Merge::SumInts) => {
            &["request_policy:all_shards", "response_policy:agg_sum"]
        }
        Route::AllShards(Merge::ConcatArrays) => {
            &["request_policy:all_shards", "nondeterministic_output_order"]
        }
        Route::AllShards(Merge::AllOk) => {
            &["request_policy:all_shards", "response_policy:all_succeeded"]
        }
        Route::EachKey(Merge::SumInts) => {
            &["request_policy:multi_shard", "response_policy:agg_sum"]
        }
        Route::EachKey(Merge::AllOk) => &[
            "request_policy:multi_shard",
            "response_policy:all_succeeded",
        ],
        Route::EachKey(Merge::ConcatArrays) => &["request_policy:multi_shard"],
        Route::Scan => &[
            "nondeterministic_output",
            "request_policy:special",
            "response_policy:special",
        ],
        Route::Key | Route::Keys | Route::Server => &[],
    }
}

fn simple_array(out: &mut Vec<u8>, items: &[&str]) {
    reply::array(out, items.len());
    for item in items {
        reply::simple(out, item);
    }
}

/// One `COMMAND INFO` entry: name, arity, flags, first key, last key,
/// step, ACL categories, tips, key specs, subcommands.
fn command_entry(out: &mut Vec<u8>, spec: &Spec) {
    reply::array(out, 10);
    reply::bulk(out, spec.name.as_bytes());
    reply::int(out, i64::from(spec.arity));
    let names: Vec<&str> = flags::NAMES
        .iter()
        .filter(|(bit, _)| spec.has(*bit))
        .map(|(_, name)| *name)
        .collect();
    simple_array(out, &names);
    reply::int(out, i64::from(spec.first_key));
    reply::int(out, i64::from(spec.last_key));
    reply::int(out, i64::from(spec.step));
    simple_array(out, &categories(spec));
    simple_array(out, tips(spec));
    if spec.first_key > 0 {
        // One key spec: keys from index first_key, a range to last_key.
        let last = if spec.last_key >= 0 {
            spec.last_key - spec.first_key
        } else {
            spec.last_key
        };
        let spec_flags: &[&str] = if spec.has(flags::WRITE) {
            &["RW", "UPDATE"]
        } else {
            &["RO", "ACCESS"]
        };
        reply::array(out, 1);
        reply::array(out, 6);
        reply::bulk(out, b"flags");
        simple_array(out, spec_flags);
        reply::bulk(out, b"begin_search");
        reply::array(out, 4);
        reply::bulk(out, b"type");
        reply::bulk(out, b"index");
        reply::bulk(out, b"spec");
        reply::array(out, 2);
        reply::bulk(out, b"index");
        reply::int(out, i64::from(spec.first_key));
        reply::bulk(out, b"find_keys");
        reply::array(out, 4);
        reply::bulk(out, b"type");
        reply::bulk(out, b"range");
        reply::bulk(out, b"spec");
        reply::array(out, 6);
        reply::bulk(out, b"lastkey");
        reply::int(out, i64::from(last));
        reply::bulk(out, b"keystep");
        reply::int(out, i64::from(spec.step));
        reply::bulk(out, b"limit");
        reply::int(out, 0);
    } else {
        reply::array(out, 0);
    }
    reply::array(out, spec.subcommands.len());
    for sub in spec.subcommands {
        command_entry(out, sub);
    }
}

/// One `COMMAND DOCS` value: summary, since, group, complexity and the
/// subcommands' docs.
fn docs_entry(out: &mut Vec<u8>, spec: &Spec) {
    let fields = 4 + usize::from(!spec.subcommands.is_empty());
    reply::array(out, fields * 2);
    reply::bulk(out, b"summary");
    reply::bulk(out, spec.summary.as_bytes());
    reply::bulk(out, b"since");
    reply::bulk(out, spec.since.as_bytes());
    reply::bulk(out, b"group");
    reply::bulk(out, spec.group.as_bytes());
    reply::bulk(out, b"complexity");
    reply::bulk(out, spec.complexity.as_bytes());
    if !spec.subcommands.is_empty() {
        reply::bulk(out, b"subcommands");
        reply::array(out, spec.subcommands.len() * 2);
        for sub in spec.subcommands {
            reply::bulk(out, sub.name.as_bytes());
            docs_entry(out, sub);
        }
    }
}

/// A command by name, or a subcommand by `container|sub`.
fn find(name: &[u8]) -> Option<&'static Spec> {
    match name.iter().position(|&b| b == b'|') {
        None => lookup(name),
        Some(bar) => {
            let parent = lookup(&name[..bar])?;
            parent
                .subcommands
                .iter()
                .find(|s| s.name.as_bytes().eq_ignore_ascii_case(name))
        }
    }
}

/// `COMMAND [COUNT|INFO|DOCS|LIST|GETKEYS|HELP …]`
pub(crate) fn command(
    _: &mut Session,
    args: &[&[u8]],
    _: &dyn ServerCtx,
    out: &mut Vec<u8>,
) -> After {
    let all = table();
    if args.len() == 1 {
        reply::array(out, all.len());
        for spec in all {
            command_entry(out, spec);
        }
        return After::Continue;
    }
    let Some(spec) = lookup(b"command") else {
        return After::Continue;
    };
    let Some(sub) = subcommand(spec, args, out) else {
        return After::Continue;
    };
    let names = &args[2..];
    match sub.name {
        "command|count" => reply::int(out, all.len() as i64),
        "command|info" => {
            if names.is_empty() {
                reply::array(out, all.len());
                for spec in all {
                    command_entry(out, spec);
                }
            } else {
                reply::array(out, names.len());
                for name in names {
                    match find(name) {
                        Some(spec) => command_entry(out, spec),
                        None => reply::null(out),
                    }
                }
            }
        }
        "command|docs" => {
            let specs: Vec<&Spec> = if names.is_empty() {
                all.iter().collect()
            } else {
                names.iter().filter_map(|n| find(n)).collect()
            };
            reply::array(out, specs.len() * 2);
            for spec in specs {
                reply::bulk(out, spec.name.as_bytes());
                docs_entry(out, spec);
            }
        }
        "command|list" => {
            if !names.is_empty() {
                // FILTERBY is not supported.
                reply::error(out, super::parse::SYNTAX);
                return After::Continue;
            }
            let count: usize = all.iter().map(|s| 1 + s.subcommands.len()).sum();
            reply::array(out, count);
            for spec in all {
                reply::bulk(out, spec.name.as_bytes());
                for sub in spec.subcommands {
                    reply::bulk(out, sub.name.as_bytes());
                }
            }
        }
        "command|getkeys" => getkeys(&args[2..], out),
        _ => help(out, spec),
    }
    After::Continue
}

/// `COMMAND GETKEYS command arg …`: the key arguments, by the table's
/// first/last/step.
fn getkeys(cmd: &[&[u8]], out: &mut Vec<u8>) {
    let Some(spec) = cmd.first().and_then(|n| lookup(n)) else {
        reply::error(out, "ERR Invalid command specified");
        return;
    };
    // A container's keys are its subcommand's (`OBJECT ENCODING key`).
    let spec = spec.keys_of(cmd);
    if !arity_ok(spec, cmd.len()) {
        reply::error(out, "ERR Invalid number of arguments specified for command");
        return;
    }
    if spec.first_key <= 0 {
        reply::error(out, "ERR The command has no key arguments");
        return;
    }
    let argc = cmd.len() as i64;
    let first = i64::from(spec.first_key);
    let last = if spec.last_key < 0 {
        argc + i64::from(spec.last_key)
    } else {
        i64::from(spec.last_key)
    };
    let step = i64::from(spec.step.max(1));
    let keys: Vec<&[u8]> = (first..=last.min(argc - 1))
        .step_by(step as usize)
        .filter_map(|i| cmd.get(i as usize).copied())
        .collect();
    reply::bulk_array(out, keys.into_iter());
}

/// INFO's sections in Redis's order; `true` for those in `INFO default`.
const SECTIONS: [(&str, &str); 11] = [
    ("server", "Server"),
    ("clients", "Clients"),
    ("memory", "Memory"),
    ("persistence", "Persistence"),
    ("stats", "Stats"),
    ("replication", "Replication"),
    ("cpu", "CPU"),
    ("modules", "Modules"),
    ("errorstats", "Errorstats"),
    ("cluster", "Cluster"),
    ("keyspace", "Keyspace"),
];

/// The fields the command code knows itself, per section.
fn base_fields(section: &str, ctx: &dyn ServerCtx) -> Vec<(String, String)> {
    let f = |k: &str, v: String| (k.to_string(), v);
    match section {
        "server" => {
            let mut v = vec![
                f("redis_version", VERSION.to_string()),
                f("redis_git_sha1", "00000000".into()),
                f("redis_git_dirty", "0".into()),
                f("redis_build_id", "0".into()),
                f("redis_mode", "standalone".into()),
                f(
                    "os",
                    format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
                ),
                f("arch_bits", usize::BITS.to_string()),
                f("process_id", std::process::id().to_string()),
            ];
            if !ctx.model().is_empty() {
                v.push(f("concurrency_model", ctx.model().to_string()));
            }
            v
        }
        "clients" => vec![f("connected_clients", ctx.client_count().to_string())],
        "persistence" => vec![f("loading", "0".into())],
        "replication" => vec![
            f("role", "master".into()),
            f("connected_slaves", "0".into()),
        ],
        "cluster" => vec![f("cluster_enabled", "0".into())],
        _ => Vec::new(),
    }
}

/// `INFO [section …]`: `default` (or nothing), `all`/`everything`, or
/// section names, case-insensitively.
pub(crate) fn info(
    _: &mut Session,
    args: &[&[u8]],
    ctx: &dyn ServerCtx,
    out: &mut Vec<u8>,
) -> After {
    let wanted: Vec<String> = args[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let everything = wanted.iter().any(|w| w == "all" || w == "everything");
    let default = wanted.is_empty() || wanted.iter().any(|w| w == "default");
    let extra = ctx.info_fields();
    // Sections: Redis's, then any others the server reports.
    let mut sections: Vec<(String, String)> = SECTIONS
        .iter()
        .map(|(k, t)| (k.to_string(), t.to_string()))
        .collect();
    for (section, _, _) in &extra {
        let key = section.to_ascii_lowercase();
        if !sections.iter().any(|(k, _)| *k == key) {
            let mut title = key.clone();
            if let Some(first) = title.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            sections.push((key, title));
        }
    }
    let mut text = String::new();
    for (key, title) in &sections {
        let standard = SECTIONS.iter().any(|(k, _)| k == key);
        if !(everything || (default && standard) || wanted.contains(key)) {
            continue;
        }
        let mut fields = base_fields(key, ctx);
        for (section, k, v) in &extra {
            if section.eq_ignore_ascii_case(key) {
                match fields.iter_mut().find(|(name, _)| name == k) {
                    Some(field) => field.1.clone_from(v),
                    None => fields.push((k.clone(), v.clone())),
                }
            }
        }
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        text.push_str("# ");
        text.push_str(title);
        text.push_str("\r\n");
        for (k, v) in fields {
            text.push_str(&k);
            text.push(':');
            text.push_str(&v);
            text.push_str("\r\n");
        }
    }
    reply::bulk(out, text.as_bytes());
    After::Continue
}

/// `CONFIG GET pattern [pattern …]`, `CONFIG SET name value [name value
/// …]`, `CONFIG RESETSTAT`, `CONFIG REWRITE`, `CONFIG HELP`.
///
/// The parameters are the server's own ([`ServerCtx::config_names`]),
/// which are immutable here (setting one to its current value succeeds,
/// anything else fails as Redis fails for an immutable one), and Redis's
/// tuning parameters ([`ServerCtx::tunables`]), which CONFIG SET changes
/// with Redis 7's checks. As in Redis 7.0, CONFIG SET of several
/// parameters is all or nothing, and CONFIG GET of an exact name answers
/// with the name as it was written.
pub(crate) fn config(
    _: &mut Session,
    args: &[&[u8]],
    ctx: &dyn ServerCtx,
    out: &mut Vec<u8>,
) -> After {
    let Some(spec) = lookup(b"config") else {
        return After::Continue;
    };
    let Some(sub) = subcommand(spec, args, out) else {
        return After::Continue;
    };
    let tunables = ctx.tunables();
    let mut names = ctx.config_names();
    if tunables.is_some() {
        for name in Tunables::names() {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    let value_of = |name: &str| {
        tunables
            .and_then(|t| t.get(name))
            .or_else(|| ctx.config_value(name))
            .unwrap_or_default()
    };
    match sub.name {
        "config|get" => {
            // (as shown, lowercase name), in order of first match.
            let mut matched: Vec<(Vec<u8>, String)> = Vec::new();
            for pattern in &args[2..] {
                if !pattern.iter().any(|b| b"[*?".contains(b)) {
                    let lower = String::from_utf8_lossy(pattern).to_ascii_lowercase();
                    if names.contains(&lower.as_str()) && !matched.iter().any(|(_, n)| *n == lower)
                    {
                        matched.push((pattern.to_vec(), lower));
                    }
                    continue;
                }
                let glob = Glob::new(pattern, true);
                for name in &names {
                    if glob.matches(name.as_bytes()) && !matched.iter().any(|(_, n)| n == name) {
                        matched.push((name.as_bytes().to_vec(), name.to_string()));
                    }
                }
            }
            reply::array(out, matched.len() * 2);
            for (shown, name) in matched {
                reply::bulk(out, &shown);
                reply::bulk(out, value_of(&name).as_bytes());
            }
        }
        "config|set" => config_set(&args[2..], ctx, out),
        "config|resetstat" => reply::ok(out),
        "config|rewrite" => reply::error(out, "ERR The server is running without a config file"),
        _ => help(out, spec),
    }
    After::Continue
}

/// `CONFIG SET name value …` (`pairs` starts at the first name), in Redis
/// 7.0's two passes: first every name (unknown, immutable, named twice:
/// the first such error wins), then every value (the first bad one wins
/// and nothing changes); only then are the values stored.
fn config_set(pairs: &[&[u8]], ctx: &dyn ServerCtx, out: &mut Vec<u8>) {
    if !pairs.len().is_multiple_of(2) {
        reply::error(out, super::parse::SYNTAX);
        return;
    }
    let failed = |out: &mut Vec<u8>, name: &[u8], why: &str| {
        let mut text = b"ERR CONFIG SET failed (possibly related to argument '".to_vec();
        text.extend_from_slice(name);
        text.extend_from_slice(b"') - ");
        text.extend_from_slice(why.as_bytes());
        super::error_bytes(out, &text);
    };
    let tunables = ctx.tunables();
    let own = ctx.config_names();
    let mut seen: Vec<String> = Vec::new();
    // (parameter index, lowercase name as written, value)
    let mut changes: Vec<(usize, String, &[u8])> = Vec::new();
    for pair in pairs.chunks_exact(2) {
        let (typed, value) = (pair[0], pair[1]);
        let name = String::from_utf8_lossy(typed).to_ascii_lowercase();
        let tunable = tunables.and_then(|_| Tunables::find(&name));
        if tunable.is_none() && !own.contains(&name.as_str()) {
            let mut text = b"ERR Unknown option or number of arguments for CONFIG SET - '".to_vec();
            text.extend_from_slice(typed);
            text.push(b'\'');
            super::error_bytes(out, &text);
            return;
        }
        if let Some(i) = tunable {
            changes.push((i, name.clone(), value));
        } else if ctx.config_value(&name).unwrap_or_default().as_bytes() != value {
            failed(out, typed, "can't set immutable config");
            return;
        }
        if seen.contains(&name) {
            failed(out, typed, "duplicate parameter");
            return;
        }
        seen.push(name);
    }
    let mut checked = Vec::with_capacity(changes.len());
    for (i, name, value) in changes {
        match Tunables::parse(i, value) {
            Ok(v) => checked.push((i, v)),
            Err(why) => {
                failed(out, name.as_bytes(), &why);
                return;
            }
        }
    }
    if let Some(t) = tunables {
        t.set_all(checked);
    }
    reply::ok(out);
}
