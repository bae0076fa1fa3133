//! The simulator's conduct checks: a well-behaved client passes every check and receives what
//! was sent; a client that skips the ready ack, signs wrongly, misses keep-alives or opens a
//! second signalling connection gets the matching `FAIL`. Paused tokio time: no sleeps.
#![cfg(feature = "simulator")]

#[path = "sim_client/mod.rs"]
mod sim_client;

use std::time::Duration;

use sim_client::Behaviour;
use zoom_rtms_webhooks::handshake::Credentials;
use zoom_rtms_webhooks::simulator::{Report, SimConfig, Simulator, StreamSpec};
use zoom_rtms_webhooks::{Product, Verifier, WebhookEvent};

const SECRET: &str = "webhook secret token";

fn creds() -> Credentials {
    Credentials::new("client-id", "client-secret").unwrap()
}

fn spec(id: &str) -> StreamSpec {
    StreamSpec::new(Product::Meeting, "m-uuid/+==", id, SECRET, creds())
        .with_audio_frames(100)
        .with_transcript_every(25)
}

/// Runs one stream against a client with `behaviour`; the report and what the client saw.
async fn run(
    config: SimConfig,
    spec: StreamSpec,
    behaviour: Behaviour,
) -> (
    Report,
    std::sync::Arc<std::sync::Mutex<sim_client::Outcome>>,
) {
    let sim = Simulator::start(config).await.unwrap();
    let id = spec.rtms_stream_id().to_owned();
    sim.register(spec).unwrap();
    let hooks = sim.take_webhooks().unwrap();
    let outcome = sim_client::spawn(behaviour, creds(), SECRET, hooks);
    sim.start_stream(&id).await.unwrap();
    sim.finished(&id).await;
    (sim.report(), outcome)
}

fn failure<'r>(report: &'r Report, check: &str, stream: &str) -> &'r str {
    report
        .check(check, stream)
        .and_then(|c| c.failure.as_deref())
        .unwrap_or_else(|| panic!("expected FAIL {check}, got:\n{report}"))
}

#[tokio::test(start_paused = true)]
async fn well_behaved_client_passes_and_receives_the_audio_sent() {
    let config = SimConfig::default().with_keep_alive_interval(Duration::from_millis(500));
    let (report, outcome) = run(config, spec("s-good"), Behaviour::default()).await;
    assert!(report.passed(), "{report}");
    let sent = &report.streams[0];
    assert_eq!(sent.audio_frames, 100);
    assert_eq!(sent.transcripts, 4);
    let got = outcome.lock().unwrap();
    assert_eq!(got.audio_frames, 100);
    assert_eq!(got.sha256(), sent.audio_sha256, "{report}");
    assert_eq!(got.transcripts, 4);
    for check in [
        "signaling_signature",
        "id_key",
        "data_signature",
        "media_params",
        "media_url",
        "client_ready_ack",
        "keep_alive_signaling",
        "keep_alive_media",
        "one_signaling_connection",
        "audio_delivered",
        "stops_after_end",
    ] {
        assert!(
            report
                .check(check, "s-good")
                .is_some_and(|c| c.failure.is_none()),
            "{check} missing or failed:\n{report}"
        );
    }
    let text = report.to_string();
    assert!(text.starts_with("sent stream=s-good audio_frames=100 audio_sha256="));
    assert!(text.contains("ok client_ready_ack stream=s-good [protocol]\n"));
}

#[tokio::test(start_paused = true)]
async fn skipping_the_ready_ack_fails_client_ready_ack() {
    let behaviour = Behaviour {
        skip_ready_ack: true,
        ..Behaviour::default()
    };
    let (report, outcome) = run(SimConfig::default(), spec("s-noack"), behaviour).await;
    assert!(!report.passed());
    assert!(failure(&report, "client_ready_ack", "s-noack").contains("no CLIENT_READY_ACK"));
    // No media without the ack.
    assert_eq!(report.streams[0].audio_frames, 0);
    assert_eq!(outcome.lock().unwrap().audio_frames, 0);
    failure(&report, "media_ready", "s-noack");
}

