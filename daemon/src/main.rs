//! Placeholder: the spiffe-helper daemon (being written).
fn main() {}
