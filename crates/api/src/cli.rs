//! Command-line interface: `serve` (default), `migrate`, `create-root`, `reset-password`,
//! `check-ledger`. Passwords are read from stdin or a prompt, never from arguments (which
//! other users can read in the process list).

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use migration::{Migrator, MigratorTrait};
use secrecy::ExposeSecret;

use crate::config::Settings;
use crate::startup::{self, Application};
use crate::telemetry;

#[derive(Debug, Parser)]
#[command(
    name = "tollgate",
    version,
    about = "Account, quota and payment service for AI API gateways"
)]
pub struct Cli {
    /// Configuration file (default: $TOLLGATE_CONFIG, else ./tollgate.toml if present).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the HTTP server (the default).
    Serve,
    /// Run schema migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Create the root user; the password is read from stdin or a prompt.
    CreateRoot {
        #[arg(long, default_value = "root")]
        username: String,
    },
    /// Set a user's password and revoke their sessions; the password is read from stdin or a
    /// prompt.
    ResetPassword {
        #[arg(long)]
        username: String,
    },
    /// Verify that every balance equals the sum of its ledger entries.
    CheckLedger,
    /// Ask Epay and Stripe about pending orders and settle the paid ones (exactly once) or
    /// close the expired ones.
    ReconcilePayments {
        /// Only orders created at least this many seconds ago.
        #[arg(long, default_value_t = 600)]
        min_age_secs: i64,
        /// At most this many orders.
        #[arg(long, default_value_t = 1000)]
        limit: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply pending migrations.
    Up,
    /// Roll back the last `steps` migrations.
    Down {
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List migrations and whether they are applied.
    Status,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config.as_deref())?;
    telemetry::init(&settings.log);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate { action } => migrate(&settings, action).await,
        Command::CreateRoot { username } => create_root(&settings, &username).await,
        Command::ResetPassword { username } => reset_password(&settings, &username).await,
        Command::CheckLedger => check_ledger(&settings).await,
        Command::ReconcilePayments {
            min_age_secs,
            limit,
        } => reconcile_payments(&settings, min_age_secs, limit).await,
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    app.run_until_stopped().await?;
    tracing::info!("tollgate stopped");
    Ok(())
}

async fn migrate(settings: &Settings, action: MigrateAction) -> anyhow::Result<()> {
    let db = tollgate_db::connect(
        settings.database_url.expose_secret(),
        settings.database_max_connections,
    )
    .await?;
    match action {
        MigrateAction::Up => {
            Migrator::up(&db, None).await.context("migrating up")?;
            println!("migrations applied");
        }
        MigrateAction::Down { steps } => {
            Migrator::down(&db, Some(steps))
                .await
                .context("migrating down")?;
            println!("rolled back {steps} migration(s)");
        }
        MigrateAction::Status => {
            for m in Migrator::get_migration_with_status(&db)
                .await
                .context("reading migration status")?
            {
                println!("{:<50} {:?}", m.name(), m.status());
            }
        }
    }
    Ok(())
}

async fn create_root(settings: &Settings, username: &str) -> anyhow::Result<()> {
    let db = startup::open_database(settings).await?;
    let accounts = startup::build_accounts(&db, settings).await?;
    let password = read_password("Password for the new root user")?;
    let user = accounts
        .create_root(username, &password)
        .await
        .context("creating the root user")?;
    println!("root user `{}` created (id {})", user.username, user.id);
    Ok(())
}

async fn reset_password(settings: &Settings, username: &str) -> anyhow::Result<()> {
    let db = startup::open_database(settings).await?;
    let accounts = startup::build_accounts(&db, settings).await?;
    let password = read_password(&format!("New password for `{username}`"))?;
    let user = accounts
        .reset_password(username, &password)
        .await
        .context("resetting the password")?;
    println!(
        "password of `{}` changed; their sessions were revoked",
        user.username
    );
    Ok(())
}

async fn reconcile_payments(
    settings: &Settings,
    min_age_secs: i64,
    limit: u64,
) -> anyhow::Result<()> {
    let db = startup::open_database(settings).await?;
    let topups = startup::build_topups(&db, settings).await?;
    let r = topups
        .reconcile(min_age_secs, limit)
        .await
        .context("reconciling payments")?;
    println!(
        "checked {} pending order(s): {} settled, {} expired, {} still pending, {} failed",
        r.checked, r.settled, r.expired, r.still_pending, r.failed
    );
    if r.failed > 0 {
        anyhow::bail!("{} order(s) could not be reconciled; see the log", r.failed);
    }
    Ok(())
}

async fn check_ledger(settings: &Settings) -> anyhow::Result<()> {
    let db = startup::open_database(settings).await?;
    let imbalances = startup::ledger(&db).imbalances().await?;
    if imbalances.is_empty() {
        println!("ledger ok: every balance equals the sum of its entries");
        return Ok(());
    }
    for i in &imbalances {
        println!(
            "user {} {}: balance {} but ledger sums to {}",
            i.user_id,
            i.account.as_str(),
            i.balance,
            i.ledger_sum
        );
    }
    anyhow::bail!("{} balance(s) disagree with the ledger", imbalances.len())
}

/// A password from a terminal prompt (asked twice), or the first line of piped stdin.
fn read_password(prompt: &str) -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("{prompt}: "))?;
        let second = rpassword::prompt_password("Repeat it: ")?;
        anyhow::ensure!(first == second, "the passwords differ");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        anyhow::ensure!(!password.is_empty(), "no password on stdin");
        Ok(password)
    }
}