#[tokio::test(start_paused = true)]
async fn a_wrong_signature_fails_and_is_answered_with_status_3() {
    let behaviour = Behaviour {
        bad_signature: true,
        ..Behaviour::default()
    };
    let (report, outcome) = run(SimConfig::default(), spec("s-badsig"), behaviour).await;
    assert!(failure(&report, "signaling_signature", "s-badsig").contains("HMAC-SHA256"));
    assert_eq!(outcome.lock().unwrap().connected, 0);
}

#[tokio::test(start_paused = true)]
async fn missed_keep_alives_fail_on_each_socket() {
    let behaviour = Behaviour {
        ignore_keep_alive: true,
        ..Behaviour::default()
    };
    let config = SimConfig::default().with_keep_alive_interval(Duration::from_millis(500));
    let (report, _) = run(config, spec("s-noka"), behaviour).await;
    assert!(failure(&report, "keep_alive_signaling", "s-noka").contains("not answered"));
    assert!(failure(&report, "keep_alive_media", "s-noka").contains("not answered"));
}

#[tokio::test(start_paused = true)]
async fn a_second_signaling_connection_fails() {
    let behaviour = Behaviour {
        second_signaling: true,
        ..Behaviour::default()
    };
    let (report, _) = run(SimConfig::default(), spec("s-two"), behaviour).await;
    assert!(failure(&report, "one_signaling_connection", "s-two").contains("second"));
}

#[tokio::test(start_paused = true)]
async fn webhooks_are_signed_for_the_app_and_name_the_product() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.register(
        StreamSpec::new(Product::ContactCenter, "eng-1", "s-cc", SECRET, creds())
            .with_audio_frames(1),
    )
    .unwrap();
    let hook = sim.start_stream("s-cc").await.unwrap();
    assert_eq!(hook.event, "contact_center.voice_rtms_started");
    let verifier = Verifier::new(SECRET).unwrap();
    let headers = zoom_rtms_webhooks::signature::SignatureHeaders::new(
        Some(&hook.signature),
        Some(&hook.timestamp),
    );
    let event = verifier
        .verify_and_parse(headers, &hook.body)
        .unwrap()
        .into_event();
    let WebhookEvent::RtmsStarted(started) = event else {
        panic!("not started")
    };
    assert_eq!(started.instance.value, "eng-1");
    assert_eq!(
        started.server_urls.joined(),
        sim.signaling_url("s-cc").unwrap()
    );
    assert!(Verifier::new("another secret")
        .unwrap()
        .verify_and_parse(headers, &hook.body)
        .is_err());
}

/// A webhook endpoint on loopback that verifies every request and records the event names;
/// it answers `status`.
async fn endpoint(status: u16) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use axum::http::{HeaderMap, StatusCode};
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = std::sync::Arc::clone(&seen);
    let route = axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
        let record = std::sync::Arc::clone(&record);
        async move {
            let verifier = Verifier::new(SECRET).unwrap();
            let headers =
                zoom_rtms_webhooks::signature::SignatureHeaders::from_header_map(&headers);
            let event = verifier.verify_and_parse(headers, &body).expect("verifies");
            record.lock().unwrap().push(event.event().name().to_owned());
            StatusCode::from_u16(status).unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhook", listener.local_addr().unwrap());
    let router = axum::Router::new().route("/webhook", route);
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, seen)
}

#[tokio::test]
async fn webhooks_are_posted_signed_to_the_configured_url() {
    let (url, seen) = endpoint(200).await;
    let sim = Simulator::start(SimConfig::default().with_webhook_url(&url))
        .await
        .unwrap();
    sim.register(spec("s-post")).unwrap();
    let hook = sim.start_stream("s-post").await.unwrap();
    assert_eq!(*seen.lock().unwrap(), ["meeting.rtms_started"]);
    passed_check(&sim.report(), "webhook_ack", "s-post");
    // Also handed out.
    let mut hooks = sim.take_webhooks().unwrap();
    assert_eq!(hooks.recv().await.unwrap(), hook);

    let (url, _) = endpoint(500).await;
    let sim = Simulator::start(SimConfig::default().with_webhook_url(url))
        .await
        .unwrap();
    sim.register(spec("s-refused")).unwrap();
    let err = sim.start_stream("s-refused").await.unwrap_err();
    assert!(err.to_string().contains("500"), "{err}");
    assert!(failure(&sim.report(), "webhook_ack", "s-refused").contains("500"));
}

