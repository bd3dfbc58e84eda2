use super::*;

fn settings(server: &str) -> PaymentSettings {
    PaymentSettings {
        server_address: server.to_owned(),
        ..PaymentSettings::default()
    }
}

#[test]
fn stripe_redirects_stay_on_this_server() {
    let s = settings("https://gw.example.com");
    assert_eq!(
        redirect(&s, None, "/console/log").as_deref(),
        Some("https://gw.example.com/console/log")
    );
    assert_eq!(
        redirect(&s, Some(" "), "/console/topup").as_deref(),
        Some("https://gw.example.com/console/topup")
    );
    assert_eq!(
        redirect(&s, Some("https://gw.example.com/console/topup?ok=1"), "/x").as_deref(),
        Some("https://gw.example.com/console/topup?ok=1")
    );
    for evil in [
        "https://evil.example.com/console",
        "http://gw.example.com/console",
        "https://gw.example.com.evil.com/",
        "https://gw.example.com:8443/",
        "javascript:alert(1)",
        "//evil.example.com",
    ] {
        assert_eq!(redirect(&s, Some(evil), "/x"), None, "{evil}");
    }
}
