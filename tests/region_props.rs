//! Property tests: region and server URL parsing never panic, and nothing but
//! `wss://` on `zoom.us` (or a subdomain) is ever accepted by the default policy.

use proptest::prelude::*;
use zoom_rtms_webhooks::event::{IdField, InstanceId, Product, RawServerUrls, RtmsStarted};
use zoom_rtms_webhooks::region::{HostPolicy, Region, ServerUrl};

fn zoom_only(s: &str) -> Result<ServerUrl, zoom_rtms_webhooks::region::ServerUrlError> {
    ServerUrl::parse(s, &HostPolicy::default())
}

fn assert_safe(u: &ServerUrl) {
    assert_eq!(u.url().scheme(), "wss", "{u}");
    let host = u.host();
    assert!(
        host == "zoom.us" || host.ends_with(".zoom.us"),
        "accepted host {host:?} in {u}"
    );
    assert!(matches!(u.url().host(), Some(url::Host::Domain(_))), "{u}");
    assert_eq!(u.url().port(), None, "{u}");
    assert_eq!(u.url().username(), "", "{u}");
    assert_eq!(u.url().password(), None, "{u}");
    // Re-parsing the normalised form gives the same URL (what is dialled is stable).
    assert_eq!(zoom_only(u.as_str()).as_ref(), Ok(u));
}

/// Strings that look like URLs, built from fragments that matter for SSRF.
fn url_like() -> impl Strategy<Value = String> {
    let scheme = prop::sample::select(vec![
        "wss://",
        "WSS://",
        "ws://",
        "https://",
        "wss:",
        "wss:/",
        "wss:///",
        "",
        "wss://@",
        "wss://u:p@",
    ]);
    let piece = prop::sample::select(vec![
        "zoom.us",
        "ZOOM.US",
        ".zoom.us",
        "zoom",
        ".us",
        "evil.com",
        "evil",
        "rtms-sjc1",
        "sjc",
        "iad.",
        ".",
        "..",
        "@",
        ":",
        ":443",
        ":8443",
        "%2E",
        "%7A",
        "%2F",
        "%40",
        "%00",
        "\\",
        "/",
        "#",
        "?",
        "[",
        "]",
        "::1",
        "127.0.0.1",
        "0x7f",
        "\u{3002}",
        "\u{ff0e}",
        "\u{ff5a}",
        "xn--",
        "-",
        "1",
        "_",
        " ",
        "\t",
        ",",
    ]);
    (scheme, prop::collection::vec(piece, 0..8))
        .prop_map(|(s, pieces)| format!("{s}{}", pieces.concat()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn region_from_str_never_panics(s in any::<String>()) {
        if let Ok(r) = s.parse::<Region>() {
            prop_assert_eq!(r.code(), s.to_ascii_lowercase());
            prop_assert_eq!(r.to_string().parse::<Region>().ok(), Some(r));
        }
    }

    #[test]
    fn region_from_host_never_panics(s in any::<String>()) {
        if let Some(r) = Region::from_host(&s) {
            prop_assert!(!r.code().is_empty());
            prop_assert!(r.code().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        }
    }

    #[test]
    fn region_from_host_reads_generated_hosts(
        code in "[a-z]{2,5}",
        digits in "[0-9]{0,3}",
        label in "[a-z0-9]{1,8}",
        rtms_shape in any::<bool>(),
    ) {
        prop_assume!(code != "rtms");
        let host = if rtms_shape {
            format!("rtms-{code}{digits}.zoom.us")
        } else {
            format!("{label}.{code}{digits}.zoom.us")
        };
        let r = Region::from_host(&host);
        prop_assert_eq!(r.as_ref().map(Region::code), Some(code.as_str()), "{}", host);
    }

    #[test]
    fn server_url_parse_never_accepts_unsafe_arbitrary(s in any::<String>()) {
        if let Ok(u) = zoom_only(&s) {
            assert_safe(&u);
        }
    }

    #[test]
    fn server_url_parse_never_accepts_unsafe_url_like(s in url_like()) {
        if let Ok(u) = zoom_only(&s) {
            assert_safe(&u);
        }
    }

    #[test]
    fn started_server_urls_never_accepts_unsafe(
        parts in prop::collection::vec(prop_oneof![url_like(), any::<String>()], 0..4)
    ) {
        let id = InstanceId::new(IdField::MeetingUuid, "m");
        let joined = RawServerUrls::from(parts.join(","));
        let list = RawServerUrls::from(parts);
        for urls in [joined, list] {
            let started = RtmsStarted::new(Product::Meeting, id.clone(), "r", urls);
            if let Ok(urls) = started.server_urls(&HostPolicy::default()) {
                prop_assert!(!urls.is_empty());
                for u in &urls {
                    assert_safe(u);
                }
            }
        }
    }

    #[test]
    fn zoom_subdomains_are_accepted(labels in prop::collection::vec("[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", 1..4)) {
        let host = format!("{}.zoom.us", labels.join("."));
        let u = zoom_only(&format!("wss://{host}/"));
        prop_assert!(u.is_ok(), "{} refused: {:?}", host, u);
        if let Ok(u) = u {
            prop_assert_eq!(u.host(), host.as_str());
        }
    }

    #[test]
    fn escape_hatch_never_widens_beyond_allowed_host(s in url_like()) {
        let p = HostPolicy::default().with_allowed_host("127.0.0.1").with_insecure_ws(true);
        if let Ok(u) = ServerUrl::parse(&s, &p) {
            let host = u.host();
            let zoom = host == "zoom.us" || host.ends_with(".zoom.us");
            prop_assert!(zoom || host == "127.0.0.1", "{}", u);
            prop_assert!(matches!(u.url().scheme(), "wss" | "ws"));
            if zoom {
                prop_assert_eq!(u.url().scheme(), "wss");
            }
        }
    }
}