#[tokio::test(start_paused = true)]
async fn participant_events_follow_the_subscription_per_product() {
    let (report, outcome) = run(SimConfig::default(), spec("s-events"), Behaviour::default()).await;
    assert!(report.passed(), "{report}");
    {
        let got = outcome.lock().unwrap();
        assert_eq!(
            got.events,
            [1, 3, 2],
            "first packet, participant join, active speaker"
        );
        assert_eq!(got.channel_audio, 0);
    }

    let cc = StreamSpec::new(
        Product::ContactCenter,
        "eng-1",
        "s-cc-audio",
        SECRET,
        creds(),
    )
    .with_audio_frames(20);
    let (report, outcome) = run(SimConfig::default(), cc, Behaviour::default()).await;
    assert!(report.passed(), "{report}");
    let got = outcome.lock().unwrap();
    assert_eq!(
        got.events,
        [1, 10, 8],
        "first packet, user answered, consumer answered"
    );
    assert_eq!(
        got.channel_audio, 20,
        "Contact Center audio carries channel_id"
    );
    assert_eq!(got.sha256(), report.streams[0].audio_sha256);
}

#[tokio::test(start_paused = true)]
async fn duplicated_webhooks_still_make_one_connection() {
    let config = SimConfig::default().with_duplicate_webhooks(true);
    let (report, outcome) = run(config, spec("s-twice"), Behaviour::default()).await;
    assert!(report.passed(), "{report}");
    assert_eq!(outcome.lock().unwrap().connected, 1);
}

#[tokio::test(start_paused = true)]
async fn concurrent_streams_of_every_product_each_pass_with_their_id_keys() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let streams = [
        (Product::Meeting, "m-uuid==", "s-meeting"),
        (Product::Webinar, "w-uuid==", "s-webinar"),
        (Product::VideoSdk, "session-1", "s-vsdk"),
        (Product::ContactCenter, "eng-1", "s-zcc"),
        (Product::Phone, "call-1", "s-phone"),
    ];
    for (product, instance, id) in streams {
        let spec = StreamSpec::new(product, instance, id, SECRET, creds()).with_audio_frames(60);
        sim.register(spec).unwrap();
    }
    let outcomes = sim_client::spawn_many(
        Behaviour::default(),
        creds(),
        SECRET,
        sim.take_webhooks().unwrap(),
    );
    for (_, _, id) in streams {
        sim.start_stream(id).await.unwrap();
    }
    for (_, _, id) in streams {
        sim.finished(id).await;
    }
    let report = sim.report();
    assert!(report.passed(), "{report}");
    assert_eq!(report.streams.len(), 5);
    let outcomes = outcomes.lock().unwrap();
    for sent in &report.streams {
        passed_check(&report, "id_key", &sent.stream);
        let got = outcomes[&sent.stream].lock().unwrap();
        assert_eq!(got.audio_frames, 60, "{}", sent.stream);
        assert_eq!(got.sha256(), sent.audio_sha256, "{}", sent.stream);
    }
}

