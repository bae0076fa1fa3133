//! Every media-parameter validation rule, accepted and refused
//! (`docs/protocol.md#media-parameters`).
#![cfg(feature = "protocol")]

use zoom_rtms_webhooks::codes::StatusCode;
use zoom_rtms_webhooks::handshake::{MediaKind, MediaTypes};
use zoom_rtms_webhooks::protocol::media::*;

fn audio(p: AudioParams) -> Result<(), ParamsError> {
    MediaParams::new().with_audio(p).validate(MediaTypes::AUDIO)
}

fn video(p: VideoParams) -> Result<(), ParamsError> {
    MediaParams::new().with_video(p).validate(MediaTypes::VIDEO)
}

fn share(p: VideoParams) -> Result<(), ParamsError> {
    MediaParams::new()
        .with_deskshare(p)
        .validate(MediaTypes::DESKSHARE)
}

#[test]
fn defaults_and_empty_params_pass() {
    for t in [
        MediaTypes::AUDIO,
        MediaTypes::ALL,
        MediaTypes::AUDIO | MediaTypes::TRANSCRIPT,
    ] {
        MediaParams::new().validate(t).unwrap();
    }
    audio(AudioParams::new()).unwrap();
    video(VideoParams::new()).unwrap();
    share(VideoParams::new()).unwrap();
}

#[test]
fn media_type_bitmask() {
    let e = MediaParams::new().validate(MediaTypes::NONE).unwrap_err();
    assert_eq!(e, ParamsError::MediaType { bits: 0 });
    assert_eq!(e.status_code(), StatusCode::MediaTypeInvalidValue);
    let e = MediaParams::new()
        .validate(MediaTypes::from_bits(64 | 1))
        .unwrap_err();
    assert_eq!(e, ParamsError::MediaType { bits: 65 });
    MediaParams::new()
        .validate(MediaTypes::from_bits(31))
        .unwrap();
}

#[test]
fn params_only_for_requested_kinds() {
    let p = MediaParams::new().with_video(VideoParams::new());
    assert_eq!(
        p.validate(MediaTypes::AUDIO).unwrap_err(),
        ParamsError::NotRequested {
            kind: MediaKind::Video
        }
    );
    p.validate(MediaTypes::AUDIO | MediaTypes::VIDEO).unwrap();
    p.validate(MediaTypes::ALL).unwrap();
}

#[test]
fn opus_needs_48k() {
    audio(
        AudioParams::new()
            .with_codec(Codec::Opus)
            .with_sample_rate(SampleRate::Sr48k),
    )
    .unwrap();
    for rate in [
        None,
        Some(SampleRate::Sr8k),
        Some(SampleRate::Sr16k),
        Some(SampleRate::Sr32k),
    ] {
        let mut p = AudioParams::new().with_codec(Codec::Opus);
        if let Some(r) = rate {
            p = p.with_sample_rate(r);
        }
        let e = audio(p).unwrap_err();
        assert!(matches!(e, ParamsError::OpusNeeds48k { .. }), "{e}");
        assert_eq!(e.status_code(), StatusCode::InvalidMediaAudioSampleRate);
    }
}

#[test]
fn stereo_needs_opus() {
    audio(
        AudioParams::new()
            .with_codec(Codec::Opus)
            .with_sample_rate(SampleRate::Sr48k)
            .with_channel(AudioChannel::Stereo),
    )
    .unwrap();
    for codec in [None, Some(Codec::L16), Some(Codec::G711), Some(Codec::G722)] {
        let mut p = AudioParams::new().with_channel(AudioChannel::Stereo);
        if let Some(c) = codec {
            p = p.with_codec(c);
        }
        let e = audio(p).unwrap_err();
        assert!(matches!(e, ParamsError::StereoNeedsOpus { .. }), "{e}");
        assert_eq!(e.status_code(), StatusCode::InvalidMediaAudioChannel);
    }
    // Mono is fine with every codec.
    for codec in [Codec::L16, Codec::G711, Codec::G722] {
        audio(
            AudioParams::new()
                .with_codec(codec)
                .with_channel(AudioChannel::Mono),
        )
        .unwrap();
    }
}

#[test]
fn send_rate_multiple_of_20_up_to_1000() {
    for ok in [20, 40, 100, 500, 980, 1000] {
        audio(AudioParams::new().with_send_rate(ok)).unwrap();
    }
    for bad in [0, -20, 10, 30, 101, 1020, 2000] {
        let e = audio(AudioParams::new().with_send_rate(bad)).unwrap_err();
        assert_eq!(e, ParamsError::SendRate { value: bad });
        assert_eq!(e.status_code(), StatusCode::InvalidMediaAudioSendRate);
    }
}

