//! Regions, server URL validation (SSRF guard) and the host policy escape hatch.

use zoom_rtms_webhooks::event::{IdField, InstanceId, RawServerUrls, RtmsStarted};

use zoom_rtms_webhooks::region::{HostPolicy, ParseRegionError, Region, ServerUrl, ServerUrlError};
use zoom_rtms_webhooks::Product;

const KNOWN: [(&str, Region); 10] = [
    ("sjc", Region::Sjc),
    ("iad", Region::Iad),
    ("ams", Region::Ams),
    ("fra", Region::Fra),
    ("mel", Region::Mel),
    ("syd", Region::Syd),
    ("yyz", Region::Yyz),
    ("sin", Region::Sin),
    ("nrt", Region::Nrt),
    ("hkg", Region::Hkg),
];

fn refused(s: &str) -> ServerUrlError {
    match ServerUrl::parse(s, &HostPolicy::default()) {
        Ok(u) => panic!("{s:?} was accepted as {u}"),
        Err(e) => e,
    }
}

fn accepted(s: &str) -> ServerUrl {
    match ServerUrl::parse(s, &HostPolicy::default()) {
        Ok(u) => {
            assert_eq!(u.url().scheme(), "wss", "{s:?}");
            let host = u.host();
            assert!(
                host == "zoom.us" || host.ends_with(".zoom.us"),
                "{s:?} -> {host}"
            );
            u
        }
        Err(e) => panic!("{s:?} was refused: {e}"),
    }
}

/// The dialable URLs of a started event whose `server_urls` is `urls`, under `policy`.
fn started_urls(
    urls: impl Into<RawServerUrls>,
    policy: &HostPolicy,
) -> Result<Vec<ServerUrl>, ServerUrlError> {
    RtmsStarted::new(
        Product::Meeting,
        InstanceId::new(IdField::MeetingUuid, "m"),
        "r",
        urls,
    )
    .server_urls(policy)
}

fn zoom_urls(urls: &str) -> Result<Vec<ServerUrl>, ServerUrlError> {
    started_urls(urls, &HostPolicy::default())
}

// ------------------------------------------------------------------ Region

#[test]
fn known_codes_round_trip() {
    assert_eq!(Region::KNOWN.len(), KNOWN.len());
    for (code, region) in KNOWN {
        assert_eq!(region.code(), code);
        assert_eq!(region.to_string(), code);
        assert_eq!(code.parse::<Region>().unwrap(), region);
        assert_eq!(code.to_uppercase().parse::<Region>().unwrap(), region);
        assert!(region.is_known());
        assert!(region.location().is_some());
        assert!(Region::KNOWN.contains(&region));
    }
}

#[test]
fn unknown_code_is_kept_lower_cased() {
    let r: Region = "LHR".parse().unwrap();
    assert_eq!(r, Region::Other("lhr".to_string()));
    assert_eq!(r.code(), "lhr");
    assert_eq!(r.to_string(), "lhr");
    assert_eq!(r.to_string().parse::<Region>().unwrap(), r);
    assert!(!r.is_known());
    assert_eq!(r.location(), None);
    assert_eq!(
        "dub2".parse::<Region>().unwrap(),
        Region::Other("dub2".into())
    );
}

#[test]
fn from_str_errors() {
    assert_eq!("".parse::<Region>(), Err(ParseRegionError::Empty));
    for bad in ["s-j", " sjc", "sjc ", "sj.c", "é", "sjc\n", "rtms-sjc"] {
        assert_eq!(
            bad.parse::<Region>(),
            Err(ParseRegionError::NotAlphanumeric),
            "{bad:?}"
        );
    }
    assert_eq!(ParseRegionError::Empty.to_string(), "region code is empty");
}

#[test]
fn from_host_rtms_shape_every_known_code() {
    for (code, region) in KNOWN {
        for host in [
            format!("rtms-{code}1.zoom.us"),
            format!("rtms-{code}.zoom.us"),
            format!("rtms-{code}12.zoom.us"),
            format!("RTMS-{}1.ZOOM.US", code.to_uppercase()),
            format!("edge.rtms-{code}2.zoom.us"),
        ] {
            assert_eq!(Region::from_host(&host), Some(region.clone()), "{host}");
        }
    }
}

