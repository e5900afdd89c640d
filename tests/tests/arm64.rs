//! The static aarch64 binary (`aarch64-unknown-linux-musl`) under `qemu-aarch64-static`
//! against the development agent: it writes, rotates and keeps consistent files that OpenSSL
//! and Python `ssl` accept. `scripts/test.sh` also runs the whole end-to-end suite with this
//! binary (`SPIFFE_HELPER_BIN` set to a qemu wrapper). Skips, saying why, without qemu.

use std::process::Command;
use svid_tests::harness::platform::{skip, static_helper, unavailable};
use svid_tests::{DevAgent, Helper, PATIENCE, SvidFiles, helper_dir, wait_until, x509_config};

const TRIPLE: &str = "aarch64-unknown-linux-musl";
/// `e_machine` of an ELF header for AArch64.
const EM_AARCH64: u16 = 183;

#[test]
fn aarch64_binary_under_qemu_writes_and_rotates_verified_files() {
    let test = "aarch64_binary_under_qemu_writes_and_rotates_verified_files";
    let binary = static_helper(TRIPLE);
    let elf = std::fs::read(&binary).unwrap();
    assert_eq!(&elf[..4], b"\x7fELF");
    assert_eq!(u16::from_le_bytes([elf[18], elf[19]]), EM_AARCH64);
    if let Some(reason) = unavailable("qemu-aarch64-static", &["--version"]) {
        return skip(test, &reason);
    }

    let agent = DevAgent::start(&["--intermediate", "--rotate-every", "1s"]);
    let (dir, certs) = helper_dir();
    let mut qemu = Command::new("qemu-aarch64-static");
    qemu.arg(&binary);
    let helper = Helper::start_command(
        qemu,
        dir,
        &x509_config(&agent.address(), &certs, ""),
        &[],
        &[],
    );
    let files = SvidFiles::in_dir(&certs);
    // Three SVIDs on disk one after the other, each the agent's and each consistent.
    let mut seen: Vec<String> = Vec::new();
    let rotated = wait_until(PATIENCE, || {
        let consistent = files.verify_chain().and_then(|()| files.key_matches_leaf());
        if let (Ok(()), Ok(serial)) = (consistent, files.leaf_serial())
            && !seen.contains(&serial)
        {
            seen.push(serial);
        }
        seen.len() >= 3
    });
    assert!(rotated, "saw {seen:?}\n{}", helper.logs());
    let issued: Vec<String> = agent.issued().into_iter().map(|i| i.serial_hex).collect();
    assert!(
        seen.iter().all(|s| issued.contains(s)),
        "{seen:?} vs {issued:?}"
    );
    assert!(wait_until(PATIENCE, || files.python_mtls().is_ok()));
    assert!(helper.logs().contains("X.509 certificates updated"));
}
