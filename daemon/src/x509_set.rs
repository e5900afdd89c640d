//! The files of one X.509 update as one set: upstream's three (SVID, key, bundle;
//! `pkg/disk/x509.go@v0.11.0`) and the
//! opt-in formats of issue 16 (credential bundle, SPIFFE bundle map, one bundle per trust
//! domain in `trust_bundle_dir`, PKCS#12 key and trust stores), and each `x509_svids`
//! entry's own files. The bytes are rendered by the core (`svid_core::x509::render`,
//! `svid_core::x509::pkcs12`); this module only names the files, supplies the PKCS#12 salts
//! and IVs from `getrandom(2)`, and hands the files to [`files::write_set_with_dirs`], so
//! every format shares the set's guarantees.

use std::fmt;
use std::io;
use std::path::Path;

use svid_core::x509::pkcs12::{EncodeError, RANDOM_LEN, Random};
use svid_core::x509::{Pkcs12Contents, Rendered, SvidFiles};

use crate::files::{self, Data, DirOutput, Output, WriteError};

/// Where the X.509 files go and with which modes.
pub(crate) struct X509Files {
    /// The SVID (leaf and intermediates) file.
    pub svid: String,
    /// The private key file.
    pub key: String,
    /// The trust bundle file.
    pub bundle: String,
    /// `svid_credential_bundle_file_name`: key, leaf and intermediates (mode `key_mode`).
    pub credential: Option<String>,
    /// `spiffe_bundle_map_file_name`: the SPIFFE bundle map (mode `cert_mode`).
    pub bundle_map: Option<String>,
    /// `trust_bundle_dir`: one `<trust-domain>.pem` per trust domain (mode `cert_mode`).
    pub trust_bundle_dir: Option<String>,
    /// The PKCS#12 stores (top-level names; each entry has its own), with their password:
    /// `Some` when `pkcs12_password_file` is set, which validation requires with any store.
    pub pkcs12: Option<Pkcs12>,
    /// `x509_svids`: each entry's files, in the entries' order.
    pub entries: Vec<EntryFiles>,
    /// Mode of the SVID and bundle files.
    pub cert_mode: u32,
    /// Mode of the key file.
    pub key_mode: u32,
}

/// Where one `x509_svids` entry's files go (the modes are the set's).
pub(crate) struct EntryFiles {
    /// Its SVID (leaf and intermediates) file.
    pub svid: String,
    /// Its private key file.
    pub key: String,
    /// Its trust bundle file.
    pub bundle: String,
    /// Its credential bundle, if set.
    pub credential: Option<String>,
    /// Its PKCS#12 stores, if set (with the set's password).
    pub pkcs12: Pkcs12Files,
}

impl EntryFiles {
    /// The entry's file names, in the order written.
    fn names(&self) -> impl Iterator<Item = &String> {
        [&self.svid, &self.key, &self.bundle]
            .into_iter()
            .chain(&self.credential)
            .chain(self.pkcs12.names())
    }
}

impl X509Files {
    /// Every file name of the set that is known before an update (for the log and for
    /// cleaning up at start), in the order written.
    pub(crate) fn names(&self) -> Vec<&str> {
        [&self.svid, &self.key, &self.bundle]
            .into_iter()
            .chain(&self.credential)
            .chain(&self.bundle_map)
            .chain(self.pkcs12.iter().flat_map(|p| p.files.names()))
            .chain(self.entries.iter().flat_map(EntryFiles::names))
            .map(String::as_str)
            .collect()
    }
}

/// The top-level PKCS#12 stores and the password of every store of the set.
#[derive(Clone)]
pub(crate) struct Pkcs12 {
    /// The default SVID's stores.
    pub files: Pkcs12Files,
    /// The password of every store, from `pkcs12_password_file`.
    pub password: Password,
}

/// One encoded PKCS#12 store and where it goes.
struct Store<'a> {
    path: &'a String,
    bytes: Vec<u8>,
    mode: u32,
}

/// Where one SVID's PKCS#12 stores go.
#[derive(Clone, Default)]
pub(crate) struct Pkcs12Files {
    /// `pkcs12_keystore_file_name`: the key and its chain (mode `key_mode`).
    pub keystore: Option<String>,
    /// `pkcs12_truststore_file_name`: the bundle's certificates (mode `cert_mode`).
    pub truststore: Option<String>,
}

impl Pkcs12Files {
    fn names(&self) -> impl Iterator<Item = &String> {
        self.keystore.iter().chain(&self.truststore)
    }

