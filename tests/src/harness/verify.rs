//! Checks of written SVID files through real consumers: the `openssl` command line and Python's
//! `ssl` module (`tests/scripts/tls_pair.py`). Our own parsers are never used here.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Splits a PEM file into its `CERTIFICATE` blocks, each returned as a complete PEM block.
pub fn split_certificates(pem: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in pem.lines() {
        let line = line.trim_end();
        if line == "-----BEGIN CERTIFICATE-----" {
            current = Some(String::new());
        }
        if let Some(block) = current.as_mut() {
            block.push_str(line);
            block.push('\n');
        }
        if line == "-----END CERTIFICATE-----" {
            blocks.extend(current.take());
        }
    }
    blocks
}

/// Runs `openssl <args>`; `Ok(stdout)` when it exits 0, else `Err` with its output.
pub fn openssl<I, S>(args: I) -> Result<String, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    super::platform::run(Command::new("openssl").args(args))
}

/// Runs `openssl <args> -in <path>`.
fn openssl_in(args: &[&str], path: &Path) -> Result<String, String> {
    openssl(
        args.iter()
            .map(OsStr::new)
            .chain([OsStr::new("-in"), path.as_os_str()]),
    )
}

/// The paths of one SVID file set.
#[derive(Clone, Debug)]
pub struct SvidFiles {
    /// Leaf then intermediates, PEM.
    pub svid: PathBuf,
    /// PKCS#8 `PRIVATE KEY`, PEM.
    pub key: PathBuf,
    /// Root CA(s), PEM.
    pub bundle: PathBuf,
}

impl SvidFiles {
    /// `svid.pem`, `svid_key.pem`, `svid_bundle.pem` in `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            svid: dir.join("svid.pem"),
            key: dir.join("svid_key.pem"),
            bundle: dir.join("svid_bundle.pem"),
        }
    }

    fn read(path: &Path) -> Result<String, String> {
        std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))
    }

    /// The certificates of the SVID file, leaf first.
    pub fn chain(&self) -> Result<Vec<String>, String> {
        Ok(split_certificates(&Self::read(&self.svid)?))
    }

    /// Writes the leaf and the intermediates of the SVID file to separate files in `scratch`
    /// and returns their paths (the intermediates file is `None` without intermediates).
    fn split_into(&self, scratch: &Path) -> Result<(PathBuf, Option<PathBuf>), String> {
        let chain = self.chain()?;
        let (leaf, intermediates) = chain
            .split_first()
            .ok_or_else(|| format!("{} holds no certificate", self.svid.display()))?;
        let write = |name: &str, text: &str| {
            let path = scratch.join(name);
            std::fs::write(&path, text).map_err(|e| format!("writing {name}: {e}"))?;
            Ok::<_, String>(path)
        };
        let leaf = write("leaf.pem", leaf)?;
        let intermediates = if intermediates.is_empty() {
            None
        } else {
            Some(write("intermediates.pem", &intermediates.concat())?)
        };
        Ok((leaf, intermediates))
    }

    /// `openssl verify -x509_strict -CAfile <bundle> [-untrusted <intermediates>] <leaf>`.
    pub fn verify_chain(&self) -> Result<(), String> {
        let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
        let (leaf, intermediates) = self.split_into(scratch.path())?;
        let mut args: Vec<&OsStr> = ["verify", "-x509_strict", "-CAfile"].map(OsStr::new).into();
        args.push(self.bundle.as_os_str());
        if let Some(intermediates) = &intermediates {
            args.extend([OsStr::new("-untrusted"), intermediates.as_os_str()]);
        }
        args.push(leaf.as_os_str());
        let out = openssl(args)?;
        let expected = format!("{}: OK", leaf.display());
        if out.trim() == expected {
            Ok(())
        } else {
            Err(format!(
                "openssl verify said {out:?}, expected {expected:?}"
            ))
        }
    }

    /// The leaf's public key (`openssl x509 -pubkey`) equals the key file's
    /// (`openssl pkey -pubout`).
    pub fn key_matches_leaf(&self) -> Result<(), String> {
        let from_leaf = openssl_in(&["x509", "-noout", "-pubkey"], &self.svid)?;
        let from_key = openssl_in(&["pkey", "-pubout"], &self.key)?;
        if from_leaf == from_key {
            Ok(())
        } else {
            Err(format!(
                "leaf public key\n{from_leaf}differs from key file's\n{from_key}"
            ))
        }
    }

    /// The key file is a PEM `PRIVATE KEY` (PKCS#8) block.
    pub fn key_is_pkcs8(&self) -> Result<(), String> {
        let text = Self::read(&self.key)?;
        if text.starts_with("-----BEGIN PRIVATE KEY-----\n")
            && text.ends_with("-----END PRIVATE KEY-----\n")
        {
            Ok(())
        } else {
            Err(format!(
                "{} is not one PRIVATE KEY block:\n{text}",
                self.key.display()
            ))
        }
    }

    /// The leaf's serial as `openssl x509 -noout -serial` prints it (upper-case hex).
    pub fn leaf_serial(&self) -> Result<String, String> {
        let out = openssl_in(&["x509", "-noout", "-serial"], &self.svid)?;
        out.trim()
            .strip_prefix("serial=")
            .map(str::to_owned)
            .ok_or_else(|| format!("unexpected openssl -serial output {out:?}"))
    }

    /// The leaf's URI SANs, from `openssl x509 -noout -ext subjectAltName`.
    pub fn leaf_uri_sans(&self) -> Result<Vec<String>, String> {
        uri_sans_in(&self.svid)
    }

    /// The URI SANs of every certificate of the bundle file, in file order.
    pub fn bundle_uri_sans(&self) -> Result<Vec<Vec<String>>, String> {
        let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = scratch.path().join("cert.pem");
        split_certificates(&Self::read(&self.bundle)?)
            .iter()
            .map(|block| {
                std::fs::write(&path, block).map_err(|e| e.to_string())?;
                uri_sans_in(&path)
            })
            .collect()
    }

    /// Completes an mTLS handshake between two Python `ssl` contexts (server and client) that
    /// both load these files, as the seed lab's Python apps do. Returns the script's report.
    pub fn python_mtls(&self) -> Result<String, String> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/tls_pair.py");
        super::platform::run(Command::new("python3").arg(script).args([
            &self.svid,
            &self.key,
            &self.bundle,
        ]))
    }
}

