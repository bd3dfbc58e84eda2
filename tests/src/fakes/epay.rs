//! A fake Epay gateway: the order-query API and the signed notify callback it would send.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use actix_web::{HttpResponse, web};
use serde_json::json;
use tollgate_domain::payment::{EpayMerchant, ProviderSecret};
use tollgate_payments::epay_sign;

use super::{Running, lock, serve};

/// One order as the fake gateway knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeEpayOrder {
    /// Our order number (`out_trade_no`).
    pub out_trade_no: String,
    /// The gateway's own number (`trade_no`), `2026` followed by a counter.
    pub trade_no: String,
    /// The payment type, e.g. `alipay`.
    pub kind: String,
    /// The amount as the gateway reports it, e.g. `"73.00"`.
    pub money: String,
    pub paid: bool,
}

#[derive(Default)]
struct State {
    orders: HashMap<String, FakeEpayOrder>,
    next_trade_no: u64,
    queries: usize,
}

struct Shared {
    pid: String,
    key: String,
    state: Mutex<State>,
}

/// A fake Epay gateway for merchant `pid` with signing key `key`. It answers
/// `GET /api.php?act=order&pid=&key=&out_trade_no=` like the common "彩虹易支付" API:
/// `{"code":1,..,"money":"73.00","status":1|0}` for an order the test recorded, `code` -1 for
/// an unknown order or a wrong pid/key. The test records orders with [`FakeEpay::add_order`]
/// and [`FakeEpay::mark_paid`], and builds the gateway's signed callback with
/// [`FakeEpay::notify_params`].
pub struct FakeEpay {
    shared: Arc<Shared>,
    running: Running,
}

impl FakeEpay {
    /// Starts the fake on a free port of 127.0.0.1 (inside a Tokio runtime).
    pub async fn start(pid: &str, key: &str) -> FakeEpay {
        let shared = Arc::new(Shared {
            pid: pid.to_owned(),
            key: key.to_owned(),
            state: Mutex::new(State::default()),
        });
        let data = web::Data::from(shared.clone());
        let running = serve(move |cfg| {
            cfg.app_data(data.clone())
                .route("/api.php", web::get().to(order_query));
        });
        FakeEpay { shared, running }
    }

    /// The gateway's base URL (`PayAddress`), e.g. `http://127.0.0.1:40123`.
    pub fn address(&self) -> &str {
        &self.running.base_url
    }

    /// The merchant account this gateway accepts (address, pid, key).
    pub fn merchant(&self) -> EpayMerchant {
        EpayMerchant {
            address: self.address().to_owned(),
            pid: self.shared.pid.clone(),
            key: ProviderSecret::new(self.shared.key.clone()),
        }
    }

    /// Records an unpaid order (as if the customer had opened the payment page). Recording it
    /// again replaces it, unpaid.
    pub fn add_order(&self, out_trade_no: &str, money: &str, kind: &str) -> FakeEpayOrder {
        self.put(out_trade_no, money, kind, false)
    }

    /// Records the order as paid with `money` through `kind` (adding it when unknown).
    pub fn mark_paid(&self, out_trade_no: &str, money: &str, kind: &str) -> FakeEpayOrder {
        self.put(out_trade_no, money, kind, true)
    }

    fn put(&self, out_trade_no: &str, money: &str, kind: &str, paid: bool) -> FakeEpayOrder {
        let mut state = lock(&self.shared.state);
        let trade_no = match state.orders.get(out_trade_no) {
            Some(order) => order.trade_no.clone(),
            None => {
                state.next_trade_no += 1;
                format!("2026{:08}", state.next_trade_no)
            }
        };
        let order = FakeEpayOrder {
            out_trade_no: out_trade_no.to_owned(),
            trade_no,
            kind: kind.to_owned(),
            money: money.to_owned(),
            paid,
        };
        state.orders.insert(out_trade_no.to_owned(), order.clone());
        order
    }

    pub fn order(&self, out_trade_no: &str) -> Option<FakeEpayOrder> {
        lock(&self.shared.state).orders.get(out_trade_no).cloned()
    }

    /// How many order queries the gateway has answered (any outcome).
    pub fn query_count(&self) -> usize {
        lock(&self.shared.state).queries
    }

    /// The signed parameters of the callback the gateway sends for a recorded order:
    /// `pid, trade_no, out_trade_no, type, name, money, trade_status, sign_type, sign`, with
    /// `trade_status` `TRADE_SUCCESS` when paid and `WAIT_BUYER_PAY` otherwise. Panics when the
    /// order was never recorded. To send something else, change the map and re-sign it with
    /// [`signed_epay_params`] (or leave it unsigned to test a forgery).
    pub fn notify_params(&self, out_trade_no: &str, name: &str) -> BTreeMap<String, String> {
        let order = self
            .order(out_trade_no)
            .unwrap_or_else(|| panic!("the fake Epay has no order {out_trade_no}"));
        let status = if order.paid {
            "TRADE_SUCCESS"
        } else {
            "WAIT_BUYER_PAY"
        };
        let params = [
            ("pid", self.shared.pid.as_str()),
            ("trade_no", &order.trade_no),
            ("out_trade_no", &order.out_trade_no),
            ("type", &order.kind),
            ("name", name),
            ("money", &order.money),
            ("trade_status", status),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        signed_epay_params(params, &self.shared.key)
    }
}

/// `params` with `sign_type=MD5` and `sign` = the Epay signature under `key`.
pub fn signed_epay_params(
    mut params: BTreeMap<String, String>,
    key: &str,
) -> BTreeMap<String, String> {
    params.insert("sign_type".into(), "MD5".into());
    let sign = epay_sign(&params, &ProviderSecret::new(key));
    params.insert("sign".into(), sign);
    params
}

/// `params` as a URL query string (`a=1&b=2`, form-encoded), as the gateway calls
/// `GET {notify_url}?...`.
pub fn epay_query_string(params: &BTreeMap<String, String>) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

async fn order_query(
    shared: web::Data<Shared>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let mut state = lock(&shared.state);
    state.queries += 1;
    let get = |k: &str| query.get(k).map(String::as_str).unwrap_or_default();
    if get("act") != "order" {
        return HttpResponse::Ok().json(json!({"code": -5, "msg": "No Act!"}));
    }
    if get("pid") != shared.pid || get("key") != shared.key {
        return HttpResponse::Ok().json(json!({"code": -3, "msg": "KEY校验失败"}));
    }
    match state.orders.get(get("out_trade_no")) {
        None => HttpResponse::Ok().json(json!({"code": -1, "msg": "订单号不存在"})),
        Some(order) => HttpResponse::Ok().json(json!({
            "code": 1,
            "msg": "查询订单号成功！",
            "trade_no": order.trade_no,
            "out_trade_no": order.out_trade_no,
            "type": order.kind,
            "pid": shared.pid,
            "money": order.money,
            "status": i32::from(order.paid),
        })),
    }
}