    /// Encodes the stores configured here from `contents`, each with fresh salts and IVs.
    fn encode(
        &self,
        contents: &Pkcs12Contents,
        password: &Password,
        paths: &X509Files,
    ) -> Result<Vec<Store<'_>>, WriteError> {
        let kinds: [(_, Encode, _); 2] = [
            (&self.keystore, Pkcs12Contents::keystore, paths.key_mode),
            (
                &self.truststore,
                Pkcs12Contents::truststore,
                paths.cert_mode,
            ),
        ];
        let mut stores = Vec::new();
        for (path, encode, mode) in kinds {
            if let Some(path) = path {
                let bytes = pkcs12_bytes(path, contents, encode, password)?;
                stores.push(Store { path, bytes, mode });
            }
        }
        Ok(stores)
    }
}

/// A PKCS#12 password; its `Debug` does not show it.
#[derive(Clone)]
pub(crate) struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

/// Why `pkcs12_password_file` gives no password. Never shows the file's contents.
#[derive(Debug)]
pub(crate) enum PasswordError {
    /// The file cannot be read.
    Read(String, io::Error),
    /// The file is not UTF-8 text (PKCS#12 encodes the password from characters, RFC 7292
    /// appendix B.1).
    NotUtf8(String),
}

impl fmt::Display for PasswordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read(path, e) => write!(f, "pkcs12_password_file {path:?}: cannot read: {e}"),
            Self::NotUtf8(path) => write!(f, "pkcs12_password_file {path:?}: not UTF-8 text"),
        }
    }
}

/// Reads the PKCS#12 password from `path` (as given, not joined to `cert_dir`): the whole
/// file but one final line ending (`\n` or `\r\n`), so that `echo secret > file` gives
/// `secret`. Nothing else is trimmed; an empty password is allowed.
pub(crate) fn read_password(path: &str) -> Result<Password, PasswordError> {
    let bytes = std::fs::read(path).map_err(|e| PasswordError::Read(path.to_owned(), e))?;
    let mut text = String::from_utf8(bytes).map_err(|_| PasswordError::NotUtf8(path.to_owned()))?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(Password(text))
}

/// [`Pkcs12Contents::keystore`] or [`Pkcs12Contents::truststore`].
type Encode = fn(&Pkcs12Contents, &str, &Random) -> Result<Vec<u8>, EncodeError>;

/// Encodes one PKCS#12 store with fresh salts and IVs from `getrandom(2)`.
fn pkcs12_bytes(
    path: &str,
    contents: &Pkcs12Contents,
    encode: Encode,
    password: &Password,
) -> Result<Vec<u8>, WriteError> {
    let mut random = [0u8; RANDOM_LEN];
    let filled = rustix::rand::getrandom(&mut random, rustix::rand::GetRandomFlags::empty())
        .map_err(|e| WriteError::new("getrandom", Path::new(path), e.into()))?;
    if filled != RANDOM_LEN {
        let short = io::Error::new(io::ErrorKind::UnexpectedEof, "short read");
        return Err(WriteError::new("getrandom", Path::new(path), short));
    }
    encode(contents, &password.0, &random).map_err(|e| {
        let e = io::Error::new(io::ErrorKind::InvalidData, e.to_string());
        WriteError::new("encode", Path::new(path), e)
    })
}

/// The names of the files `rendered` writes: [`X509Files::names`] without the files of an
/// entry whose hint the message lacks.
pub(crate) fn written_names<'a>(paths: &'a X509Files, rendered: &Rendered) -> Vec<&'a str> {
    let skipped: Vec<&String> = paths
        .entries
        .iter()
        .zip(&rendered.entries)
        .filter(|(_, entry)| entry.is_none())
        .flat_map(|(files, _)| files.names())
        .collect();
    paths
        .names()
        .into_iter()
        .filter(|name| !skipped.iter().any(|s| s.as_str() == *name))
        .collect()
}

/// Whether a `trust_bundle_dir` entry is one of the helper's `<trust-domain>.pem` files, by
/// the core's rule for the names it writes there.
pub(crate) fn is_trust_domain_file(name: &str) -> bool {
    name.strip_suffix(".pem")
        .is_some_and(svid_core::x509::is_trust_domain_file_stem)
}

