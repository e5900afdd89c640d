//! Placeholder: SPIFFE Workload API messages (being written).
#![no_std]
