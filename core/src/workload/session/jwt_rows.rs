//! The session's JWT rows: the FetchJWTBundles watch, which writes the bundle file and keeps
//! the keys that every JWT-SVID is verified with, and one FetchJWTSVID row per `jwt_svids`
//! entry, refreshed from its own token's lifetime (upstream's half-life rule, never sooner
//! than a second, so a token already past its expiry cannot spin the loop).

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use super::{
    Action, Exit, Fatal, JwtRejection, Pending, Report, Session, State, Subscription, Timer,
};
use crate::jwt;
use crate::proto::Jwtsvid;
use crate::time::{Instant, UnixTime};

/// Upstream refreshes a token one second after half its remaining life
/// (`pkg/sidecar/sidecar.go@v0.11.0`).
const REFRESH_SLACK: Duration = Duration::from_secs(1);

impl Session {
    /// A FetchJWTBundles message on row `i`: keep the keys, write the file.
    pub(super) fn on_jwt_bundles(
        &mut self,
        i: usize,
        now: Instant,
        bundles: BTreeMap<String, Vec<u8>>,
    ) {
        let entries = bundles.iter().map(|(k, v)| (k.as_str(), v.as_slice()));
        let keys = match jwt::parse_bundles(entries) {
            Ok(keys) => keys,
            Err(e) => return self.jwt_rejected(i, now, JwtRejection::BadBundles(e)),
        };
        let file = self
            .config
            .jwt_bundle
            .is_some()
            .then(|| jwt::render_bundle_file(&keys));
        // The bundle map changes with the JWT keys too (once an X.509 update gave its roots).
        let bundle_map = self
            .map_x509
            .as_ref()
            .map(|x509| crate::x509::encode_bundle_map(x509, Some(&keys)));
        self.jwt_bundles = Some(keys);
        for row in &mut self.rows {
            if row.state == State::WaitBundles {
                row.state = State::Idle;
            }
        }
        if let Some(file) = file {
            self.rows[i].pending = Some(Pending {
                expiry: None,
                spiffe_id: String::new(),
            });
            self.push(Action::WriteJwtBundle { file, bundle_map });
        } else if self.config.one_shot {
            // Opened only to verify the JWT-SVIDs: its work is done.
            self.output_done(i);
        }
    }

    /// The FetchJWTSVID response of row `i`: pick the token by hint, check its size, verify
    /// it against the JWT bundle of its subject's trust domain, check that the subject is
    /// the response's SPIFFE ID, write it.
    pub(super) fn on_jwt_svid(
        &mut self,
        i: usize,
        now: Instant,
        unix_now: UnixTime,
        svids: Vec<Jwtsvid>,
    ) {
        let Subscription::JwtSvid(n) = self.rows[i].sub else {
            return;
        };
        let hint = &self.config.hint;
        let chosen = svids
            .into_iter()
            .find(|s| hint.is_empty() || s.hint == *hint);
        let Some(chosen) = chosen else {
            return self.jwt_rejected(i, now, JwtRejection::HintNotFound);
        };
        if chosen.svid.len() > jwt::MAX_TOKEN_SIZE {
            let size = chosen.svid.len();
            return self.jwt_rejected(i, now, JwtRejection::TooLarge { size });
        }
        let empty = BTreeMap::new();
        // Rows open only once bundles have arrived; an empty set fails as "no bundle".
        let bundles = self.jwt_bundles.as_ref().unwrap_or(&empty);
        let audience = &self.config.jwt_svids[n].audience;
        match jwt::verify(&chosen.svid, bundles, audience, unix_now.as_secs()) {
            Ok(svid) if svid.id.as_str() != chosen.spiffe_id => {
                let sub = String::from(svid.id.as_str());
                let spiffe_id = chosen.spiffe_id;
                let error = JwtRejection::SubjectMismatch { sub, spiffe_id };
                self.jwt_rejected(i, now, error);
            }
            Ok(svid) => {
                let row = &mut self.rows[i];
                row.state = State::Writing;
                row.pending = Some(Pending {
                    expiry: Some(svid.expiry),
                    spiffe_id: String::from(svid.id.as_str()),
                });
                self.push(Action::WriteJwtSvid {
                    index: n,
                    token: chosen.svid,
                });
            }
            Err(e) => self.jwt_rejected(i, now, JwtRejection::Invalid(e)),
        }
    }

    /// The token of row `i`, expiring at `exp`, was written (or not): refresh it at half its
    /// remaining life, or retry on upstream's backoff.
    pub(super) fn jwt_svid_written(
        &mut self,
        i: usize,
        now: Instant,
        unix_now: UnixTime,
        exp: i64,
        ok: bool,
    ) {
        let row = &mut self.rows[i];
        if self.config.one_shot {
            return;
        }
        let at = if ok {
            row.backoff.reset();
            row.state = State::Refresh;
            now + refresh_delay(exp, unix_now)
        } else {
            row.state = State::Backoff;
            now + row.backoff.next_delay().unwrap_or(Duration::from_secs(60))
        };
        self.timers.set(Timer::Retry(i), at);
    }

    /// A JWT bundle or token that cannot be used: fatal in one-shot mode; in daemon mode the
    /// bundle waits for the next message and the token is asked for again after a backoff.
    fn jwt_rejected(&mut self, i: usize, now: Instant, error: JwtRejection) {
        let sub = self.rows[i].sub;
        if self.config.one_shot {
            return self.exit(Exit::Fatal(Fatal::JwtRejected(sub, error)));
        }
        let retry_in = match sub {
            Subscription::JwtSvid(_) => {
                let row = &mut self.rows[i];
                let delay = row.backoff.next_delay().unwrap_or(Duration::from_secs(60));
                row.state = State::Backoff;
                self.timers.set(Timer::Retry(i), now + delay);
                Some(delay)
            }
            _ => None,
        };
        self.report(Report::JwtRejected {
            sub,
            error,
            retry_in,
        });
    }
}

/// Half the token's remaining life plus a second, and at least a second.
fn refresh_delay(exp: i64, unix_now: UnixTime) -> Duration {
    let left_ms = unix_now.millis_until(UnixTime::from_secs(exp)).max(0);
    let half = Duration::from_millis(u64::try_from(left_ms / 2).unwrap_or(0));
    (half + REFRESH_SLACK).max(REFRESH_SLACK)
}
