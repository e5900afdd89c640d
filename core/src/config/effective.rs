//! The effective configuration as JSON (`-validate`, ours): every key with the value the
//! helper runs with, defaults applied, in a form that reads back as a `helper.conf` (JSON is
//! one of its two syntaxes) and validates to the same configuration. No key holds a secret:
//! file names are printed, no file is read.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::validate::{DEFAULT_BIND_PORT, DEFAULT_LIVENESS_PATH, DEFAULT_READINESS_PATH};
use super::{DEFAULT_HOOK_TIMEOUT, LogFormat, LogLevel, Restart, Validated};
use crate::health::slots::DEFAULT_READ_HEADER_TIMEOUT;
use crate::json::write_go_string;

/// A JSON object being written, one member per line at the top level.
struct Object<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
    pretty: bool,
}

/// Writes `items` at `out` as a JSON array of objects, each filled by `entry`.
fn objects<T>(
    out: &mut Vec<u8>,
    items: impl IntoIterator<Item = T>,
    mut entry: impl FnMut(&mut Object<'_>, T),
) {
    out.push(b'[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let mut e = Object::open(out, false);
        entry(&mut e, item);
        e.close();
    }
    out.push(b']');
}

impl<'a> Object<'a> {
    fn open(out: &'a mut Vec<u8>, pretty: bool) -> Self {
        out.push(b'{');
        Object {
            out,
            first: true,
            pretty,
        }
    }

    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        if self.pretty {
            self.out.extend_from_slice(b"\n  ");
        }
        write_go_string(key, self.out);
        self.out
            .extend_from_slice(if self.pretty { b": " } else { b":" });
        self.out
    }

    fn str(&mut self, key: &str, value: &str) {
        write_go_string(value, self.key(key));
    }

    fn bool(&mut self, key: &str, value: bool) {
        let text: &[u8] = if value { b"true" } else { b"false" };
        self.key(key).extend_from_slice(text);
    }

    fn int(&mut self, key: &str, value: i64) {
        self.key(key)
            .extend_from_slice(format!("{value}").as_bytes());
    }

    /// A file mode as a quoted octal integer (`"0644"`), as Go's `ParseInt(s, 0, 0)` reads it.
    fn mode(&mut self, key: &str, value: i64) {
        self.str(key, &format!("0{value:o}"));
    }

    fn strs<'s>(&mut self, key: &str, values: impl IntoIterator<Item = &'s str>) {
        let out = self.key(key);
        out.push(b'[');
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_go_string(v, out);
        }
        out.push(b']');
    }

    fn close(self) {
        if self.pretty {
            self.out.push(b'\n');
        }
        self.out.push(b'}');
    }
}

/// `value`, or `default` when it is empty.
fn or<'s>(value: &'s str, default: &'s str) -> &'s str {
    if value.is_empty() { default } else { value }
}