#[test]
fn audio_enum_values() {
    // RTP (1) is still accepted for audio, raw audio (2) is the default.
    audio(AudioParams::new().with_content_type(MediaContentType::Rtp)).unwrap();
    audio(AudioParams::new().with_content_type(MediaContentType::RawAudio)).unwrap();
    let e = audio(AudioParams::new().with_content_type(MediaContentType::Text)).unwrap_err();
    assert_eq!(
        e,
        ParamsError::ContentType {
            kind: MediaKind::Audio,
            value: 5
        }
    );
    assert_eq!(e.status_code(), StatusCode::InvalidMediaAudioContentType);

    let e = audio(AudioParams::new().with_sample_rate(SampleRate::Other(4))).unwrap_err();
    assert_eq!(e, ParamsError::SampleRate { value: 4 });
    let e = audio(AudioParams::new().with_channel(AudioChannel::Other(3))).unwrap_err();
    assert_eq!(e, ParamsError::Channel { value: 3 });
    let e = audio(AudioParams::new().with_codec(Codec::H264)).unwrap_err();
    assert_eq!(
        e,
        ParamsError::Codec {
            kind: MediaKind::Audio,
            value: 7
        }
    );
    assert_eq!(e.status_code(), StatusCode::InvalidMediaAudioCodec);

    audio(AudioParams::new().with_data_opt(DataOption::AudioMultiStreams)).unwrap();
    audio(AudioParams::new().with_data_opt(DataOption::AudioMixedStream)).unwrap();
    let e =
        audio(AudioParams::new().with_data_opt(DataOption::VideoSingleActiveStream)).unwrap_err();
    assert_eq!(
        e,
        ParamsError::DataOption {
            kind: MediaKind::Audio,
            value: 3
        }
    );
    assert_eq!(e.status_code(), StatusCode::InvalidMediaAudioDataOpt);
}

#[test]
fn video_image_codecs_up_to_5_fps() {
    for codec in [Codec::Jpg, Codec::Png] {
        for fps in 1..=5 {
            video(VideoParams::new().with_codec(codec).with_fps(fps)).unwrap();
        }
        let e = video(VideoParams::new().with_codec(codec).with_fps(6)).unwrap_err();
        assert_eq!(
            e,
            ParamsError::ImageFps {
                kind: MediaKind::Video,
                codec,
                fps: 6,
                max: 5
            }
        );
        assert_eq!(e.status_code(), StatusCode::InvalidMediaVideoFps);
    }
    for fps in [1, 6, 25, 30] {
        video(VideoParams::new().with_codec(Codec::H264).with_fps(fps)).unwrap();
    }
    // Without a codec the server would fall back to JPG at 5 fps: refused.
    let e = video(VideoParams::new().with_fps(25)).unwrap_err();
    assert_eq!(
        e,
        ParamsError::FpsNeedsCodec {
            kind: MediaKind::Video,
            fps: 25,
            max: 5
        }
    );
    video(VideoParams::new().with_fps(5)).unwrap();
}

#[test]
fn fps_from_1_to_30() {
    for bad in [0, -1, 31, 60] {
        let e = video(VideoParams::new().with_codec(Codec::H264).with_fps(bad)).unwrap_err();
        assert_eq!(
            e,
            ParamsError::Fps {
                kind: MediaKind::Video,
                value: bad
            }
        );
        let e = share(VideoParams::new().with_codec(Codec::H264).with_fps(bad)).unwrap_err();
        assert_eq!(
            e,
            ParamsError::Fps {
                kind: MediaKind::Deskshare,
                value: bad
            }
        );
        assert_eq!(e.status_code(), StatusCode::InvalidMediaDeskshareFps);
    }
}

#[test]
fn deskshare_image_codecs_up_to_1_fps_by_default() {
    share(VideoParams::new().with_codec(Codec::Jpg).with_fps(1)).unwrap();
    share(VideoParams::new().with_codec(Codec::H264).with_fps(2)).unwrap();
    let e = share(VideoParams::new().with_codec(Codec::Png).with_fps(2)).unwrap_err();
    assert_eq!(
        e,
        ParamsError::ImageFps {
            kind: MediaKind::Deskshare,
            codec: Codec::Png,
            fps: 2,
            max: 1
        }
    );
    let e = share(VideoParams::new().with_fps(2)).unwrap_err();
    assert_eq!(
        e,
        ParamsError::FpsNeedsCodec {
            kind: MediaKind::Deskshare,
            fps: 2,
            max: 1
        }
    );
    // The SDK's limit (5), by override.
    let rules = Rules::default().with_deskshare_image_max_fps(5);
    let p =
        MediaParams::new().with_deskshare(VideoParams::new().with_codec(Codec::Png).with_fps(5));
    p.validate_with(MediaTypes::DESKSHARE, &rules).unwrap();
}

