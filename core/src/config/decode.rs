//! Maps the syntax tree of `helper.conf` onto [`Config`], with HCL v1's decoding rules:
//! keys match case-insensitively; string keys also take numbers and bools (as written);
//! integer keys take numbers or quoted strings, both read by Go's `strconv.ParseInt(s, 0,
//! 0)`; bool keys take `true`/`false`, or the strings or numbers `"true"`, `"false"`, `1`,
//! `0` (case-insensitively). Unknown top-level and `jwt_svids` keys are collected, as
//! written, for validation; unknown `health_checks` keys are ignored, as upstream does
//! (`cmd/spiffe-helper/config/config.go@v0.11.0`: only the top level and `jwt_svids` keep
//! `unusedKeyPositions`).
//!
//! A key given more than once is applied each time, in order, as `hcl.Decode` applies every
//! match of a struct field: a scalar keeps the last value; a list (`jwt_svids`,
//! `jwt_extra_audiences`) is appended to, since HCL v1's slice decoding extends the slice it
//! is given; a `health_checks` block is decoded into the same struct again, so its keys merge
//! (the last value of each key wins).
//!
//! An object given to `jwt_svids` (the block form `jwt_svids { ... }`, or `jwt_svids = {...}`)
//! is read as HCL v1 reads it: the struct decoder hands the object's items to the slice
//! decoder as a list, so **each item becomes its own entry**. An item whose value is an
//! object gives the entry decoded from that object (its key is ignored); any other item gives
//! an entry holding that one key. So `jwt_svids { jwt_audience = "a", jwt_svid_file_name =
//! "t" }` is two entries, and validation then rejects the first for its missing file name,
//! exactly as upstream does.
//!
//! `x509_svids` and `reload.exec` are ours, so they have no upstream quirk to keep: each
//! block, or each object of a list, is one whole entry.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::int::parse_go_int;
use super::syntax::{Item, SyntaxError, SyntaxErrorKind, Value, ValueKind, fold_key};
use super::{
    Config, ExecBlock, HealthChecks, JwtSvidConfig, ReloadBlock, StartBlock, X509SvidConfig,
};

type Setter<T> = fn(&mut T, &str, Value) -> Result<(), SyntaxError>;

const TOP_LEVEL: &[(&str, Setter<Config>)] = &[
    ("agent_address", |c, k, v| {
        set(&mut c.agent_address, string(k, v)?)
    }),
    ("cmd", |c, k, v| set(&mut c.cmd, string(k, v)?)),
    ("cmd_args", |c, k, v| set(&mut c.cmd_args, string(k, v)?)),
    ("pid_file_name", |c, k, v| {
        set(&mut c.pid_file_name, string(k, v)?)
    }),
    ("renew_signal", |c, k, v| {
        set(&mut c.renew_signal, string(k, v)?)
    }),
    ("cert_dir", |c, k, v| set(&mut c.cert_dir, string(k, v)?)),
    ("daemon_mode", |c, k, v| {
        set(&mut c.daemon_mode, Some(boolean(k, v)?))
    }),
    ("add_intermediates_to_bundle", |c, k, v| {
        set(&mut c.add_intermediates_to_bundle, boolean(k, v)?)
    }),
    ("include_federated_domains", |c, k, v| {
        set(&mut c.include_federated_domains, boolean(k, v)?)
    }),
    ("omit_expired", |c, k, v| {
        set(&mut c.omit_expired, boolean(k, v)?)
    }),
    ("skip_svid_verification", |c, k, v| {
        set(&mut c.skip_svid_verification, boolean(k, v)?)
    }),
    ("hint", |c, k, v| set(&mut c.hint, string(k, v)?)),
    ("svid_file_name", |c, k, v| {
        set(&mut c.svid_file_name, string(k, v)?)
    }),
    ("svid_key_file_name", |c, k, v| {
        set(&mut c.svid_key_file_name, string(k, v)?)
    }),
    ("svid_bundle_file_name", |c, k, v| {
        set(&mut c.svid_bundle_file_name, string(k, v)?)
    }),
    ("jwt_bundle_file_name", |c, k, v| {
        set(&mut c.jwt_bundle_file_name, string(k, v)?)
    }),
    ("jwt_svids", |c, k, v| jwt_svids(&mut c.jwt_svids, k, v)),
    ("cert_file_mode", |c, k, v| {
        set(&mut c.cert_file_mode, int(k, v)?)
    }),
    ("key_file_mode", |c, k, v| {
        set(&mut c.key_file_mode, int(k, v)?)
    }),
    ("jwt_bundle_file_mode", |c, k, v| {
        set(&mut c.jwt_bundle_file_mode, int(k, v)?)
    }),
    ("jwt_svid_file_mode", |c, k, v| {
        set(&mut c.jwt_svid_file_mode, int(k, v)?)
    }),
    ("health_checks", |c, k, v| {
        health_checks(&mut c.health_checks, k, v)
    }),
    ("log_level", |c, k, v| set(&mut c.log_level, string(k, v)?)),
    ("log_format", |c, k, v| {
        set(&mut c.log_format, string(k, v)?)
    }),
    ("max_message_size", |c, k, v| {
        set(&mut c.max_message_size, int(k, v)?)
    }),
    ("symlinked_layout", |c, k, v| {
        set(&mut c.symlinked_layout, boolean(k, v)?)
    }),
    ("svid_credential_bundle_file_name", |c, k, v| {
        set(&mut c.svid_credential_bundle_file_name, string(k, v)?)
    }),
    ("trust_bundle_dir", |c, k, v| {
        set(&mut c.trust_bundle_dir, string(k, v)?)
    }),
    ("spiffe_bundle_map_file_name", |c, k, v| {
        set(&mut c.spiffe_bundle_map_file_name, string(k, v)?)
    }),
    ("pkcs12_keystore_file_name", |c, k, v| {
        set(&mut c.pkcs12_keystore_file_name, string(k, v)?)
    }),
    ("pkcs12_truststore_file_name", |c, k, v| {
        set(&mut c.pkcs12_truststore_file_name, string(k, v)?)
    }),
    ("pkcs12_password_file", |c, k, v| {
        set(&mut c.pkcs12_password_file, string(k, v)?)
    }),
    ("x509_svids", |c, k, v| {
        objects(&mut c.x509_svids, k, v, X509_SVID)
    }),
    ("file_owner", |c, k, v| {
        set(&mut c.file_owner, string(k, v)?)
    }),
    ("create_cert_dir", |c, k, v| {
        set(&mut c.create_cert_dir, boolean(k, v)?)
    }),
    ("one_shot_timeout", |c, k, v| {
        set(&mut c.one_shot_timeout, string(k, v)?)
    }),
    ("start", |c, k, v| {
        let block = c.start.get_or_insert_with(StartBlock::default);
        let unknown = block_fields(block, k, v, START)?;
        block.unknown_keys.extend(unknown);
        Ok(())
    }),
    ("reload", |c, k, v| {
        let block = c.reload.get_or_insert_with(ReloadBlock::default);
        let unknown = block_fields(block, k, v, RELOAD)?;
        block.unknown_keys.extend(unknown);
        Ok(())
    }),
];

