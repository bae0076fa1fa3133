//! The integer code tables of RTMS, shared by the webhook events and the protocol: message
//! types, status codes, stop reasons, stream and session states, as Zoom's
//! [data types](https://developers.zoom.us/docs/rtms/data-types/) define them (each table, with
//! what the crate does with each code: `docs/protocol.md`).
//!
//! Every table is an open enum: a code this crate does not name is kept as `Other(code)`, never
//! rejected, and equality compares codes (`StatusCode::Other(8) == StatusCode::DuplicateSignalRequest`).
//! Each serialises as its integer and deserialises from an integer or a string of digits.
//!
//! ```
//! use zoom_rtms_webhooks::codes::{MsgType, StatusCode, StopReason, StreamState};
//!
//! assert_eq!(MsgType::from(12), MsgType::KeepAliveRequest);
//! assert_eq!(StatusCode::from(3), StatusCode::InvalidSignature);
//! assert!(StatusCode::DuplicateSignalRequest.is_retryable());
//! assert_eq!(StopReason::from(20), StopReason::ReceiverRequestClose);
//! assert!(StreamState::from(4).is_terminated());
//! ```

code_enum! {
    /// `RTMS_MESSAGE_TYPE` (`docs/protocol.md#message-types`): the `msg_type` of every RTMS
    /// message, 1–29; open for codes this crate does not name.
    ///
    /// Equality and hashing are by code: `MsgType::Other(2)` equals
    /// `MsgType::SignalingHandshakeResponse`; [`From<i64>`](MsgType::from) always gives the
    /// named variant.
    ///
    /// ```
    /// use zoom_rtms_webhooks::codes::MsgType;
    ///
    /// assert_eq!(MsgType::from(2), MsgType::SignalingHandshakeResponse);
    /// assert_eq!(MsgType::KeepAliveRequest.code(), 12);
    /// assert_eq!(MsgType::from(29), MsgType::VideoSubscriptionResponse);
    /// assert_eq!(MsgType::from(99), MsgType::Other(99));
    /// assert_eq!(MsgType::KeepAliveRequest.to_string(), "keep-alive request (12)");
    /// ```
    pub enum MsgType ("zoom_rtms_webhooks::codes::MsgType") {
        /// 1: `SIGNALING_HAND_SHAKE_REQ`
        /// ([`SignalingHandshakeRequest`](crate::handshake::SignalingHandshakeRequest)).
        SignalingHandshakeRequest = 1 => "signaling handshake request",
        /// 2: `SIGNALING_HAND_SHAKE_RESP`
        /// ([`SignalingHandshakeResponse`](crate::handshake::SignalingHandshakeResponse)).
        SignalingHandshakeResponse = 2 => "signaling handshake response",
        /// 3: `DATA_HAND_SHAKE_REQ`: media (data) connection handshake request.
        DataHandshakeRequest = 3 => "data handshake request",
        /// 4: `DATA_HAND_SHAKE_RESP`: media (data) connection handshake response.
        DataHandshakeResponse = 4 => "data handshake response",
        /// 5: `EVENT_SUBSCRIPTION` (subscribe / unsubscribe).
        EventSubscription = 5 => "event subscription",
        /// 6: `EVENT_UPDATE` (an event occurred).
        EventUpdate = 6 => "event update",
        /// 7: `CLIENT_READY_ACK`: client ready to receive media.
        ClientReadyAck = 7 => "client ready ack",
        /// 8: `STREAM_STATE_UPDATE`.
        StreamStateUpdate = 8 => "stream state update",
        /// 9: `SESSION_STATE_UPDATE` (e.g. paused / resumed).
        SessionStateUpdate = 9 => "session state update",
        /// 10: `SESSION_STATE_REQ`.
        SessionStateRequest = 10 => "session state request",
        /// 11: `SESSION_STATE_RESP`.
        SessionStateResponse = 11 => "session state response",
        /// 12: `KEEP_ALIVE_REQ` (answer with 13).
        KeepAliveRequest = 12 => "keep-alive request",
        /// 13: `KEEP_ALIVE_RESP`.
        KeepAliveResponse = 13 => "keep-alive response",
        /// 14: `MEDIA_DATA_AUDIO`.
        MediaDataAudio = 14 => "audio data",
        /// 15: `MEDIA_DATA_VIDEO`.
        MediaDataVideo = 15 => "video data",
        /// 16: `MEDIA_DATA_SHARE`.
        MediaDataShare = 16 => "screen-share data",
        /// 17: `MEDIA_DATA_TRANSCRIPT`.
        MediaDataTranscript = 17 => "transcript data",
        /// 18: `MEDIA_DATA_CHAT`.
        MediaDataChat = 18 => "chat data",
        /// 19: `STREAM_STATE_REQ`.
        StreamStateRequest = 19 => "stream state request",
        /// 20: `STREAM_STATE_RESP`.
        StreamStateResponse = 20 => "stream state response",
        /// 21: `STREAM_CLOSE_REQ`.
        StreamCloseRequest = 21 => "stream close request",
        /// 22: `STREAM_CLOSE_RESP`.
        StreamCloseResponse = 22 => "stream close response",
        /// 23: `META_DATA_AUDIO` (payload undocumented).
        MetaDataAudio = 23 => "audio metadata",
        /// 24: `META_DATA_VIDEO` (reserved).
        MetaDataVideo = 24 => "video metadata",
        /// 25: `META_DATA_SHARE` (reserved).
        MetaDataShare = 25 => "screen-share metadata",
        /// 26: `META_DATA_TRANSCRIPT` (reserved).
        MetaDataTranscript = 26 => "transcript metadata",
        /// 27: `META_DATA_CHAT` (reserved).
        MetaDataChat = 27 => "chat metadata",
        /// 28: `VIDEO_SUBSCRIPTION_REQ`.
        VideoSubscriptionRequest = 28 => "video subscription request",
        /// 29: `VIDEO_SUBSCRIPTION_RESP`.
        VideoSubscriptionResponse = 29 => "video subscription response",
    }
    other = "unknown message type";
}