fn passed_check(report: &Report, check: &str, stream: &str) {
    assert!(
        report
            .check(check, stream)
            .is_some_and(|c| c.failure.is_none()),
        "{check} missing or failed:\n{report}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_wrong_id_key_for_the_product_fails_id_key() {
    use zoom_rtms_webhooks::event::IdField;
    use zoom_rtms_webhooks::handshake::IdKeys;
    let webinar = |id: &str| {
        StreamSpec::new(Product::Webinar, "w-uuid==", id, SECRET, creds()).with_audio_frames(10)
    };
    let behaviour = Behaviour {
        id_keys: Some(IdKeys::default().with_keys(Product::Webinar, [IdField::MeetingUuid])),
        ..Behaviour::default()
    };
    let (report, outcome) = run(SimConfig::default(), webinar("s-key"), behaviour.clone()).await;
    assert!(failure(&report, "id_key", "s-key").contains("webinar_uuid"));
    assert_eq!(outcome.lock().unwrap().connected, 0);

    // The sources disagree for webinars: a simulator told to accept `meeting_uuid` does.
    let lenient = webinar("s-key-ok").with_id_keys(IdKeys::default().with_keys(
        Product::Webinar,
        [IdField::WebinarUuid, IdField::MeetingUuid],
    ));
    let (report, _) = run(SimConfig::default(), lenient, behaviour).await;
    assert!(report.passed(), "{report}");
}

#[tokio::test(start_paused = true)]
async fn invalid_media_params_are_answered_with_their_status_and_fail() {
    use zoom_rtms_webhooks::codes::StatusCode;
    use zoom_rtms_webhooks::protocol::media::AudioParams;
    let behaviour = Behaviour {
        audio: Some(AudioParams::new().with_send_rate(30)),
        ..Behaviour::default()
    };
    let (report, outcome) = run(SimConfig::default(), spec("s-params"), behaviour).await;
    assert!(failure(&report, "media_params", "s-params").contains("answered status 24"));
    assert_eq!(
        outcome.lock().unwrap().data_status,
        Some(StatusCode::InvalidMediaAudioSendRate)
    );
}

#[tokio::test(start_paused = true)]
async fn a_stream_close_request_is_answered_and_ends_the_stream() {
    let behaviour = Behaviour {
        close_after: Some(30),
        ..Behaviour::default()
    };
    let (report, outcome) = run(SimConfig::default(), spec("s-close"), behaviour).await;
    assert!(report.passed(), "{report}");
    passed_check(&report, "stream_close", "s-close");
    let got = outcome.lock().unwrap();
    assert!(got.closed, "STREAM_CLOSE_RESP with status 0");
    assert!(report.streams[0].audio_frames < 100);
    assert_eq!(got.sha256(), report.streams[0].audio_sha256);
}
/// Zoom's retries: a webhook the app does not acknowledge is sent again 5, then 20 minutes
/// later (the same body, signed again), until a 2xx. Paused time, moved by hand; a 5 ms ticker
/// keeps tokio from jumping to the POST's 3 s timeout while a request crosses loopback.
#[tokio::test(start_paused = true)]
async fn an_unacknowledged_webhook_is_retried_on_zooms_schedule() {
    use axum::http::{HeaderMap, StatusCode};
    use tokio::time::Instant;
    use zoom_rtms_webhooks::simulator::ZOOM_WEBHOOK_RETRIES;

    tokio::spawn(async {
        loop {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    // Answers `rtms_started` with 503, 503, then 200 and sends (when, body) of each; anything
    // else (the stream's end, for a client that never came) gets 200.
    let (tx, mut requests) = tokio::sync::mpsc::unbounded_channel();
    let answers = std::sync::Arc::new(std::sync::Mutex::new(vec![200u16, 503, 503]));
    let route = axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
        let (tx, answers) = (tx.clone(), std::sync::Arc::clone(&answers));
        async move {
            let verifier = Verifier::new(SECRET).unwrap();
            let headers =
                zoom_rtms_webhooks::signature::SignatureHeaders::from_header_map(&headers);
            let event = verifier
                .verify_and_parse(headers, &body)
                .expect("every retry verifies");
            if event.event().name() != "meeting.rtms_started" {
                return StatusCode::OK;
            }
            let _ = tx.send((Instant::now(), body.to_vec()));
            StatusCode::from_u16(answers.lock().unwrap().pop().unwrap_or(200)).unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().route("/webhook", route)).await
    });

    let config = SimConfig::default()
        .with_webhook_url(&url)
        .with_webhook_retries(ZOOM_WEBHOOK_RETRIES);
    let sim = Simulator::start(config).await.unwrap();
    sim.register(spec("s-retry")).unwrap();
    let err = sim.start_stream("s-retry").await.unwrap_err();
    assert!(err.to_string().contains("503"), "{err}");
    let (first, body) = requests.recv().await.unwrap();

    // Nothing before 5 minutes.
    tokio::time::advance(ZOOM_WEBHOOK_RETRIES[0] - Duration::from_secs(1)).await;
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    if let Ok((t, _)) = requests.try_recv() {
        panic!("retried before 5 minutes: after {:?}", t - first);
    }
    tokio::time::advance(Duration::from_secs(1)).await;
    let (second, again) = requests.recv().await.unwrap();
    assert_eq!(again, body, "a retry carries the same body");
    let after = second - first;
    assert!(after >= ZOOM_WEBHOOK_RETRIES[0], "{after:?}");
    assert!(
        after < ZOOM_WEBHOOK_RETRIES[0] + Duration::from_secs(2),
        "{after:?}"
    );

    // Still 503: the next one 20 minutes later, answered 200.
    tokio::time::advance(ZOOM_WEBHOOK_RETRIES[1]).await;
    let (third, _) = requests.recv().await.unwrap();
    let after = third - second;
    assert!(after >= ZOOM_WEBHOOK_RETRIES[1], "{after:?}");
    assert!(
        after < ZOOM_WEBHOOK_RETRIES[1] + Duration::from_secs(2),
        "{after:?}"
    );
    // Acknowledged: no more retries, and the checks say what happened.
    tokio::time::advance(ZOOM_WEBHOOK_RETRIES[2] * 2).await;
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    assert!(requests.try_recv().is_err(), "retried after a 2xx");
    let report = sim.report();
    passed_check(&report, "webhook_retry", "s-retry");
    assert!(failure(&report, "webhook_ack", "s-retry").contains("503"));
}

#[tokio::test(start_paused = true)]
async fn participants_over_sockets_send_their_own_gap_filled_tracks_and_events() {
    use sha2::Digest as _;
    use zoom_rtms_webhooks::protocol::media::{AudioParams, DataOption};
    let spec = spec("s-cast")
        .with_participants(3)
        .with_mute_gaps(true)
        .with_sharing(true);
    let cast = spec.participants();
    let behaviour = Behaviour {
        audio: Some(AudioParams::new().with_data_opt(DataOption::AudioMultiStreams)),
        ..Behaviour::default()
    };
    let (report, outcome) = run(SimConfig::default(), spec, behaviour).await;
    assert!(report.passed_strict(), "{report}");
    let got = outcome.lock().unwrap();
    // Event 1 first: the stream's zero, the timestamp of the first audio message.
    assert_eq!(got.events[0], 1, "{:?}", got.events);
    let zero = got.event_timestamps[0].unwrap();
    assert_eq!(got.user_audio[0].1, Some(zero));
    assert_eq!(got.events, [1, 3, 2, 2, 3, 5, 2, 6]);
    let sent = &report.streams[0];
    assert_eq!(sent.events, 8);
    assert_eq!(sent.participants.len(), 3);
    for (p, summary) in cast.iter().zip(&sent.participants) {
        // The recorder's rule at 16 kHz: frame at max(end of previous, (ts - zero) * 16).
        let mut track: Vec<u8> = Vec::new();
        let mut frames = 0;
        for (user, ts, pcm) in &got.user_audio {
            if *user != Some(p.user_id) {
                continue;
            }
            frames += 1;
            let at = (((ts.unwrap() - zero) * 16) as usize * 2).max(track.len());
            track.resize(at, 0);
            track.extend_from_slice(pcm);
        }
        assert_eq!(summary.user_id, p.user_id);
        assert_eq!(frames, summary.audio_frames, "{}", p.user_name);
        assert_eq!(
            frames,
            (0..100).filter(|k| p.speaks(*k)).count() as u64,
            "{}",
            p.user_name
        );
        let sha = hex::encode(sha2::Sha256::digest(&track));
        assert_eq!(sha, summary.audio_sha256, "{}", p.user_name);
    }
    assert!(report
        .to_string()
        .contains("sent stream=s-cast user=16778242 audio_frames=75 "));
}