const START: &[(&str, Setter<StartBlock>)] = &[
    ("cmd", |c, k, v| set(&mut c.cmd, string(k, v)?)),
    ("args", |c, k, v| set(&mut c.args, Some(strings(k, v)?))),
    ("restart", |c, k, v| set(&mut c.restart, string(k, v)?)),
];

const RELOAD: &[(&str, Setter<ReloadBlock>)] = &[
    ("signal", |c, k, v| set(&mut c.signal, string(k, v)?)),
    ("pid_file", |c, k, v| set(&mut c.pid_file, string(k, v)?)),
    ("exec", |c, k, v| objects(&mut c.exec, k, v, EXEC)),
];

const EXEC: &[(&str, Setter<ExecBlock>)] = &[
    ("cmd", |c, k, v| set(&mut c.cmd, string(k, v)?)),
    ("args", |c, k, v| set(&mut c.args, strings(k, v)?)),
    ("on", |c, k, v| set(&mut c.on, Some(strings(k, v)?))),
    ("timeout", |c, k, v| set(&mut c.timeout, string(k, v)?)),
];

const JWT_SVID: &[(&str, Setter<JwtSvidConfig>)] = &[
    ("jwt_audience", |c, k, v| {
        set(&mut c.jwt_audience, string(k, v)?)
    }),
    ("jwt_extra_audiences", |c, k, v| {
        let more = strings(k, v)?;
        c.jwt_extra_audiences.extend(more);
        Ok(())
    }),
    ("jwt_svid_file_name", |c, k, v| {
        set(&mut c.jwt_svid_file_name, string(k, v)?)
    }),
];

const X509_SVID: &[(&str, Setter<X509SvidConfig>)] = &[
    ("hint", |c, k, v| set(&mut c.hint, string(k, v)?)),
    ("svid_file_name", |c, k, v| {
        set(&mut c.svid_file_name, string(k, v)?)
    }),
    ("svid_key_file_name", |c, k, v| {
        set(&mut c.svid_key_file_name, string(k, v)?)
    }),
    ("svid_bundle_file_name", |c, k, v| {
        set(&mut c.svid_bundle_file_name, string(k, v)?)
    }),
    ("svid_credential_bundle_file_name", |c, k, v| {
        set(&mut c.svid_credential_bundle_file_name, string(k, v)?)
    }),
    ("pkcs12_keystore_file_name", |c, k, v| {
        set(&mut c.pkcs12_keystore_file_name, string(k, v)?)
    }),
    ("pkcs12_truststore_file_name", |c, k, v| {
        set(&mut c.pkcs12_truststore_file_name, string(k, v)?)
    }),
];