code_enum! {
    /// `RTMS_STATUS_CODE`: the `status_code` of handshake, close and subscription responses
    /// (`docs/protocol.md#status-codes`: Zoom's current table; the 0–75 numbering of Zoom's old
    /// beta mock server is not used).
    ///
    /// ```
    /// use zoom_rtms_webhooks::codes::{StatusCategory, StatusCode};
    ///
    /// let s = StatusCode::from(16);
    /// assert_eq!(s, StatusCode::DuplicateMediaDataConnection);
    /// assert_eq!(s.category(), StatusCategory::Connection);
    /// assert!(!s.is_retryable());
    /// assert_eq!(StatusCode::from(99), StatusCode::Other(99));
    /// assert_eq!(StatusCode::InvalidSignature.to_string(), "invalid signature (3)");
    /// ```
    pub enum StatusCode ("zoom_rtms_webhooks::codes::StatusCode") {
        /// 0: `STATUS_OK`.
        Ok = 0 => "ok",
        /// 1: `INVALID_MESSAGE_TYPE`.
        InvalidMessageType = 1 => "invalid message type",
        /// 2: `INVALID_RTMS_STREAM_ID`.
        InvalidRtmsStreamId = 2 => "invalid RTMS stream id",
        /// 3: `INVALID_SIGNATURE`.
        InvalidSignature = 3 => "invalid signature",
        /// 4: `INVALID_PAYLOAD`.
        InvalidPayload = 4 => "invalid payload",
        /// 5: `INVALID_EVENTS`.
        InvalidEvents = 5 => "invalid events",
        /// 6: `INVALID_EVENT_TYPE`.
        InvalidEventType = 6 => "invalid event type",
        /// 7: `INVALID_MEDIA_TYPE`.
        InvalidMediaType = 7 => "invalid media type",
        /// 8: `DUPLICATE_SIGNAL_REQUEST`: another signalling connection for the stream is
        /// still active (the only retryable code).
        DuplicateSignalRequest = 8 => "duplicate signal request",
        /// 9: `MEDIA_TYPE_AUDIO_NOT_SUPPORT`.
        MediaTypeAudioNotSupported = 9 => "audio not supported",
        /// 10: `MEDIA_TYPE_VIDEO_NOT_SUPPORT`.
        MediaTypeVideoNotSupported = 10 => "video not supported",
        /// 11: `MEDIA_TYPE_DESKSHARE_NOT_SUPPORT`.
        MediaTypeDeskshareNotSupported = 11 => "screen share not supported",
        /// 12: `MEDIA_TYPE_TRANSCRIPT_NOT_SUPPORT`.
        MediaTypeTranscriptNotSupported = 12 => "transcript not supported",
        /// 13: `MEDIA_TYPE_CHAT_NOT_SUPPORT`.
        MediaTypeChatNotSupported = 13 => "chat not supported",
        /// 14: `MEDIA_TYPE_INVALID_VALUE`: an invalid `media_type` bitmask.
        MediaTypeInvalidValue = 14 => "invalid media type value",
        /// 15: `MEDIA_DATA_ALL_CONNECTION_EXIST`: an "all" media connection already exists.
        MediaDataAllConnectionExist = 15 => "an all-media connection already exists",
        /// 16: `DUPLICATE_MEDIA_DATA_CONNECTION`: a media connection of this type already exists.
        DuplicateMediaDataConnection = 16 => "duplicate media data connection",
        /// 17: `INVALID_MEDIA_PARAMS`.
        InvalidMediaParams = 17 => "invalid media params",
        /// 18: `INVALID_MEDIA_AUDIO_PARAMS`.
        InvalidMediaAudioParams = 18 => "invalid audio params",
        /// 19: `INVALID_MEDIA_AUDIO_CONTENT_TYPE`.
        InvalidMediaAudioContentType = 19 => "invalid audio content type",
        /// 20: `INVALID_MEDIA_AUDIO_SAMPLE_RATE`.
        InvalidMediaAudioSampleRate = 20 => "invalid audio sample rate",
        /// 21: `INVALID_MEDIA_AUDIO_CHANNEL`.
        InvalidMediaAudioChannel = 21 => "invalid audio channel",
        /// 22: `INVALID_MEDIA_AUDIO_CODEC`.
        InvalidMediaAudioCodec = 22 => "invalid audio codec",
        /// 23: `INVALID_MEDIA_AUDIO_DATA_OPT`.
        InvalidMediaAudioDataOpt = 23 => "invalid audio data option",
        /// 24: `INVALID_MEDIA_AUDIO_SEND_RATE`.
        InvalidMediaAudioSendRate = 24 => "invalid audio send rate",
        /// 25: `INVALID_MEDIA_VIDEO_PARAMS`.
        InvalidMediaVideoParams = 25 => "invalid video params",
        /// 26: `INVALID_MEDIA_VIDEO_CONTENT_TYPE`.
        InvalidMediaVideoContentType = 26 => "invalid video content type",
        /// 27: `INVALID_MEDIA_VIDEO_CODEC`.
        InvalidMediaVideoCodec = 27 => "invalid video codec",
        /// 28: `INVALID_MEDIA_VIDEO_RESOLUTION`.
        InvalidMediaVideoResolution = 28 => "invalid video resolution",
        /// 29: `INVALID_MEDIA_VIDEO_DATA_OPT`.
        InvalidMediaVideoDataOpt = 29 => "invalid video data option",
        /// 30: `INVALID_MEDIA_VIDEO_FPS`.
        InvalidMediaVideoFps = 30 => "invalid video fps",
        /// 31: `INVALID_MEDIA_DESKSHARE_PARAMS`.
        InvalidMediaDeskshareParams = 31 => "invalid screen share params",
        /// 32: `INVALID_MEDIA_DESKSHARE_CONTENT_TYPE`.
        InvalidMediaDeskshareContentType = 32 => "invalid screen share content type",
        /// 33: `INVALID_MEDIA_DESKSHARE_CODEC`.
        InvalidMediaDeskshareCodec = 33 => "invalid screen share codec",
        /// 34: `INVALID_MEDIA_DESKSHARE_RESOLUTION`.
        InvalidMediaDeskshareResolution = 34 => "invalid screen share resolution",
        /// 35: `INVALID_MEDIA_DESKSHARE_FPS`.
        InvalidMediaDeskshareFps = 35 => "invalid screen share fps",
        /// 36: `INVALID_MEDIA_TRANSCRIPT_PARAMS`.
        InvalidMediaTranscriptParams = 36 => "invalid transcript params",
        /// 37: `INVALID_MEDIA_TRANSCRIPT_CONTENT_TYPE`.
        InvalidMediaTranscriptContentType = 37 => "invalid transcript content type",
        /// 38: `INVALID_MEDIA_CHAT_PARAMS`.
        InvalidMediaChatParams = 38 => "invalid chat params",
        /// 39: `INVALID_MEDIA_CHAT_CONTENT_TYPE`.
        InvalidMediaChatContentType = 39 => "invalid chat content type",
        /// 40: `INVALID_RTMS_SESSION_ID`.
        InvalidRtmsSessionId = 40 => "invalid RTMS session id",
        /// 41: `INVALID_CLIENT_READY_ACK`.
        InvalidClientReadyAck = 41 => "invalid client ready ack",
        /// 42: `INVALID_EVENT_SUBSCRIBE`.
        InvalidEventSubscribe = 42 => "invalid event subscription",
        /// 43: `INVALID_MEDIA_TRANSCRIPT_SOURCE_LANGUAGE` (spelled "SROUCE" in Zoom's samples).
        InvalidMediaTranscriptSourceLanguage = 43 => "invalid transcript source language",
        /// 44: `DUPLICATE_VIDEO_SUBSCRIPTION`.
        DuplicateVideoSubscription = 44 => "duplicate video subscription",
        /// 45: `INTERNAL_EXCEPTION`.
        InternalException = 45 => "internal exception",
        /// 46: `INVALID_MEDIA_TRANSCRIPT_TARGET_LANGUAGE` (from Zoom's samples only).
        InvalidMediaTranscriptTargetLanguage = 46 => "invalid transcript target language",
        /// 47: `CHAT_SESSION_KEY_NOT_AVAILABLE` (from Zoom's samples only).
        ChatSessionKeyNotAvailable = 47 => "chat session key not available",
    }
    other = "unknown status";
}