/// Writes every file of `rendered` that `paths` configures, as one set.
pub(crate) fn write(
    layout: files::Layout,
    paths: &X509Files,
    rendered: &Rendered,
) -> Result<(), WriteError> {
    let mut stores = Vec::new();
    if let Some(p12) = &paths.pkcs12 {
        stores.extend(p12.files.encode(&rendered.pkcs12, &p12.password, paths)?);
        for (files, entry) in paths.entries.iter().zip(&rendered.entries) {
            if let Some(entry) = entry {
                stores.extend(files.pkcs12.encode(&entry.pkcs12, &p12.password, paths)?);
            }
        }
    }
    let mut outputs = vec![
        Output {
            path: &paths.svid,
            data: Data::Bytes(&rendered.svid_pem),
            mode: paths.cert_mode,
        },
        Output {
            path: &paths.key,
            data: Data::Bytes(&rendered.key_pem),
            mode: paths.key_mode,
        },
        Output {
            path: &paths.bundle,
            data: Data::PemCertificates(&rendered.bundle_certs),
            mode: paths.cert_mode,
        },
    ];
    if let Some(path) = &paths.credential {
        outputs.push(Output {
            path,
            data: Data::Bytes(&rendered.credential_pem),
            mode: paths.key_mode,
        });
    }
    // An empty map is one still waiting for the JWT bundles: it is written with them.
    if let Some(path) = paths
        .bundle_map
        .as_ref()
        .filter(|_| !rendered.bundle_map.is_empty())
    {
        outputs.push(Output {
            path,
            data: Data::Bytes(&rendered.bundle_map),
            mode: paths.cert_mode,
        });
    }
    outputs.extend(stores.iter().map(|store| Output {
        path: store.path,
        data: Data::Bytes(&store.bytes),
        mode: store.mode,
    }));
    // An entry whose hint the message lacks is not in the set: its files stay as they are.
    for (files, entry) in paths.entries.iter().zip(&rendered.entries) {
        if let Some(entry) = entry {
            outputs.extend(entry_outputs(files, entry, paths));
        }
    }
    let dirs: Vec<DirOutput<'_>> = paths
        .trust_bundle_dir
        .iter()
        .map(|path| DirOutput {
            path,
            files: rendered
                .trust_domain_bundles
                .iter()
                .map(|b| {
                    let name = format!("{}.pem", b.trust_domain);
                    (name, Data::PemCertificates(&b.certs))
                })
                .collect(),
            mode: paths.cert_mode,
            managed: is_trust_domain_file,
        })
        .collect();
    files::write_set_with_dirs(layout, &outputs, &dirs)
}

/// The outputs of one `x509_svids` entry, with the set's modes.
fn entry_outputs<'a>(
    files: &'a EntryFiles,
    entry: &'a SvidFiles,
    paths: &X509Files,
) -> impl Iterator<Item = Output<'a>> {
    let (cert_mode, key_mode) = (paths.cert_mode, paths.key_mode);
    let output = move |path: &'a String, data, mode| Output { path, data, mode };
    [
        output(&files.svid, Data::Bytes(&entry.svid_pem), cert_mode),
        output(&files.key, Data::Bytes(&entry.key_pem), key_mode),
        output(
            &files.bundle,
            Data::PemCertificates(&entry.bundle_certs),
            cert_mode,
        ),
    ]
    .into_iter()
    .chain(
        files
            .credential
            .iter()
            .map(move |path| output(path, Data::Bytes(&entry.credential_pem), key_mode)),
    )
}

#[cfg(test)]
mod tests {
    use super::{PasswordError, is_trust_domain_file, read_password};

    #[test]
    fn the_password_is_the_file_but_one_final_line_ending() {
        let file = std::env::temp_dir().join(format!("p12-password-{}", std::process::id()));
        let path = file.to_str().unwrap();
        for (text, password) in [
            (&b"secret\n"[..], "secret"),
            (b"secret\r\n", "secret"),
            (b"secret", "secret"),
            (b"secret\n\n", "secret\n"),
            (b"secret\r", "secret\r"),
            (b" pass word \t\n", " pass word \t"),
            (b"\n", ""),
            (b"", ""),
            ("pässwörd\n".as_bytes(), "pässwörd"),
        ] {
            std::fs::write(path, text).unwrap();
            assert_eq!(read_password(path).unwrap().0, password, "{text:?}");
        }
        std::fs::write(path, b"s\xffcret").unwrap();
        let error = read_password(path).unwrap_err();
        assert!(matches!(error, PasswordError::NotUtf8(_)));
        assert_eq!(
            error.to_string(),
            format!("pkcs12_password_file {path:?}: not UTF-8 text")
        );
        let missing = format!("{path}.missing");
        let error = read_password(&missing).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("pkcs12_password_file {missing:?}: cannot read: ")),
            "{error}"
        );
        std::fs::remove_file(&file).unwrap();
    }

    #[test]
    fn only_trust_domain_pem_files_are_managed() {
        for name in ["example.org.pem", "a-b_c.0.pem", "..x.pem"] {
            assert_eq!(is_trust_domain_file(name), !name.starts_with('.'), "{name}");
        }
        for name in [
            ".pem",
            "README",
            "Upper.pem",
            "ca.crt",
            ".x.pem.12.3.tmp",
            "a b.pem",
        ] {
            assert!(!is_trust_domain_file(name), "{name}");
        }
    }
}