#[test]
fn video_enum_values() {
    let e = video(VideoParams::new().with_codec(Codec::L16)).unwrap_err();
    assert_eq!(
        e,
        ParamsError::Codec {
            kind: MediaKind::Video,
            value: 1
        }
    );
    assert_eq!(e.status_code(), StatusCode::InvalidMediaVideoCodec);
    let e = share(VideoParams::new().with_codec(Codec::Opus)).unwrap_err();
    assert_eq!(e.status_code(), StatusCode::InvalidMediaDeskshareCodec);

    let e = video(VideoParams::new().with_resolution(Resolution::Other(5))).unwrap_err();
    assert_eq!(
        e,
        ParamsError::Resolution {
            kind: MediaKind::Video,
            value: 5
        }
    );
    assert_eq!(e.status_code(), StatusCode::InvalidMediaVideoResolution);
    for r in [
        Resolution::Sd,
        Resolution::Hd,
        Resolution::Fhd,
        Resolution::Qhd,
    ] {
        video(VideoParams::new().with_resolution(r)).unwrap();
        share(VideoParams::new().with_resolution(r)).unwrap();
    }

    let e = video(VideoParams::new().with_content_type(MediaContentType::RawAudio)).unwrap_err();
    assert_eq!(e.status_code(), StatusCode::InvalidMediaVideoContentType);
    video(VideoParams::new().with_content_type(MediaContentType::RawVideo)).unwrap();

    video(VideoParams::new().with_data_opt(DataOption::VideoSingleActiveStream)).unwrap();
    video(VideoParams::new().with_data_opt(DataOption::VideoSingleIndividualStream)).unwrap();
    let legacy = VideoParams::new().with_data_opt(DataOption::VideoMixedGalleryView);
    let e = video(legacy.clone()).unwrap_err();
    assert_eq!(
        e,
        ParamsError::DataOption {
            kind: MediaKind::Video,
            value: 5
        }
    );
    assert_eq!(e.status_code(), StatusCode::InvalidMediaVideoDataOpt);
    MediaParams::new()
        .with_video(legacy)
        .validate_with(
            MediaTypes::VIDEO,
            &Rules::default().with_legacy_video_data_opt(true),
        )
        .unwrap();
    let e = video(VideoParams::new().with_data_opt(DataOption::AudioMixedStream)).unwrap_err();
    assert_eq!(
        e,
        ParamsError::DataOption {
            kind: MediaKind::Video,
            value: 1
        }
    );
    // Screen share has no data option.
    let e =
        share(VideoParams::new().with_data_opt(DataOption::VideoSingleActiveStream)).unwrap_err();
    assert_eq!(
        e,
        ParamsError::DataOption {
            kind: MediaKind::Deskshare,
            value: 3
        }
    );
}

#[test]
fn transcript_and_chat() {
    let t = |p: TranscriptParams| {
        MediaParams::new()
            .with_transcript(p)
            .validate(MediaTypes::TRANSCRIPT)
    };
    t(TranscriptParams::new().with_content_type(MediaContentType::Text)).unwrap();
    for lang in [-1, 0, 9, 36] {
        t(TranscriptParams::new()
            .with_src_language(TranscriptLanguage::from(lang))
            .with_enable_lid(false))
        .unwrap();
    }
    for bad in [-2, 37] {
        let e = t(TranscriptParams::new().with_src_language(TranscriptLanguage::from(bad)))
            .unwrap_err();
        assert_eq!(e, ParamsError::Language { value: bad });
        assert_eq!(
            e.status_code(),
            StatusCode::InvalidMediaTranscriptSourceLanguage
        );
    }
    let e = t(TranscriptParams::new().with_content_type(MediaContentType::RawAudio)).unwrap_err();
    assert_eq!(
        e.status_code(),
        StatusCode::InvalidMediaTranscriptContentType
    );

    let c = |p: ChatParams| MediaParams::new().with_chat(p).validate(MediaTypes::CHAT);
    c(ChatParams::new().with_content_type(MediaContentType::Text)).unwrap();
    let e = c(ChatParams::new().with_content_type(MediaContentType::RawVideo)).unwrap_err();
    assert_eq!(
        e,
        ParamsError::ContentType {
            kind: MediaKind::Chat,
            value: 3
        }
    );
    assert_eq!(e.status_code(), StatusCode::InvalidMediaChatContentType);
}

#[test]
fn audio_format_and_packet_sizes() {
    let f = AudioParams::new().format();
    assert_eq!(f.l16_packet_bytes(), Some(640));
    assert_eq!(
        AudioParams::new()
            .with_send_rate(100)
            .format()
            .l16_packet_bytes(),
        Some(3200)
    );
    assert_eq!(
        AudioParams::new()
            .with_send_rate(1000)
            .format()
            .l16_packet_bytes(),
        Some(32000)
    );
    let opus = AudioParams::new()
        .with_codec(Codec::Opus)
        .with_sample_rate(SampleRate::Sr48k)
        .format();
    assert_eq!(opus.l16_packet_bytes(), None);
    assert_eq!(opus.data_opt, DataOption::AudioMixedStream);
}

#[test]
fn every_error_has_a_message_and_a_status() {
    let errors = [
        ParamsError::MediaType { bits: 0 },
        ParamsError::NotRequested {
            kind: MediaKind::Chat,
        },
        ParamsError::SendRate { value: 7 },
        ParamsError::Language { value: 99 },
    ];
    for e in errors {
        assert!(!e.to_string().is_empty());
        assert!(!e.status_code().is_ok());
        assert!(e.status_code().is_known());
    }
}