/// The error category of a [`StatusCode`], as Zoom's samples library classifies it
/// (`RTMSError.js` in [zoom/rtms-samples](https://github.com/zoom/rtms-samples);
/// `docs/protocol.md#status-codes`). The samples never retry `Auth`, `Request` or `Stream`
/// errors.
///
/// ```
/// use zoom_rtms_webhooks::codes::{StatusCategory, StatusCode};
///
/// assert_eq!(StatusCode::InvalidSignature.category(), StatusCategory::Auth);
/// assert_eq!(StatusCode::InvalidMediaAudioSendRate.category(), StatusCategory::Request);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatusCategory {
    /// 0: success.
    Ok,
    /// 3: the signature was refused.
    Auth,
    /// The request was malformed or asked for invalid parameters.
    Request,
    /// The stream or session id is unknown.
    Stream,
    /// 8, 15, 16: a connection of this kind already exists.
    Connection,
    /// 9–13: the media type is not available to this app or product.
    Media,
    /// 45, 47: a failure on Zoom's side.
    Server,
    /// A code this crate does not name.
    Unknown,
}

impl StatusCode {
    /// Whether this is `STATUS_OK` (0).
    ///
    /// ```
    /// use zoom_rtms_webhooks::codes::StatusCode;
    /// assert!(StatusCode::from(0).is_ok());
    /// assert!(!StatusCode::from(3).is_ok());
    /// ```
    pub fn is_ok(self) -> bool {
        self.code() == 0
    }

