//! The set writes of both layouts, their rollback and the clean-up of leftovers, on the real
//! file system (each test in its own directory under the temporary directory).

use super::symlinked::{DATA, DATA_TMP, is_version_name, version_stamp};
use super::*;

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("files-test-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn set<'a>(paths: &'a [String; 3], data: &'a [&'a [u8]; 3]) -> [Output<'a>; 3] {
    [0, 1, 2].map(|i| Output {
        path: &paths[i],
        data: Data::Bytes(data[i]),
        mode: if i == 1 { 0o600 } else { 0o644 },
    })
}

fn paths(dir: &Path) -> [String; 3] {
    ["svid.pem", "svid_key.pem", "svid_bundle.pem"]
        .map(|n| dir.join(n).to_string_lossy().into_owned())
}

#[test]
fn writes_content_and_exact_modes_every_time() {
    for layout in [Layout::Plain, Layout::Symlinked] {
        let dir = temp_dir(&format!("modes-{layout:?}"));
        let a = dir.join("a.pem").to_string_lossy().into_owned();
        let b = dir.join("b.pem").to_string_lossy().into_owned();
        for (round, mode) in [(1u8, 0o600u32), (2, 0o644)] {
            let data = vec![round; 10];
            write_set(
                layout,
                &[
                    Output {
                        path: &a,
                        data: Data::Bytes(&data),
                        mode,
                    },
                    Output {
                        path: &b,
                        data: Data::Bytes(b"key"),
                        mode: 0o640,
                    },
                ],
            )
            .unwrap();
            assert_eq!(fs::read(&a).unwrap(), data);
            assert_eq!(fs::metadata(&a).unwrap().permissions().mode() & 0o777, mode);
            assert_eq!(
                fs::metadata(&b).unwrap().permissions().mode() & 0o777,
                0o640
            );
        }
        let want = match layout {
            Layout::Plain => 2,
            Layout::Symlinked => 4, // a.pem, b.pem, ..data and one version
        };
        assert_eq!(names(&dir).len(), want, "{layout:?}: {:?}", names(&dir));
        fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn pem_certificates_are_streamed_to_the_text_of_the_whole() {
    // 300 "certificates" of 700 bytes: about 280 kB of PEM, several 64 KiB pieces.
    let certs: Vec<svid_core::Bytes> = (0..300u32)
        .map(|i| {
            (0..700)
                .map(|j| (i * 7 + j) as u8)
                .collect::<Vec<u8>>()
                .into()
        })
        .collect();
    let mut whole = Vec::new();
    for der in &certs {
        pem::encode(pem::CERTIFICATE, der, &mut whole);
    }
    for layout in [Layout::Plain, Layout::Symlinked] {
        let dir = temp_dir(&format!("stream-{layout:?}"));
        let path = dir.join("bundle.pem").to_string_lossy().into_owned();
        let out = Output {
            path: &path,
            data: Data::PemCertificates(&certs),
            mode: 0o644,
        };
        write_set(layout, &[out]).unwrap();
        assert_eq!(fs::read(&path).unwrap(), whole, "{layout:?}");
        fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn failure_while_staging_leaves_previous_files_untouched() {
    let dir = temp_dir("fail");
    let good = dir.join("svid.pem").to_string_lossy().into_owned();
    let one = |data: &'static [u8]| Output {
        path: &good,
        data: Data::Bytes(data),
        mode: 0o644,
    };
    write_set(Layout::Plain, &[one(b"old")]).unwrap();
    let missing = dir
        .join("no-such-dir/key.pem")
        .to_string_lossy()
        .into_owned();
    let err = write_set(
        Layout::Plain,
        &[
            one(b"new"),
            Output {
                path: &missing,
                data: Data::Bytes(b"k"),
                mode: 0o600,
            },
        ],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("open {missing}: no such file or directory")
    );
    assert_eq!(fs::read(&good).unwrap(), b"old");
    assert_eq!(names(&dir), ["svid.pem"], "temporary and backup removed");
    fs::remove_dir_all(dir).unwrap();
}

/// A non-empty directory in place of one file makes its rename fail for real (EISDIR);
/// the files renamed before it are put back, whichever file of the set fails.
#[test]
fn a_failed_rename_of_any_file_restores_the_old_set() {
    for failing in 0..3 {
        let dir = temp_dir(&format!("rollback-{failing}"));
        let p = paths(&dir);
        write_set(
            Layout::Plain,
            &set(&p, &[b"old-svid", b"old-key", b"old-bundle"]),
        )
        .unwrap();
        fs::remove_file(&p[failing]).unwrap();
        fs::create_dir(&p[failing]).unwrap();
        fs::write(Path::new(&p[failing]).join("x"), b"x").unwrap();
        let before = names(&dir);
        let err = write_set(
            Layout::Plain,
            &set(&p, &[b"new-svid", b"new-key", b"new-bundle"]),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("rename ")
                && text.ends_with(&format!("{}: is a directory", p[failing])),
            "{text}"
        );
        for (i, old) in [&b"old-svid"[..], b"old-key", b"old-bundle"]
            .iter()
            .enumerate()
        {
            if i != failing {
                assert_eq!(
                    fs::read(&p[i]).unwrap(),
                    *old,
                    "file {i}, failing {failing}"
                );
            }
        }
        assert_eq!(names(&dir), before, "no temporaries or backups left");
        fs::remove_dir_all(dir).unwrap();
    }
}

/// With no previous set, a failure removes the new files already renamed.
#[test]
fn a_failed_first_write_leaves_no_new_files() {
    let dir = temp_dir("rollback-first");
    let p = paths(&dir);
    fs::create_dir(&p[2]).unwrap();
    fs::write(Path::new(&p[2]).join("x"), b"x").unwrap();
    write_set(Layout::Plain, &set(&p, &[b"svid", b"key", b"bundle"])).unwrap_err();
    assert_eq!(names(&dir), ["svid_bundle.pem"]);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn replaces_a_symlink_instead_of_writing_through_it() {
    for layout in [Layout::Plain, Layout::Symlinked] {
        let dir = temp_dir(&format!("link-{layout:?}"));
        let real = dir.join("real.pem");
        fs::write(&real, b"precious").unwrap();
        let link = dir.join("svid.pem");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let path = link.to_string_lossy().into_owned();
        write_set(
            layout,
            &[Output {
                path: &path,
                data: Data::Bytes(b"svid"),
                mode: 0o644,
            }],
        )
        .unwrap();
        assert_eq!(fs::read(&real).unwrap(), b"precious");
        assert_eq!(fs::read(&link).unwrap(), b"svid");
        let kind = fs::symlink_metadata(&link).unwrap().file_type();
        match layout {
            Layout::Plain => assert!(!kind.is_symlink()),
            Layout::Symlinked => {
                assert_eq!(fs::read_link(&link).unwrap(), Path::new("..data/svid.pem"))
            }
        }
        fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn symlinked_layout_swaps_one_version_and_keeps_other_files() {
    let dir = temp_dir("versions");
    let p = paths(&dir);
    write_set(Layout::Symlinked, &set(&p, &[b"s1", b"k1", b"b1"])).unwrap();
    let first = fs::read_link(dir.join(DATA)).unwrap();
    assert!(is_version_name(first.to_str().unwrap()), "{first:?}");
    let jwt = dir.join("jwt.token").to_string_lossy().into_owned();
    write_set(
        Layout::Symlinked,
        &[Output {
            path: &jwt,
            data: Data::Bytes(b"token"),
            mode: 0o600,
        }],
    )
    .unwrap();
    write_set(Layout::Symlinked, &set(&p, &[b"s2", b"k2", b"b2"])).unwrap();
    let last = fs::read_link(dir.join(DATA)).unwrap();
    assert_ne!(first, last);
    for (path, want) in p.iter().zip([b"s2", b"k2", b"b2"]) {
        assert_eq!(fs::read(path).unwrap(), want);
        let link = fs::read_link(path).unwrap();
        assert!(link.starts_with(DATA), "{link:?}");
    }
    assert_eq!(fs::read(&jwt).unwrap(), b"token", "kept across versions");
    let key = dir.join(&last).join("svid_key.pem");
    assert_eq!(
        fs::metadata(key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let mut want = vec![
        DATA.to_owned(),
        last.to_string_lossy().into_owned(),
        "jwt.token".into(),
        "svid.pem".into(),
        "svid_bundle.pem".into(),
        "svid_key.pem".into(),
    ];
    want.sort();
    assert_eq!(names(&dir), want, "old versions removed");
    fs::remove_dir_all(dir).unwrap();
}

/// The symlinked layout's `..data` and versions go once it is off; a `..data` that is
/// not ours (it points to no versioned name) stays, and so does everything else; if an
/// output cannot be copied out, nothing is removed, so no output is left dangling.
#[test]
fn the_symlinked_layout_is_undone_only_where_it_is_ours() {
    let dir = temp_dir("undo-symlinked");
    let p = paths(&dir);
    write_set(Layout::Symlinked, &set(&p, &[b"s", b"k", b"b"])).unwrap();
    let version = dir.join(fs::read_link(dir.join(DATA)).unwrap());
    let refs: Vec<&str> = p.iter().map(String::as_str).collect();
    // The key cannot be copied out (its file is gone from the version): nothing goes.
    let key = version.join("svid_key.pem");
    fs::rename(&key, dir.join("key.aside")).unwrap();
    let partial = clean_leftovers(Layout::Plain, &[&refs]);
    assert!(partial.other_layout.is_empty(), "{partial:?}");
    assert!(version.exists() && fs::read_link(&p[1]).is_ok());
    fs::rename(dir.join("key.aside"), &key).unwrap();
    for path in &partial.unlinked {
        // Copied out before the key failed; a symlink again, as the layout had it.
        fs::remove_file(path).unwrap();
        let name = path.file_name().unwrap();
        std::os::unix::fs::symlink(Path::new(DATA).join(name), path).unwrap();
    }

    let done = clean_leftovers(Layout::Plain, &[&refs]);
    assert_eq!(done.unlinked.len(), 3, "{done:?}");
    assert_eq!(done.other_layout, [dir.join(DATA), version.clone()]);
    for (path, want) in p.iter().zip([b"s", b"k", b"b"]) {
        assert!(fs::symlink_metadata(path).unwrap().is_file());
        assert_eq!(fs::read(path).unwrap(), want);
    }
    let mode = fs::metadata(&p[1]).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(names(&dir), ["svid.pem", "svid_bundle.pem", "svid_key.pem"]);

    // A `..data` of someone else's.
    std::os::unix::fs::symlink("elsewhere", dir.join(DATA)).unwrap();
    let done = clean_leftovers(Layout::Plain, &[&refs]);
    assert!(done.other_layout.is_empty() && done.unlinked.is_empty());
    assert!(fs::symlink_metadata(dir.join(DATA)).is_ok());
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn leftovers_of_a_killed_helper_are_removed_and_nothing_else() {
    let dir = temp_dir("leftovers");
    let p = paths(&dir);
    write_set(Layout::Symlinked, &set(&p, &[b"s", b"k", b"b"])).unwrap();
    let current = fs::read_link(dir.join(DATA)).unwrap();
    let junk = [
        ".svid.pem.123.4.tmp",
        ".svid_key.pem.77.0.old",
        ".svid_bundle.pem.1.2.tmp",
    ];
    let keep = [
        ".svid.pem.x.tmp",
        ".other.pem.1.2.tmp",
        "svid.pem.1.2.tmp",
        ".svid.pem.1.2.tmp.bak",
    ];
    for name in junk.iter().chain(&keep) {
        fs::write(dir.join(name), b"secret").unwrap();
    }
    let stale = dir.join(version_stamp(1_700_000_000, 5));
    fs::create_dir(&stale).unwrap();
    fs::write(stale.join("svid_key.pem"), b"old key").unwrap();
    std::os::unix::fs::symlink(&current, dir.join(DATA_TMP)).unwrap();
    fs::create_dir(dir.join("..not-ours")).unwrap();

    let refs: Vec<&str> = p.iter().map(String::as_str).collect();
    let done = clean_leftovers(Layout::Symlinked, &[&refs]);
    assert!(done.restored.is_empty());
    assert_eq!(done.removed.len(), junk.len() + 2, "{done:?}");
    let left = names(&dir);
    for name in junk {
        assert!(!left.contains(&name.to_owned()), "{name} left");
    }
    for name in keep {
        assert!(left.contains(&name.to_owned()), "{name} removed");
    }
    assert!(!stale.exists() && !dir.join(DATA_TMP).exists());
    assert!(dir.join("..not-ours").exists());
    assert_eq!(fs::read(&p[1]).unwrap(), b"k", "the current version stays");
    fs::remove_dir_all(dir).unwrap();
}

/// The states a SIGKILL can leave a plain write in, rebuilt by hand (the crash test
/// in tests/tests/e2e_writes.rs kills the real binary).
#[test]
fn a_write_killed_between_renames_is_rolled_back_at_start() {
    let dir = temp_dir("restore");
    let p = paths(&dir);
    let refs: Vec<&str> = p.iter().map(String::as_str).collect();
    let old: [&[u8]; 3] = [b"old-svid", b"old-key", b"old-bundle"];
    let pid = 4242;
    // Killed after renaming svid.pem and the key, before the bundle: all backups there.
    for (i, path) in p.iter().enumerate() {
        let name = Path::new(path).file_name().unwrap().to_str().unwrap();
        fs::write(dir.join(format!(".{name}.{pid}.{}.old", 2 * i + 1)), old[i]).unwrap();
        if i < 2 {
            fs::write(path, b"new").unwrap();
        } else {
            fs::write(path, old[i]).unwrap();
            fs::write(dir.join(format!(".{name}.{pid}.{}.tmp", 2 * i)), b"new").unwrap();
        }
    }
    let done = clean_leftovers(Layout::Plain, &[&refs]);
    assert_eq!(done.restored.len(), 3, "{done:?}");
    for (path, want) in p.iter().zip(old) {
        assert_eq!(fs::read(path).unwrap(), want);
    }
    assert_eq!(names(&dir).len(), 3, "{:?}", names(&dir));

    // Killed while removing backups (svid.pem's already gone): the new set stays.
    for (i, path) in p.iter().enumerate() {
        fs::write(path, b"new").unwrap();
        if i > 0 {
            let name = Path::new(path).file_name().unwrap().to_str().unwrap();
            fs::write(dir.join(format!(".{name}.{pid}.{}.old", 2 * i + 1)), old[i]).unwrap();
        }
    }
    let done = clean_leftovers(Layout::Plain, &[&refs]);
    assert!(
        done.restored.is_empty() && done.removed.len() == 2,
        "{done:?}"
    );
    for path in &p {
        assert_eq!(fs::read(path).unwrap(), b"new");
    }
    fs::remove_dir_all(dir).unwrap();
}

fn pem_names(name: &str) -> bool {
    name.ends_with(".pem")
}

fn bundles<'a>(path: &'a str, tds: &[&str], data: &'a [u8]) -> DirOutput<'a> {
    DirOutput {
        path,
        files: tds
            .iter()
            .map(|td| (format!("{td}.pem"), Data::Bytes(data)))
            .collect(),
        mode: 0o644,
        managed: pem_names,
    }
}

/// Plain layout: the directory's files are written with the set, managed files of
/// domains that are gone are removed, other entries are left alone; a failure elsewhere
/// in the set puts the removed file back.
#[test]
fn a_directory_of_the_set_drops_stale_files_and_rolls_back_with_it() {
    let dir = temp_dir("dir-plain");
    let sub = dir.join("bundles");
    fs::create_dir(&sub).unwrap();
    let sub_path = sub.to_string_lossy().into_owned();
    let p = paths(&dir);
    fs::write(sub.join("gone.test.pem"), b"old gone").unwrap();
    fs::write(sub.join("README"), b"mine").unwrap();
    write_set_with_dirs(
        Layout::Plain,
        &set(&p, &[b"s1", b"k1", b"b1"]),
        &[bundles(&sub_path, &["a.test", "b.test"], b"v1")],
    )
    .unwrap();
    assert_eq!(names(&sub), ["README", "a.test.pem", "b.test.pem"]);

    fs::write(sub.join("gone.test.pem"), b"old gone").unwrap();
    fs::remove_file(&p[2]).unwrap();
    fs::create_dir(&p[2]).unwrap();
    fs::write(Path::new(&p[2]).join("x"), b"x").unwrap();
    write_set_with_dirs(
        Layout::Plain,
        &set(&p, &[b"s2", b"k2", b"b2"]),
        &[bundles(&sub_path, &["a.test"], b"v2")],
    )
    .unwrap_err();
    assert_eq!(
        names(&sub),
        ["README", "a.test.pem", "b.test.pem", "gone.test.pem"]
    );
    assert_eq!(fs::read(sub.join("a.test.pem")).unwrap(), b"v1");
    assert_eq!(fs::read(sub.join("gone.test.pem")).unwrap(), b"old gone");
    assert_eq!(fs::read(&p[0]).unwrap(), b"s1");
    fs::remove_dir_all(dir).unwrap();
}

/// Symlinked layout: the directory is part of the version (one rename publishes it
/// with the files), and a later write of other files keeps it.
#[test]
fn a_directory_of_the_set_is_part_of_the_version() {
    let dir = temp_dir("dir-symlinked");
    let sub_path = dir.join("bundles").to_string_lossy().into_owned();
    let p = paths(&dir);
    for (round, tds) in [(b"1", &["a.test", "b.test"][..]), (b"2", &["a.test"][..])] {
        write_set_with_dirs(
            Layout::Symlinked,
            &set(&p, &[round, round, round]),
            &[bundles(&sub_path, tds, round)],
        )
        .unwrap();
    }
    assert_eq!(
        fs::read_link(&sub_path).unwrap(),
        Path::new("..data/bundles")
    );
    assert_eq!(names(Path::new(&sub_path)), ["a.test.pem"]);
    let version = dir.join(fs::read_link(dir.join(DATA)).unwrap());
    let meta = fs::metadata(version.join("bundles")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o755);
    let jwt = dir.join("jwt.token").to_string_lossy().into_owned();
    let token = Output {
        path: &jwt,
        data: Data::Bytes(b"token"),
        mode: 0o600,
    };
    write_set(Layout::Symlinked, &[token]).unwrap();
    assert_eq!(
        fs::read(Path::new(&sub_path).join("a.test.pem")).unwrap(),
        b"2"
    );
    assert_eq!(fs::read(&p[0]).unwrap(), b"2");
    fs::remove_dir_all(dir).unwrap();
}

/// A plain write killed between its renames: the directory's backups of the same
/// process come back with the set, other leftovers go.
#[test]
fn a_killed_write_of_a_directory_is_rolled_back_at_start() {
    let dir = temp_dir("dir-restore");
    let sub = dir.join("bundles");
    fs::create_dir(&sub).unwrap();
    let sub_path = sub.to_string_lossy().into_owned();
    fs::write(sub.join(".gone.test.pem.42.7.old"), b"removed by the kill").unwrap();
    fs::write(sub.join(".a.test.pem.42.5.old"), b"old a").unwrap();
    fs::write(sub.join("a.test.pem"), b"new a").unwrap();
    fs::write(sub.join(".b.test.pem.42.6.tmp"), b"new b").unwrap();
    fs::write(sub.join(".c.test.pem.41.1.old"), b"older kill").unwrap();
    fs::write(sub.join(".notes.7.1.old"), b"not managed").unwrap();
    // Killed while staging: the backup is still a link to the target itself.
    fs::write(sub.join("b.test.pem"), b"current b").unwrap();
    fs::hard_link(sub.join("b.test.pem"), sub.join(".b.test.pem.42.8.old")).unwrap();
    let done = clean_dir_leftovers(&sub_path, pem_names, Some("42"));
    assert_eq!(done.restored.len(), 2, "{done:?}");
    assert_eq!(done.removed.len(), 3, "{done:?}");
    assert_eq!(fs::read(sub.join("b.test.pem")).unwrap(), b"current b");
    assert_eq!(fs::read(sub.join("a.test.pem")).unwrap(), b"old a");
    assert_eq!(
        fs::read(sub.join("gone.test.pem")).unwrap(),
        b"removed by the kill"
    );
    assert_eq!(
        names(&sub),
        [
            ".notes.7.1.old",
            "a.test.pem",
            "b.test.pem",
            "gone.test.pem"
        ]
    );
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn version_names_sort_by_time() {
    assert_eq!(
        version_stamp(1_796_032_800, 123_000_000),
        "..2026_11_30_10_00_00.123000000"
    );
    assert!(is_version_name(&version_stamp(0, 0)));
    assert!(!is_version_name(DATA) && !is_version_name(DATA_TMP));
}

/// A rename that failed and a rollback that failed too read as Go's `*os.LinkError` followed
/// by each target left unrestored; the OS error is the error's source.
#[test]
fn a_failed_rollback_names_each_target_after_the_error() {
    let enoent = || io::Error::from_raw_os_error(2);
    let mut err = WriteError::two(
        "rename",
        Path::new("certs/.svid.pem.7.0.tmp"),
        Path::new("certs/svid.pem"),
        io::Error::from_raw_os_error(21),
    );
    err.rollback = ["certs/svid_key.pem", "certs/bundle.pem"]
        .map(|target| RestoreFailure {
            target: PathBuf::from(target),
            source: enoent(),
        })
        .into();
    assert_eq!(
        err.to_string(),
        "rename certs/.svid.pem.7.0.tmp certs/svid.pem: is a directory; could not restore \
         certs/svid_key.pem: no such file or directory; could not restore certs/bundle.pem: \
         no such file or directory"
    );
    let source = std::error::Error::source(&err).and_then(|e| e.downcast_ref::<io::Error>());
    assert_eq!(source.and_then(io::Error::raw_os_error), Some(21));
}
