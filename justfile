# Recipes call plain cargo, so nothing depends on `just` being installed.

default:
    @just --list

# Start the server on the embedded SQLite database.
run:
    cargo run --release

fmt:
    cargo fmt --all

lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# The test suite on SQLite and in-process adapters (no service needed).
test:
    cargo test --workspace

# The test suite against the local PostgreSQL and MariaDB as well.
test-db:
    TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test cargo test --workspace

# `just migrate status`, `just migrate up`, `just migrate down --steps 1`
migrate *args:
    cargo run -- migrate {{args}}

# Everything CI runs.
ci:
    bash .ci/run