#[test]
fn from_host_label_shape_every_known_code() {
    for (code, region) in KNOWN {
        for host in [
            format!("{code}.zoom.us"),
            format!("media.{code}.zoom.us"),
            format!("a.b.{code}.zoom.us"),
            format!("{code}1.zoom.us"),
            format!("{}.ZOOM.US", code.to_uppercase()),
            format!("x.{code}.zoom.us."),
        ] {
            assert_eq!(Region::from_host(&host), Some(region.clone()), "{host}");
        }
    }
}

#[test]
fn from_host_unknown_code_kept() {
    assert_eq!(
        Region::from_host("rtms-lhr3.zoom.us"),
        Some(Region::Other("lhr".into()))
    );
    assert_eq!(
        Region::from_host("x.dub.zoom.us"),
        Some(Region::Other("dub".into()))
    );
}

#[test]
fn from_host_none_when_no_code() {
    for host in [
        "",
        "zoom.us",
        "ZOOM.US",
        "rtms.zoom.us",
        "rtms-.zoom.us",
        "rtms-1.zoom.us",
        "123.zoom.us",
        ".zoom.us",
        "a..zoom.us",
        "us-west.zoom.us",
        "sjc.example.com",
        "rtms-sjc1.evil.com",
        "sjc.zoom.us.evil.com",
        "evilzoom.us",
        "127.0.0.1",
        "[::1]",
        "zoom.us.",
    ] {
        assert_eq!(Region::from_host(host), None, "{host:?}");
    }
}

// --------------------------------------------------------------- ServerUrl

#[test]
fn accepts_zoom_hosts_every_region_and_shape() {
    for (code, region) in KNOWN {
        for s in [
            format!("wss://rtms-{code}1.zoom.us"),
            format!("wss://media.{code}.zoom.us/signal"),
            format!("wss://{code}.zoom.us:443/"),
        ] {
            let u = accepted(&s);
            assert_eq!(u.region(), Some(region.clone()), "{s}");
        }
    }
    let bare = accepted("wss://zoom.us");
    assert_eq!(bare.region(), None);
    assert_eq!(bare.as_str(), "wss://zoom.us/");
}

