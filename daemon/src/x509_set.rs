//! The files of one X.509 update as one set: upstream's three (SVID, key, bundle) and the
//! opt-in formats of issue 16 (credential bundle, SPIFFE bundle map, one bundle per trust
//! domain in `trust_bundle_dir`), and each `x509_svids` entry's own files. The bytes are
//! rendered by the core
//! (`svid_core::x509::render`); this module only names the files and hands them to
//! [`files::write_set_with_dirs`], so every format shares the set's guarantees.

use svid_core::x509::{Rendered, SvidFiles};

use crate::files::{self, Data, DirOutput, Output, WriteError};

/// Where the X.509 files go and with which modes.
pub struct X509Files {
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
    /// `x509_svids`: each entry's files, in the entries' order.
    pub entries: Vec<EntryFiles>,
    /// Mode of the SVID and bundle files.
    pub cert_mode: u32,
    /// Mode of the key file.
    pub key_mode: u32,
}

/// Where one `x509_svids` entry's files go (the modes are the set's).
pub struct EntryFiles {
    /// Its SVID (leaf and intermediates) file.
    pub svid: String,
    /// Its private key file.
    pub key: String,
    /// Its trust bundle file.
    pub bundle: String,
    /// Its credential bundle, if set.
    pub credential: Option<String>,
}

impl EntryFiles {
    /// The entry's file names, in the order written.
    fn names(&self) -> impl Iterator<Item = &String> {
        [&self.svid, &self.key, &self.bundle]
            .into_iter()
            .chain(&self.credential)
    }
}

impl X509Files {
    /// Every file name of the set that is known before an update (for the log and for
    /// cleaning up at start), in the order written.
    pub fn names(&self) -> Vec<&str> {
        [&self.svid, &self.key, &self.bundle]
            .into_iter()
            .chain(&self.credential)
            .chain(&self.bundle_map)
            .chain(self.entries.iter().flat_map(EntryFiles::names))
            .map(String::as_str)
            .collect()
    }
}

/// The names of the files `rendered` writes: [`X509Files::names`] without the files of an
/// entry whose hint the message lacks.
pub fn written_names<'a>(paths: &'a X509Files, rendered: &Rendered) -> Vec<&'a str> {
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
pub fn is_trust_domain_file(name: &str) -> bool {
    name.strip_suffix(".pem")
        .is_some_and(svid_core::x509::is_trust_domain_file_stem)
}

/// Writes every file of `rendered` that `paths` configures, as one set.
pub fn write(
    layout: files::Layout,
    paths: &X509Files,
    rendered: &Rendered,
) -> Result<(), WriteError> {
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
    use super::is_trust_domain_file;

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
