//! Test harness lives in api/.
