//! The black-box tests' support library. The HTTP harness (`TestApp`, one method per endpoint)
//! lives in `api/helpers.rs` inside the test binary; this library holds what is worth sharing
//! beyond it: in-process fakes of the outside services Tollgate calls ([`fakes`]).

pub mod fakes;
