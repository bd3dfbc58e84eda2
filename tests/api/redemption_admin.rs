use reqwest::Method;
use serde_json::json;

use crate::helpers::TestApp;
use crate::reply::send;

#[tokio::test]
async fn an_admin_creates_a_batch_and_gets_the_keys() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let reply = app
        .create_codes(
            &root,
            json!({"name": "launch", "quota": 1000, "count": 5, "expired_time": 0}),
        )
        .await;
    assert_eq!(reply["success"], true, "{reply}");
    let keys = reply["data"].as_array().unwrap();
    assert_eq!(keys.len(), 5);
    for k in keys {
        let k = k.as_str().unwrap();
        assert!(
            k.len() == 32 && k.chars().all(|c| c.is_ascii_hexdigit()),
            "{k}"
        );
    }
}

#[tokio::test]
async fn invalid_batches_are_refused_with_new_apis_messages_and_create_nothing() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let cases = [
        (
            json!({"name": "", "quota": 1, "count": 1}),
            "兑换码名称长度必须在1-20之间",
        ),
        (
            json!({"name": "x".repeat(21), "quota": 1, "count": 1}),
            "兑换码名称长度必须在1-20之间",
        ),
        (
            json!({"name": "n", "quota": 1, "count": 0}),
            "兑换码个数必须大于0",
        ),
        (
            json!({"name": "n", "quota": 1, "count": 101}),
            "一次兑换码批量生成的个数不能大于 100",
        ),
        (
            json!({"name": "n", "quota": 0, "count": 1}),
            "兑换码额度必须大于0",
        ),
        (
            json!({"name": "n", "quota": -5, "count": 1}),
            "兑换码额度必须大于0",
        ),
        (
            json!({"name": "n", "quota": 1, "count": 1, "expired_time": 1}),
            "过期时间不能早于当前时间",
        ),
        (
            json!({"name": "n", "quota": "lots", "count": 1}),
            "无效的参数",
        ),
    ];
    for (body, message) in cases {
        let reply = app.create_codes(&root, body.clone()).await;
        assert_eq!(
            reply,
            json!({"success": false, "message": message}),
            "{body}"
        );
    }
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM redemptions").await[0][0],
        0
    );
}

#[tokio::test]
async fn the_list_is_paged_newest_first_with_and_without_trailing_slash() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    for i in 0..3 {
        app.create_codes(
            &root,
            json!({"name": format!("batch{i}"), "quota": 10, "count": 4}),
        )
        .await;
    }
    let list = |path: &'static str| {
        let app = &app;
        let root = root.clone();
        async move { send(app.as_user(Method::GET, path, &root)).await.body }
    };
    let page = list("/api/redemption/?p=2&page_size=5").await;
    let d = &page["data"];
    assert_eq!(
        (
            d["total"].as_u64(),
            d["page"].as_u64(),
            d["page_size"].as_u64()
        ),
        (Some(12), Some(2), Some(5))
    );
    let items = d["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    let ids: Vec<i64> = items.iter().map(|i| i["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
    for item in items {
        for key in [
            "key",
            "name",
            "quota",
            "status",
            "created_time",
            "expired_time",
            "used_user_id",
        ] {
            assert!(item.get(key).is_some(), "{key}");
        }
    }
    // Absurd paging is clamped, not passed to SQL.
    let clamped = list("/api/redemption?p=-4&page_size=-1").await;
    assert_eq!(clamped["data"]["page"], 1);
    assert_eq!(clamped["data"]["page_size"], 10);
    let capped = list("/api/redemption/?page_size=1000").await;
    assert_eq!(capped["data"]["page_size"], 100);
    let bad = list("/api/redemption/?p=abc").await;
    assert_eq!(bad["message"], "无效的参数");
}
