//! Tests of [`render`]: upstream's file matrix (spec §4.3), hints, bundle-set rules,
//! federated ordering and `omit_expired`.