const HEALTH_CHECKS: &[(&str, Setter<HealthChecks>)] = &[
    ("listener_enabled", |c, k, v| {
        set(&mut c.listener_enabled, boolean(k, v)?)
    }),
    ("bind_port", |c, k, v| set(&mut c.bind_port, int(k, v)?)),
    ("liveness_path", |c, k, v| {
        set(&mut c.liveness_path, string(k, v)?)
    }),
    ("readiness_path", |c, k, v| {
        set(&mut c.readiness_path, string(k, v)?)
    }),
    ("bind_address", |c, k, v| {
        set(&mut c.bind_address, string(k, v)?)
    }),
    ("read_header_timeout", |c, k, v| {
        set(&mut c.read_header_timeout, string(k, v)?)
    }),
    ("metrics_path", |c, k, v| {
        set(&mut c.metrics_path, string(k, v)?)
    }),
];

fn set<T>(field: &mut T, value: T) -> Result<(), SyntaxError> {
    *field = value;
    Ok(())
}

/// The top-level keys whose value is a block or a list (given as JSON in the environment).
pub(crate) const STRUCTURED_KEYS: &[&str] = &[
    "jwt_svids",
    "x509_svids",
    "health_checks",
    "start",
    "reload",
];

/// Every top-level key, in the order of [`Config`]'s documentation.
#[cfg(test)]
pub(crate) fn top_level_keys() -> impl Iterator<Item = &'static str> {
    TOP_LEVEL.iter().map(|(name, _)| *name)
}

/// Every `health_checks` key.
#[cfg(test)]
pub(crate) fn health_check_keys() -> impl Iterator<Item = &'static str> {
    HEALTH_CHECKS.iter().map(|(name, _)| *name)
}

/// Sets the top-level key `name` (as in [`top_level_keys`]) to `v` over `config`, replacing
/// what it held: a list is not appended to and a block is not merged, unlike a key repeated
/// in the file. `None` when no key has this name.
pub(crate) fn replace(
    config: &mut Config,
    name: &str,
    v: Value,
) -> Option<Result<(), SyntaxError>> {
    let (name, setter) = TOP_LEVEL.iter().find(|(n, _)| *n == name)?;
    match *name {
        "jwt_svids" => config.jwt_svids.clear(),
        "health_checks" => config.health_checks = HealthChecks::default(),
        "start" => config.start = None,
        "reload" => config.reload = None,
        _ => {}
    }
    Some(setter(config, name, v))
}

/// Decodes the top-level items of `helper.conf`.
pub(crate) fn config(items: Vec<Item>) -> Result<Config, SyntaxError> {
    let mut config = Config::default();
    config.unknown_keys = fields(&mut config, "", TOP_LEVEL, items)?;
    Ok(config)
}

/// Applies each item to its field, in order; returns the unknown keys, sorted as Go's
/// `sort.Strings`, each once (HCL v1 collects them in a map keyed by the key as written).
/// A quoted HCL key is never unknown: HCL v1 records only identifier and JSON keys.
fn fields<T>(
    target: &mut T,
    prefix: &str,
    table: &[(&str, Setter<T>)],
    items: Vec<Item>,
) -> Result<Vec<String>, SyntaxError> {
    let mut unknown = Vec::new();
    for item in items {
        let folded = fold_key(&item.key);
        match table.iter().find(|(name, _)| *name == folded) {
            Some((name, setter)) => setter(target, &format!("{prefix}{name}"), item.value)?,
            None if item.quoted => {}
            None => unknown.push(item.key),
        }
    }
    unknown.sort_unstable();
    unknown.dedup();
    Ok(unknown)
}

fn mismatch(key: &str, expected: &'static str, v: &Value) -> SyntaxError {
    SyntaxError {
        pos: v.pos,
        kind: SyntaxErrorKind::TypeMismatch {
            key: String::from(key),
            expected,
            found: v.kind.type_name(),
        },
    }
}

fn string(key: &str, v: Value) -> Result<String, SyntaxError> {
    match v.kind {
        ValueKind::String(s) | ValueKind::Number(s) | ValueKind::Float(s) => Ok(s),
        ValueKind::Bool(b) => Ok(String::from(if b { "true" } else { "false" })),
        _ => Err(mismatch(key, "string", &v)),
    }
}

fn int(key: &str, v: Value) -> Result<i64, SyntaxError> {
    match &v.kind {
        ValueKind::String(s) | ValueKind::Number(s) => {
            parse_go_int(s).map_err(|error| SyntaxError {
                pos: v.pos,
                kind: SyntaxErrorKind::InvalidInt {
                    key: String::from(key),
                    error,
                },
            })
        }
        _ => Err(mismatch(key, "integer", &v)),
    }
}