    /// The category of the code (`docs/protocol.md#status-codes`).
    ///
    /// ```
    /// use zoom_rtms_webhooks::codes::{StatusCategory, StatusCode};
    /// assert_eq!(StatusCode::MediaTypeVideoNotSupported.category(), StatusCategory::Media);
    /// assert_eq!(StatusCode::from(1000).category(), StatusCategory::Unknown);
    /// ```
    pub fn category(self) -> StatusCategory {
        match self.code() {
            0 => StatusCategory::Ok,
            3 => StatusCategory::Auth,
            2 | 40 => StatusCategory::Stream,
            8 | 15 | 16 => StatusCategory::Connection,
            9..=13 => StatusCategory::Media,
            45 | 47 => StatusCategory::Server,
            1 | 4..=7 | 14 | 17..=39 | 41..=44 | 46 => StatusCategory::Request,
            _ => StatusCategory::Unknown,
        }
    }

    /// Whether retrying the same request later can succeed: only 8
    /// (`DUPLICATE_SIGNAL_REQUEST`, the previous connection has not fully closed). Zoom's
    /// samples retry it at 1.5, 3 and 6 s, and treat every other error as final (14, 15 and 16
    /// included).
    ///
    /// ```
    /// use zoom_rtms_webhooks::codes::StatusCode;
    /// assert!(StatusCode::from(8).is_retryable());
    /// assert!(!StatusCode::from(15).is_retryable());
    /// ```
    pub fn is_retryable(self) -> bool {
        self.code() == 8
    }
}

