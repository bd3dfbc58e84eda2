//! Small in-process fakes of the outside services Tollgate calls, each an actix-web server on
//! `127.0.0.1:0` that lives as long as its handle (dropping the handle stops it):
//!
//! - [`epay::FakeEpay`]: an Epay gateway's order-query API (`/api.php?act=order`); the test
//!   records orders and marks them paid, and builds signed notify callbacks.
//! - [`stripe::FakeStripe`]: Stripe's Checkout Session API (create, retrieve); the test marks
//!   sessions paid or expired and builds signed webhook deliveries.
//! - [`turnstile::FakeTurnstile`]: Cloudflare Turnstile's `siteverify`; the test issues
//!   single-use tokens and reads the calls it received.
//!
//! Point the server's `PayAddress` at [`epay::FakeEpay::address`] and
//! `payments.stripe_api_base` at [`stripe::FakeStripe::api_base`]; no test reaches the
//! internet. The signatures are made with the real functions of `tollgate-payments`, whose own
//! tests pin them to independently computed vectors.

pub mod epay;
pub mod stripe;
pub mod turnstile;

use std::net::TcpListener;
use std::sync::{Mutex, MutexGuard, PoisonError};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};

/// The current unix time in seconds (the timestamp a webhook delivery is signed with).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A running fake: its base URL, and a handle that stops it on drop.
struct Running {
    base_url: String,
    handle: ServerHandle,
}

impl Drop for Running {
    fn drop(&mut self) {
        // `stop` sends the command at once; the returned future only waits for completion.
        drop(self.handle.stop(false));
    }
}

/// Starts `configure`'s routes on a fresh port of 127.0.0.1 with one worker. Needs a Tokio
/// runtime (a `#[tokio::test]`).
fn serve<F>(configure: F) -> Running
where
    F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let port = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("local_addr: {e}"))
        .port();
    let server = HttpServer::new(move || App::new().configure(configure.clone()))
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)
        .unwrap_or_else(|e| panic!("listen: {e}"))
        .run();
    let handle = server.handle();
    tokio::spawn(server);
    Running {
        base_url: format!("http://127.0.0.1:{port}"),
        handle,
    }
}

/// Locks shared fake state; a panicking test thread does not make the fake unusable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