fn boolean(key: &str, v: Value) -> Result<bool, SyntaxError> {
    let text = match &v.kind {
        ValueKind::Bool(b) => return Ok(*b),
        ValueKind::String(s) | ValueKind::Number(s) => s,
        _ => return Err(mismatch(key, "bool", &v)),
    };
    if text == "1" || text.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if text == "0" || text.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(SyntaxError {
            pos: v.pos,
            kind: SyntaxErrorKind::InvalidBool {
                key: String::from(key),
                text: text.clone(),
            },
        })
    }
}

fn strings(key: &str, v: Value) -> Result<Vec<String>, SyntaxError> {
    match v.kind {
        ValueKind::List(values) => values
            .into_iter()
            .enumerate()
            .map(|(i, v)| string(&format!("{key}[{i}]"), v))
            .collect(),
        _ => Err(mismatch(key, "list of strings", &v)),
    }
}

/// `jwt_svids`: appends the entries of `v` to `out`. A list gives one entry per element,
/// each an object. An object (the block form) gives one entry per item, as HCL v1 decodes
/// it (see the module documentation).
fn jwt_svids(out: &mut Vec<JwtSvidConfig>, key: &str, v: Value) -> Result<(), SyntaxError> {
    match v.kind {
        ValueKind::List(values) => {
            for v in values {
                let path = format!("{key}[{}]", out.len());
                let ValueKind::Object(items) = v.kind else {
                    return Err(mismatch(&path, "object", &v));
                };
                out.push(jwt_svid(&path, items)?);
            }
        }
        ValueKind::Object(items) => {
            for item in items {
                let path = format!("{key}[{}]", out.len());
                let entry = match item.value.kind {
                    ValueKind::Object(inner) => jwt_svid(&path, inner)?,
                    ValueKind::List(_) => return Err(mismatch(&path, "object", &item.value)),
                    _ => jwt_svid(&path, alloc::vec![item])?,
                };
                out.push(entry);
            }
        }
        _ => return Err(mismatch(key, "list of objects", &v)),
    }
    Ok(())
}

/// One `jwt_svids` entry from the items of its object.
fn jwt_svid(path: &str, items: Vec<Item>) -> Result<JwtSvidConfig, SyntaxError> {
    let mut jwt = JwtSvidConfig::default();
    jwt.unknown_keys = fields(&mut jwt, &format!("{path}."), JWT_SVID, items)?;
    Ok(jwt)
}

/// A block of ours (`start`, `reload`): decodes the object into `block`, over what earlier
/// blocks of the same name set, as `health_checks`; returns its unknown keys.
fn block_fields<T>(
    block: &mut T,
    key: &str,
    v: Value,
    table: &[(&str, Setter<T>)],
) -> Result<Vec<String>, SyntaxError> {
    let ValueKind::Object(items) = v.kind else {
        return Err(mismatch(key, "object", &v));
    };
    fields(block, &format!("{key}."), table, items)
}

/// A list of blocks of ours (`reload.exec`, `x509_svids`): each block (`exec { ... }`,
/// given once per entry) or each object of a list (`exec = [{...}]`, JSON's `"exec":
/// [{...}]`) is one more entry. Unlike upstream's `jwt_svids`, a block is one whole entry.
fn objects<T: Default + HasUnknownKeys>(
    out: &mut Vec<T>,
    key: &str,
    v: Value,
    table: &[(&str, Setter<T>)],
) -> Result<(), SyntaxError> {
    let objects = match v.kind {
        ValueKind::List(values) => values,
        _ => alloc::vec![v],
    };
    for v in objects {
        let path = format!("{key}[{}]", out.len());
        let mut entry = T::default();
        let unknown = block_fields(&mut entry, &path, v, table)?;
        *entry.unknown_keys() = unknown;
        out.push(entry);
    }
    Ok(())
}

/// An entry that records its unknown keys for validation.
trait HasUnknownKeys {
    fn unknown_keys(&mut self) -> &mut Vec<String>;
}

impl HasUnknownKeys for ExecBlock {
    fn unknown_keys(&mut self) -> &mut Vec<String> {
        &mut self.unknown_keys
    }
}

impl HasUnknownKeys for X509SvidConfig {
    fn unknown_keys(&mut self) -> &mut Vec<String> {
        &mut self.unknown_keys
    }
}

/// `health_checks`: decodes the object into `health`, over what earlier blocks set.
fn health_checks(health: &mut HealthChecks, key: &str, v: Value) -> Result<(), SyntaxError> {
    let ValueKind::Object(items) = v.kind else {
        return Err(mismatch(key, "object", &v));
    };
    fields(health, &format!("{key}."), HEALTH_CHECKS, items)?;
    Ok(())
}