code_enum! {
    /// `RTMS_STOP_REASON` (`docs/protocol.md#stop-reasons`): the `reason` of a stream-state update,
    /// the `stop_reason` of a session-state update and of the `*.rtms_stopped` /
    /// `*.rtms_interrupted` webhooks. Zoom's names are prefixed `STOP_BC_`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::codes::StopReason;
    ///
    /// assert_eq!(StopReason::from(14), StopReason::DataConnectionInterrupted);
    /// assert_eq!(StopReason::KeepAliveTimeout.code(), 24);
    /// assert!(StopReason::from(14).calls_for_restart());
    /// assert!(!StopReason::MeetingEnded.calls_for_restart());
    /// ```
    ///
    /// Deserializes from an integer or a string of decimal digits (`"6"`, `" 6 "`); serializes
    /// as an integer.
    ///
    /// ```
    /// use zoom_rtms_webhooks::codes::StopReason;
    ///
    /// let r: StopReason = serde_json::from_str("\"22\"").unwrap();
    /// assert_eq!(r, StopReason::AgentDisconnected);
    /// assert_eq!(StopReason::from(6).description(), "meeting, webinar or session ended");
    /// assert_eq!(StopReason::Other(6), StopReason::MeetingEnded);
    /// ```
    pub enum StopReason ("zoom_rtms_webhooks::codes::StopReason") {
        /// 0: `UNDEFINED`.
        Undefined = 0 => "undefined",
        /// 1: the host stopped the stream.
        HostTriggered = 1 => "host triggered",
        /// 2: the app's user stopped the stream.
        AppUserTriggered = 2 => "app user triggered",
        /// 3: the app's user left.
        AppUserLeft = 3 => "app user left",
        /// 4: the app's user was removed.
        AppUserEjected = 4 => "app user ejected",
        /// 5: the host disabled the app.
        HostDisabledApp = 5 => "host disabled the app",
        /// 6: the meeting, webinar or session ended.
        MeetingEnded = 6 => "meeting, webinar or session ended",
        /// 7: the stream was canceled.
        StreamCanceled = 7 => "stream canceled",
        /// 8: the stream was revoked ("assets must be deleted immediately").
        StreamRevoked = 8 => "stream revoked",
        /// 9: all apps were disabled.
        AllAppsDisabled = 9 => "all apps disabled",
        /// 10: an internal exception on Zoom's side.
        InternalException = 10 => "internal exception",
        /// 11: connection timeout.
        ConnectionTimeout = 11 => "connection timeout",
        /// 12: the instance's connection was interrupted.
        InstanceConnectionInterrupted = 12 => "instance connection interrupted",
        /// 13: the signalling connection was interrupted (expect `*.rtms_interrupted`).
        SignalConnectionInterrupted = 13 => "signal connection interrupted",
        /// 14: a media (data) connection was interrupted (reconnect media only).
        DataConnectionInterrupted = 14 => "data connection interrupted",
        /// 15: the app closed the signalling connection abnormally.
        SignalConnectionClosedAbnormally = 15 => "signal connection closed abnormally",
        /// 16: the app closed a media connection abnormally.
        DataConnectionClosedAbnormally = 16 => "data connection closed abnormally",
        /// 17: exit signal.
        ExitSignal = 17 => "exit signal",
        /// 18: authentication failure.
        AuthenticationFailure = 18 => "authentication failure",
        /// 19: the server stopped waiting for a reconnection.
        AwaitReconnectionTimeout = 19 => "await reconnection timeout",
        /// 20: the app sent a stream close request (message type 21).
        ReceiverRequestClose = 20 => "receiver requested close",
        /// 21: Contact Center: the customer disconnected.
        CustomerDisconnected = 21 => "customer disconnected",
        /// 22: Contact Center: the agent disconnected.
        AgentDisconnected = 22 => "agent disconnected",
        /// 23: an admin disabled the app.
        AdminDisabledApp = 23 => "admin disabled the app",
        /// 24: three consecutive keep-alive requests went unanswered.
        KeepAliveTimeout = 24 => "keep-alive timeout",
        /// 25: Contact Center: stopped through the API.
        ManualApiTriggered = 25 => "manual API trigger",
        /// 26: Contact Center: streaming is not supported (for this queue).
        StreamingNotSupported = 26 => "streaming not supported",
    }
    other = "unknown stop reason";
}