#[test]
fn uppercase_is_normalised() {
    let u = accepted("WSS://RTMS-SJC1.ZOOM.US");
    assert_eq!(u.as_str(), "wss://rtms-sjc1.zoom.us/");
    assert_eq!(u.host(), "rtms-sjc1.zoom.us");
    assert_eq!(u.region(), Some(Region::Sjc));
    assert_eq!(u.to_string(), u.as_str());
    assert_eq!(u.as_ref() as &str, u.as_str());
    assert_eq!(format!("{u:?}"), r#"ServerUrl("wss://rtms-sjc1.zoom.us/")"#);
    let url: url::Url = u.clone().into();
    assert_eq!(url, u.into_url());
}

#[test]
fn explicit_443_is_normalised_other_ports_refused() {
    assert_eq!(accepted("wss://x.zoom.us:443").as_str(), "wss://x.zoom.us/");
    for (s, port) in [
        ("wss://x.zoom.us:8443", 8443),
        ("wss://x.zoom.us:80", 80),
        ("wss://zoom.us:1", 1),
        ("wss://x.zoom.us:65535/", 65535),
    ] {
        assert_eq!(
            refused(s),
            ServerUrlError::PortNotAllowed {
                url: s.to_string(),
                port
            }
        );
    }
    assert!(matches!(
        refused("wss://x.zoom.us:65536"),
        ServerUrlError::Invalid { .. }
    ));
}

#[test]
fn refuses_other_schemes() {
    for (s, scheme) in [
        ("ws://rtms-sjc1.zoom.us", "ws"),
        ("http://rtms-sjc1.zoom.us", "http"),
        ("https://rtms-sjc1.zoom.us", "https"),
        ("file:///etc/passwd", "file"),
        ("gopher://x.zoom.us", "gopher"),
        ("javascript:alert(1)", "javascript"),
        ("data:text/plain,zoom.us", "data"),
    ] {
        match refused(s) {
            ServerUrlError::NotWss { url, scheme: got } => {
                assert_eq!(url, s);
                assert_eq!(got, scheme, "{s}");
            }
            other => panic!("{s}: {other:?}"),
        }
    }
}

#[test]
fn refuses_ip_literals() {
    for (s, host) in [
        ("wss://127.0.0.1", "127.0.0.1"),
        ("wss://10.0.0.1:443/x", "10.0.0.1"),
        ("wss://169.254.169.254", "169.254.169.254"),
        ("wss://0x7f.1", "127.0.0.1"),
        ("wss://2130706433", "127.0.0.1"),
        ("wss://[::1]", "::1"),
        ("wss://[::ffff:127.0.0.1]", "::ffff:127.0.0.1"),
        ("wss://[fe80::1]:443", "fe80::1"),
    ] {
        assert_eq!(
            refused(s),
            ServerUrlError::IpAddress {
                url: s.to_string(),
                host: host.to_string()
            },
            "{s}"
        );
    }
}

#[test]
fn refuses_lookalike_hosts() {
    for (s, host) in [
        ("wss://zoom.us.evil.com", "zoom.us.evil.com"),
        (
            "wss://rtms-sjc1.zoom.us.evil.com/",
            "rtms-sjc1.zoom.us.evil.com",
        ),
        ("wss://evilzoom.us", "evilzoom.us"),
        ("wss://x.evilzoom.us", "x.evilzoom.us"),
        ("wss://zoom.usa", "zoom.usa"),
        ("wss://zoom.com", "zoom.com"),
        ("wss://us", "us"),
        ("wss://localhost", "localhost"),
        // Trailing dot: refused by design (documented).
        ("wss://zoom.us.", "zoom.us."),
        ("wss://rtms.zoom.us.", "rtms.zoom.us."),
        // Empty labels and non-LDH characters.
        ("wss://..zoom.us", "..zoom.us"),
        ("wss://a..zoom.us", "a..zoom.us"),
        ("wss://a_b.zoom.us", "a_b.zoom.us"),
        ("wss://*.zoom.us", "*.zoom.us"),
        // Ideographic full stop maps to '.', giving a non-Zoom host.
        ("wss://zoom.us\u{3002}evil.com", "zoom.us.evil.com"),
        // Backslash is a path separator for special schemes: the host is evil.com.
        ("wss://evil.com\\@zoom.us", "evil.com"),
        ("wss://evil.com\\.zoom.us", "evil.com"),
    ] {
        assert_eq!(
            refused(s),
            ServerUrlError::HostNotAllowed {
                url: s.to_string(),
                host: host.to_string()
            },
            "{s}"
        );
    }
}

#[test]
fn refuses_userinfo() {
    for s in [
        "wss://zoom.us@evil.com",
        "wss://rtms-sjc1.zoom.us@evil.com/",
        "wss://user:pw@x.zoom.us",
        "wss://user@x.zoom.us",
        "wss://:pw@x.zoom.us",
        "wss://x.zoom.us%2F@evil.com",
        "wss://a@b@x.zoom.us",
    ] {
        assert_eq!(
            refused(s),
            ServerUrlError::UserInfo { url: s.to_string() },
            "{s}"
        );
    }
    // Empty userinfo (`@` alone) is dropped by the parser: nothing is hidden.
    assert_eq!(accepted("wss://@x.zoom.us").as_str(), "wss://x.zoom.us/");
}

#[test]
fn percent_encoded_and_idn_hosts_are_judged_after_normalisation() {
    // Safely normalised to a real Zoom host (the normalised URL is what is dialled).
    for (s, norm) in [
        ("wss://%7A%6F%6F%6D.us", "wss://zoom.us/"),
        ("wss://zoom%2Eus", "wss://zoom.us/"),
        ("wss://zoom.u%73", "wss://zoom.us/"),
        ("wss://evil%2Ecom.zoom.us", "wss://evil.com.zoom.us/"),
        (
            "wss://\u{ff5a}\u{ff4f}\u{ff4f}\u{ff4d}.us",
            "wss://zoom.us/",
        ),
        ("wss://x.zoom\u{3002}us", "wss://x.zoom.us/"),
        ("wss://\u{e9}vil.zoom.us", "wss://xn--vil-9la.zoom.us/"),
    ] {
        assert_eq!(accepted(s).as_str(), norm, "{s}");
    }
    // Encoded forbidden characters are refused outright by the parser.
    for s in [
        "wss://zoom.us%00.evil.com",
        "wss://zoom.us%20.evil.com",
        "wss://evil.com%2F.zoom.us",
        "wss://evil.com%23.zoom.us",
        "wss://evil.com%3F.zoom.us",
        "wss://evil.com%40.zoom.us",
        "wss://xn--zoom-abc.us",
    ] {
        assert!(matches!(refused(s), ServerUrlError::Invalid { .. }), "{s}");
    }
    // Encoded lookalikes decode to a non-Zoom host and are refused.
    assert_eq!(
        refused("wss://zoom%2Eus%2Eevil%2Ecom"),
        ServerUrlError::HostNotAllowed {
            url: "wss://zoom%2Eus%2Eevil%2Ecom".into(),
            host: "zoom.us.evil.com".into()
        }
    );
}

#[test]
fn refuses_garbage_and_fragments() {
    for s in [
        "",
        "   ",
        "zoom.us",
        "rtms-sjc1.zoom.us",
        "//rtms-sjc1.zoom.us",
        "wss://",
        "wss://x.zoom.us:abc",
        "wss://[::1",
    ] {
        assert!(
            matches!(refused(s), ServerUrlError::Invalid { .. }),
            "{s:?}"
        );
    }
    assert!(matches!(
        refused("wss://x.zoom.us/#frag"),
        ServerUrlError::Invalid { .. }
    ));
}

#[test]
fn path_and_query_are_kept() {
    let u = accepted(" wss://rtms-sjc1.zoom.us/signal?stream=abc ");
    assert_eq!(u.url().path(), "/signal");
    assert_eq!(u.url().query(), Some("stream=abc"));
}

#[test]
fn error_messages_name_the_url_and_reason() {
    assert_eq!(
        refused("wss://evilzoom.us").to_string(),
        "server URL `wss://evilzoom.us` refused: host `evilzoom.us` is not zoom.us or a subdomain of it"
    );
    assert_eq!(
        refused("wss://u@x.zoom.us").to_string(),
        "server URL `wss://u@x.zoom.us` refused: user info (`user@`) is not allowed"
    );
    assert_eq!(
        refused("wss://127.0.0.1").to_string(),
        "server URL `wss://127.0.0.1` refused: IP address host `127.0.0.1` is not allowed"
    );
    assert_eq!(
        refused("wss://x.zoom.us:8443").to_string(),
        "server URL `wss://x.zoom.us:8443` refused: port 8443 is not allowed (only 443)"
    );
    assert_eq!(ServerUrlError::Empty.to_string(), "no server URL given");
    // Long input is truncated in the error.
    let long = format!("wss://{}.evil.com", "a".repeat(1000));
    let err = refused(&long);
    let shown = err.url().unwrap();
    assert!(shown.len() < 300, "{}", shown.len());
    assert!(shown.ends_with('…'));
    // Control characters are escaped (a newline could forge a log line), within the bound.
    let err = refused("wss://evil.com/\u{1b}[2J\nFAILED");
    assert_eq!(err.url(), Some(r"wss://evil.com/\u{1b}[2J\nFAILED"));
    assert!(!err.to_string().chars().any(char::is_control));
    let err = refused(&format!("wss://evil.com/{}", "\n".repeat(300)));
    let shown = err.url().unwrap();
    assert!(shown.len() <= 200 + '…'.len_utf8(), "{}", shown.len());
    assert!(shown.ends_with(r"\n\n…"), "{shown}");
}

// --------------------------------------------------------- server_urls list

#[test]
fn parses_comma_separated_lists() {
    let urls =
        zoom_urls("wss://rtms-sjc1.zoom.us,wss://rtms-iad1.zoom.us , wss://x.ams.zoom.us").unwrap();
    let regions: Vec<_> = urls.iter().map(|u| u.region()).collect();
    assert_eq!(
        regions,
        vec![Some(Region::Sjc), Some(Region::Iad), Some(Region::Ams)]
    );
    let one = zoom_urls("wss://rtms-fra1.zoom.us").unwrap();
    assert_eq!(one.len(), 1);
}

#[test]
fn parses_arrays_like_comma_separated_lists() {
    let list = |urls: &[&str]| -> RawServerUrls {
        urls.iter()
            .map(|u| (*u).to_owned())
            .collect::<Vec<_>>()
            .into()
    };
    let policy = HostPolicy::default();
    let from_array = started_urls(
        list(&["wss://rtms-sjc1.zoom.us", " wss://x.ams.zoom.us ", ""]),
        &policy,
    )
    .unwrap();
    assert_eq!(
        from_array,
        zoom_urls("wss://rtms-sjc1.zoom.us,wss://x.ams.zoom.us").unwrap()
    );
    // Each element is one URL: a bad one fails the whole list and is named.
    let err = started_urls(list(&["wss://sjc.zoom.us", "wss://evil.com"]), &policy).unwrap_err();
    assert_eq!(err.url(), Some("wss://evil.com"));
    for empty in [&[][..], &[""], &[" ", "\t"]] {
        assert_eq!(
            started_urls(list(empty), &policy),
            Err(ServerUrlError::Empty),
            "{empty:?}"
        );
    }
}

#[test]
fn empty_pieces_are_ignored() {
    let urls = zoom_urls(",, wss://sjc.zoom.us ,,\t, wss://iad.zoom.us,").unwrap();
    assert_eq!(urls.len(), 2);
    for empty in ["", " ", ",", " , ,, ", "\t\n"] {
        assert_eq!(zoom_urls(empty), Err(ServerUrlError::Empty), "{empty:?}");
    }
}

#[test]
fn one_bad_url_fails_the_list_and_is_named() {
    let err =
        zoom_urls("wss://sjc.zoom.us, wss://zoom.us.evil.com ,wss://iad.zoom.us").unwrap_err();
    assert_eq!(
        err,
        ServerUrlError::HostNotAllowed {
            url: "wss://zoom.us.evil.com".into(),
            host: "zoom.us.evil.com".into()
        }
    );
    assert_eq!(err.url(), Some("wss://zoom.us.evil.com"));
    assert!(err.to_string().contains("wss://zoom.us.evil.com"));
    // The userinfo trick survives the comma split too.
    assert!(matches!(
        zoom_urls("wss://sjc.zoom.us,wss://zoom.us@evil.com"),
        Err(ServerUrlError::UserInfo { .. })
    ));
}

// -------------------------------------------------------------- HostPolicy

#[test]
fn default_policy_is_zoom_only() {
    let p = HostPolicy::default();
    assert!(!p.insecure_ws());
    assert!(p.allowed_hosts().is_empty());
    assert!(ServerUrl::parse("wss://sjc.zoom.us", &p).is_ok());
    assert!(matches!(
        ServerUrl::parse("wss://127.0.0.1", &p),
        Err(ServerUrlError::IpAddress { .. })
    ));
    // The setters can be undone: back to the default.
    assert_eq!(p.clone().with_insecure_ws(true).with_insecure_ws(false), p);
}

#[test]
fn escape_hatch_allows_local_test_server() {
    let local = HostPolicy::default()
        .with_allowed_host("127.0.0.1")
        .with_insecure_ws(true);
    assert_ne!(local, HostPolicy::default());
    assert!(local.insecure_ws());
    let u = ServerUrl::parse("ws://127.0.0.1:9000/signal", &local).unwrap();
    assert_eq!(u.host(), "127.0.0.1");
    assert_eq!(u.url().port(), Some(9000));
    assert_eq!(u.region(), None);
    // wss to the same host, any port.
    assert!(ServerUrl::parse("wss://127.0.0.1:8443", &local).is_ok());
    // Other hosts remain refused.
    assert!(matches!(
        ServerUrl::parse("ws://127.0.0.2:9000", &local),
        Err(ServerUrlError::IpAddress { .. })
    ));
    assert!(matches!(
        ServerUrl::parse("ws://evil.com", &local),
        Err(ServerUrlError::HostNotAllowed { .. })
    ));
    // Zoom hosts still need wss and port 443, whatever the policy.
    assert!(matches!(
        ServerUrl::parse("ws://rtms-sjc1.zoom.us", &local),
        Err(ServerUrlError::NotWss { .. })
    ));
    assert!(matches!(
        ServerUrl::parse("wss://rtms-sjc1.zoom.us:8443", &local),
        Err(ServerUrlError::PortNotAllowed { .. })
    ));
    // Userinfo is refused for allowed hosts too.
    assert!(matches!(
        ServerUrl::parse("ws://u:p@127.0.0.1:9000", &local),
        Err(ServerUrlError::UserInfo { .. })
    ));
    // Lists use the policy.
    let urls = started_urls("ws://127.0.0.1:9000,wss://sjc.zoom.us", &local).unwrap();
    assert_eq!(urls.len(), 2);
    assert!(zoom_urls("ws://127.0.0.1:9000,wss://sjc.zoom.us").is_err());
}

#[test]
fn allowed_host_without_insecure_ws_still_requires_wss() {
    let p = HostPolicy::default().with_allowed_host("localhost");
    assert!(ServerUrl::parse("wss://localhost:8443", &p).is_ok());
    assert_eq!(
        ServerUrl::parse("ws://localhost:8080", &p),
        Err(ServerUrlError::NotWss {
            url: "ws://localhost:8080".into(),
            scheme: "ws".into()
        })
    );
    // http is never allowed.
    assert!(matches!(
        ServerUrl::parse("http://localhost:8080", &p.clone().with_insecure_ws(true)),
        Err(ServerUrlError::NotWss { .. })
    ));
}

#[test]
fn allowed_host_is_normalised() {
    let p = HostPolicy::default()
        .with_allowed_host("LocalHost")
        .with_allowed_host("[::1]")
        .with_allowed_host("::2")
        .with_allowed_host("localhost");
    assert_eq!(p.allowed_hosts(), ["localhost", "::1", "::2"]);
    assert!(ServerUrl::parse("wss://LOCALHOST:1", &p).is_ok());
    assert!(ServerUrl::parse("wss://[::1]:1", &p).is_ok());
    assert!(ServerUrl::parse("wss://[0:0:0:0:0:0:0:2]:1", &p).is_ok());
    // An IPv4 spelled oddly in the URL matches the canonical allowed address.
    let p4 = HostPolicy::default().with_allowed_host("127.0.0.1");
    assert!(ServerUrl::parse("wss://127.1:1", &p4).is_ok());
    // Empty input adds nothing.
    assert_eq!(
        HostPolicy::default().with_allowed_host("  "),
        HostPolicy::default()
    );
}

#[test]
fn service_label_without_a_region_is_not_a_region() {
    // `rtms.zoom.us` and `rtms1.zoom.us` name the service, not a data centre.
    assert_eq!(Region::from_host("rtms.zoom.us"), None);
    assert_eq!(Region::from_host("rtms1.zoom.us"), None);
    assert_eq!(Region::from_host("rtms-sjc1.zoom.us"), Some(Region::Sjc));
}
