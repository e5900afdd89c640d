//! Placeholder: development agent test support (being written).