impl StopReason {
    /// Whether Zoom's
    /// [failover guide](https://developers.zoom.us/docs/rtms/meetings/failover-reconnection/)
    /// calls for a full connection restart after an `*.rtms_stopped` with this reason: 10–19
    /// and 24 (`docs/protocol.md#stop-reasons`).
    ///
    /// ```
    /// use zoom_rtms_webhooks::codes::StopReason;
    /// assert!(StopReason::from(24).calls_for_restart());
    /// assert!(!StopReason::from(20).calls_for_restart());
    /// ```
    pub fn calls_for_restart(self) -> bool {
        matches!(self.code(), 10..=19 | 24)
    }
}

code_enum! {
    /// `RTMS_STREAM_STATE` (`docs/protocol.md#stream-and-session-state`): the `state` of message
    /// types 8 and 20.
    ///
    /// ```
    /// use zoom_rtms_webhooks::codes::StreamState;
    /// assert_eq!(StreamState::from(2), StreamState::Interrupted);
    /// assert!(StreamState::Terminated.is_terminated());
    /// ```
    pub enum StreamState ("zoom_rtms_webhooks::codes::StreamState") {
        /// 0: inactive.
        Inactive = 0 => "inactive",
        /// 1: media data has started to flow.
        Active = 1 => "active",
        /// 2: a signalling or media connection has a problem.
        Interrupted = 2 => "interrupted",
        /// 3: the stream is about to be terminated.
        Terminating = 3 => "terminating",
        /// 4: the stream ended; stop reconnecting and close every socket.
        Terminated = 4 => "terminated",
        /// 5: paused.
        Paused = 5 => "paused",
        /// 6: resumed.
        Resumed = 6 => "resumed",
    }
    other = "unknown stream state";
}

impl StreamState {
    /// Whether the stream has ended (4, `TERMINATED`).
    ///
    /// ```
    /// use zoom_rtms_webhooks::codes::StreamState;
    /// assert!(StreamState::from(4).is_terminated());
    /// assert!(!StreamState::Terminating.is_terminated());
    /// ```
    pub fn is_terminated(self) -> bool {
        self.code() == 4
    }
}