/// The URI SANs of the first certificate in the PEM file at `path`.
fn uri_sans_in(path: &Path) -> Result<Vec<String>, String> {
    let out = openssl_in(&["x509", "-noout", "-ext", "subjectAltName"], path)?;
    Ok(out
        .split([',', '\n'])
        .filter_map(|item| item.trim().strip_prefix("URI:"))
        .map(str::to_owned)
        .collect())
}

/// The permission bits (`0o777` part) of `path`.
pub fn file_mode(path: &Path) -> std::io::Result<u32> {
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o777)
}

/// The base64 bodies of every PEM block in `pem`, whitespace removed: equal for two files that
/// hold the same certificates in the same order, whatever their line layout.
pub fn pem_bodies(pem: &str) -> Vec<String> {
    split_certificates(pem)
        .iter()
        .map(|block| {
            block
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = "junk before\n-----BEGIN CERTIFICATE-----\nQUJD\nREVG\n-----END CERTIFICATE-----\n\
        -----BEGIN PRIVATE KEY-----\nS0VZ\n-----END PRIVATE KEY-----\n\
        -----BEGIN CERTIFICATE-----\r\nR0hJ\r\n-----END CERTIFICATE-----\r\n";

    #[test]
    fn splits_only_certificate_blocks() {
        let blocks = split_certificates(TWO);
        assert_eq!(
            blocks,
            [
                "-----BEGIN CERTIFICATE-----\nQUJD\nREVG\n-----END CERTIFICATE-----\n",
                "-----BEGIN CERTIFICATE-----\nR0hJ\n-----END CERTIFICATE-----\n",
            ]
        );
        assert_eq!(pem_bodies(TWO), ["QUJDREVG", "R0hJ"]);
        assert!(split_certificates("-----BEGIN CERTIFICATE-----\nQUJD\n").is_empty());
    }
}