impl Validated {
    /// The effective configuration as a JSON `helper.conf`, one key per line: every
    /// top-level key, with the defaults applied (`agent_address`, `daemon_mode`, the modes as
    /// octal strings, `max_message_size`, `log_level`, `log_format`, and `health_checks`'s
    /// port and paths even when the listener is off); `start` and `reload` only when set,
    /// with their defaults (`restart`, each hook's `on` and `timeout`).
    pub fn to_json(&self) -> String {
        let c = self.config();
        let mut out = Vec::new();
        let mut o = Object::open(&mut out, true);
        o.str("agent_address", &c.agent_address);
        o.str("cmd", &c.cmd);
        o.str("cmd_args", &c.cmd_args);
        o.str("pid_file_name", &c.pid_file_name);
        o.str("renew_signal", &c.renew_signal);
        o.str("cert_dir", &c.cert_dir);
        o.bool("daemon_mode", self.daemon_mode());
        o.bool("add_intermediates_to_bundle", c.add_intermediates_to_bundle);
        o.bool("include_federated_domains", c.include_federated_domains);
        o.bool("omit_expired", c.omit_expired);
        o.bool("skip_svid_verification", c.skip_svid_verification);
        o.str("hint", &c.hint);
        o.str("svid_file_name", &c.svid_file_name);
        o.str("svid_key_file_name", &c.svid_key_file_name);
        o.str("svid_bundle_file_name", &c.svid_bundle_file_name);
        o.str("jwt_bundle_file_name", &c.jwt_bundle_file_name);
        objects(o.key("jwt_svids"), &c.jwt_svids, |e, j| {
            e.str("jwt_audience", &j.jwt_audience);
            e.strs(
                "jwt_extra_audiences",
                j.jwt_extra_audiences.iter().map(String::as_str),
            );
            e.str("jwt_svid_file_name", &j.jwt_svid_file_name);
        });
        o.mode("cert_file_mode", c.cert_file_mode);
        o.mode("key_file_mode", c.key_file_mode);
        o.mode("jwt_bundle_file_mode", c.jwt_bundle_file_mode);
        o.mode("jwt_svid_file_mode", c.jwt_svid_file_mode);
        let h = &c.health_checks;
        let mut health = Object::open(o.key("health_checks"), false);
        health.bool("listener_enabled", h.listener_enabled);
        health.int(
            "bind_port",
            if h.bind_port == 0 {
                DEFAULT_BIND_PORT
            } else {
                h.bind_port
            },
        );
        health.str("liveness_path", or(&h.liveness_path, DEFAULT_LIVENESS_PATH));
        health.str(
            "readiness_path",
            or(&h.readiness_path, DEFAULT_READINESS_PATH),
        );
        health.str("bind_address", &h.bind_address);
        let read_header_timeout = match h.read_header_timeout.as_str() {
            "" => format!("{}s", DEFAULT_READ_HEADER_TIMEOUT.as_secs()),
            written => String::from(written),
        };
        health.str("read_header_timeout", &read_header_timeout);
        health.str("metrics_path", &h.metrics_path);
        health.close();
        let level = LogLevel::parse(&c.log_level).map_or(c.log_level.as_str(), |l| l.name());
        o.str("log_level", level);
        let format = LogFormat::parse(&c.log_format).map_or(c.log_format.as_str(), |f| f.name());
        o.str("log_format", format);
        o.int("max_message_size", c.max_message_size);
        o.bool("symlinked_layout", c.symlinked_layout);
        o.str(
            "svid_credential_bundle_file_name",
            &c.svid_credential_bundle_file_name,
        );
        o.str("trust_bundle_dir", &c.trust_bundle_dir);
        o.str(
            "spiffe_bundle_map_file_name",
            &c.spiffe_bundle_map_file_name,
        );
        o.str("pkcs12_keystore_file_name", &c.pkcs12_keystore_file_name);
        o.str(
            "pkcs12_truststore_file_name",
            &c.pkcs12_truststore_file_name,
        );
        o.str("pkcs12_password_file", &c.pkcs12_password_file);
        objects(o.key("x509_svids"), &c.x509_svids, |e, x| {
            e.str("hint", &x.hint);
            e.str("svid_file_name", &x.svid_file_name);
            e.str("svid_key_file_name", &x.svid_key_file_name);
            e.str("svid_bundle_file_name", &x.svid_bundle_file_name);
            e.str(
                "svid_credential_bundle_file_name",
                &x.svid_credential_bundle_file_name,
            );
            e.str("pkcs12_keystore_file_name", &x.pkcs12_keystore_file_name);
            e.str(
                "pkcs12_truststore_file_name",
                &x.pkcs12_truststore_file_name,
            );
        });
        o.str("file_owner", &c.file_owner);
        o.bool("create_cert_dir", c.create_cert_dir);
        o.str("one_shot_timeout", &c.one_shot_timeout);
        if let Some(start) = &c.start {
            let mut s = Object::open(o.key("start"), false);
            s.str("cmd", &start.cmd);
            if let Some(args) = &start.args {
                s.strs("args", args.iter().map(String::as_str));
            }
            let restart = match Restart::parse(&start.restart) {
                Some(Restart::Never) => "never",
                _ => start.restart.as_str(),
            };
            s.str("restart", restart);
            s.close();
        }
        if let Some(reload) = &c.reload {
            let mut r = Object::open(o.key("reload"), false);
            r.str("signal", &reload.signal);
            r.str("pid_file", &reload.pid_file);
            let hooks = reload.exec.iter().zip(&self.lifecycle().hooks);
            objects(r.key("exec"), hooks, |e, (block, hook)| {
                e.str("cmd", &block.cmd);
                e.strs("args", block.args.iter().map(String::as_str));
                e.strs("on", hook.on.iter().map(|event| event.name()));
                let timeout = match block.timeout.as_str() {
                    "" => format!("{}s", DEFAULT_HOOK_TIMEOUT.as_secs()),
                    written => String::from(written),
                };
                e.str("timeout", &timeout);
            });
            r.close();
        }
        o.close();
        out.push(b'\n');
        String::from_utf8(out).unwrap_or_default()
    }
}