code_enum! {
    /// `RTMS_SESSION_STATE` (`docs/protocol.md#stream-and-session-state`): the `state` of message
    /// types 9 and 11. These are wire values, not the SDK's callback constants.
    ///
    /// ```
    /// use zoom_rtms_webhooks::codes::SessionState;
    /// assert_eq!(SessionState::from(5), SessionState::Stopped);
    /// assert!(SessionState::Stopped.is_stopped());
    /// ```
    pub enum SessionState ("zoom_rtms_webhooks::codes::SessionState") {
        /// 0: inactive.
        Inactive = 0 => "inactive",
        /// 1: initialising.
        Initialize = 1 => "initialize",
        /// 2: a new session started.
        Started = 2 => "started",
        /// 3: paused.
        Paused = 3 => "paused",
        /// 4: resumed.
        Resumed = 4 => "resumed",
        /// 5: stopped; Zoom's samples stop reconnecting.
        Stopped = 5 => "stopped",
    }
    other = "unknown session state";
}

impl SessionState {
    /// Whether the session stopped (5).
    ///
    /// ```
    /// use zoom_rtms_webhooks::codes::SessionState;
    /// assert!(SessionState::from(5).is_stopped());
    /// ```
    pub fn is_stopped(self) -> bool {
        self.code() == 5
    }
}

serde_code!(MsgType, StatusCode, StopReason, StreamState, SessionState);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msg_type_table_is_complete() {
        for code in 1..=29 {
            assert!(MsgType::from(code).is_known(), "{code}");
        }
        assert!(!MsgType::from(0).is_known());
        assert!(!MsgType::from(30).is_known());
    }

    #[test]
    fn status_table_is_complete_and_categorised() {
        for code in 0..=47 {
            let s = StatusCode::from(code);
            assert!(s.is_known(), "{code}");
            assert_ne!(s.category(), StatusCategory::Unknown, "{code}");
            assert_eq!(s.code(), code);
        }
        assert!(!StatusCode::from(48).is_known());
        assert_eq!(StatusCode::from(-1).category(), StatusCategory::Unknown);
    }

    #[test]
    fn stop_reason_table_is_complete() {
        for code in -2..=40 {
            let reason = StopReason::from(code);
            assert_eq!(reason.code(), code);
            assert_eq!(reason.is_known(), (0..=26).contains(&code), "{code}");
            assert_eq!(reason, StopReason::Other(code));
        }
    }

    #[test]
    fn serde_integer_and_string() {
        assert_eq!(
            serde_json::to_string(&StatusCode::InvalidSignature).unwrap(),
            "3"
        );
        let s: StatusCode = serde_json::from_str("\"8\"").unwrap();
        assert_eq!(s, StatusCode::DuplicateSignalRequest);
        let s: StreamState = serde_json::from_str("4").unwrap();
        assert!(s.is_terminated());
        let r: StopReason = serde_json::from_str("8").unwrap();
        assert_eq!(r, StopReason::StreamRevoked);
        let r: StopReason = serde_json::from_str("\" 3 \"").unwrap();
        assert_eq!(r, StopReason::AppUserLeft);
        assert!(serde_json::from_str::<StopReason>("\"x\"").is_err());
        assert!(serde_json::from_str::<StopReason>("1.5").is_err());
        // An integral float is the integer, as everywhere else in the crate.
        let r: StopReason = serde_json::from_str("6.0").unwrap();
        assert_eq!(r, StopReason::MeetingEnded);
        assert!(serde_json::from_str::<StopReason>("{}").is_err());
        assert!(serde_json::from_str::<StopReason>("18446744073709551615").is_err());
        assert_eq!(serde_json::to_string(&StopReason::Other(77)).unwrap(), "77");
        let m: MsgType = serde_json::from_str("28").unwrap();
        assert_eq!(m, MsgType::VideoSubscriptionRequest);
    }
}
