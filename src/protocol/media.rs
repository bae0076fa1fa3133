//! Media parameters of the data handshake (message type 3) with their enums, the `media_type`
//! bitmask, and their validation before dialling (`docs/protocol.md#media-parameters`: values,
//! defaults, each validation rule with its source and status code).
//!
//! Every field is optional: an absent field is omitted from the request and the server applies
//! its default (shown by the `effective` getters, for example [`AudioParams::format`]). The same
//! types read the **confirmed** parameters of the data handshake response (message type 4),
//! tolerantly: a field of an odd type is read as absent.
//!
//! ```
//! use zoom_rtms_webhooks::protocol::media::{AudioChannel, AudioParams, Codec, DataOption, MediaParams, SampleRate};
//! use zoom_rtms_webhooks::handshake::{MediaTypes};
//!
//! let params = MediaParams::new().with_audio(
//!     AudioParams::new()
//!         .with_codec(Codec::L16)
//!         .with_sample_rate(SampleRate::Sr16k)
//!         .with_channel(AudioChannel::Mono)
//!         .with_data_opt(DataOption::AudioMultiStreams)
//!         .with_send_rate(20),
//! );
//! params.validate(MediaTypes::AUDIO).unwrap();
//!
//! // Stereo is only supported with Opus, and Opus only at 48 kHz:
//! let stereo = AudioParams::new().with_channel(AudioChannel::Stereo);
//! let err = MediaParams::new().with_audio(stereo).validate(MediaTypes::AUDIO).unwrap_err();
//! assert_eq!(err.to_string(), "audio: stereo needs the Opus codec, not L16 (1)");
//! ```

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::codes::StatusCode;
use crate::handshake::{MediaKind, MediaTypes};
use crate::lenient::{Bool, Int, Obj};

code_enum! {
    /// `MEDIA_CONTENT_TYPE`: the `content_type` of every media parameter object.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::MediaContentType;
    /// assert_eq!(MediaContentType::from(2), MediaContentType::RawAudio);
    /// ```
    pub enum MediaContentType ("zoom_rtms_webhooks::protocol::media::MediaContentType") {
        /// 0: undefined.
        Undefined = 0 => "undefined",
        /// 1: RTP. Still accepted for audio (older samples send it); whether it yields
        /// RTP-framed packets is unconfirmed. Zoom's samples call 2 its alias.
        Rtp = 1 => "RTP",
        /// 2: raw audio (the audio default).
        RawAudio = 2 => "raw audio",
        /// 3: raw video (video and screen share).
        RawVideo = 3 => "raw video",
        /// 4: file stream.
        FileStream = 4 => "file stream",
        /// 5: text (transcript and chat).
        Text = 5 => "text",
    }
    other = "unknown content type";
}

code_enum! {
    /// `MEDIA_PAYLOAD_TYPE`: the `codec` of audio, video and screen-share parameters.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::Codec;
    /// assert_eq!(Codec::from(4), Codec::Opus);
    /// assert!(Codec::Opus.is_audio());
    /// assert!(Codec::Png.is_image());
    /// ```
    pub enum Codec ("zoom_rtms_webhooks::protocol::media::Codec") {
        /// 0: undefined.
        Undefined = 0 => "undefined",
        /// 1: L16, signed 16-bit little-endian PCM (the audio default).
        L16 = 1 => "L16",
        /// 2: G.711 (A-law).
        G711 = 2 => "G.711",
        /// 3: G.722.
        G722 = 3 => "G.722",
        /// 4: Opus (needs 48 kHz; the only codec that supports stereo).
        Opus = 4 => "Opus",
        /// 5: JPEG images (the video and screen-share default).
        Jpg = 5 => "JPG",
        /// 6: PNG images.
        Png = 6 => "PNG",
        /// 7: H.264.
        H264 = 7 => "H.264",
    }
    other = "unknown codec";
}

impl Codec {
    /// An audio codec (L16, G.711, G.722, Opus).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::Codec;
    /// assert!(Codec::G722.is_audio());
    /// assert!(!Codec::H264.is_audio());
    /// ```
    pub fn is_audio(self) -> bool {
        matches!(self.code(), 1..=4)
    }

    /// A video or screen-share codec (JPG, PNG, H.264).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::Codec;
    /// assert!(Codec::H264.is_video());
    /// assert!(!Codec::L16.is_video());
    /// ```
    pub fn is_video(self) -> bool {
        matches!(self.code(), 5..=7)
    }

    /// A still-image codec (JPG, PNG), limited to low frame rates.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::Codec;
    /// assert!(Codec::Jpg.is_image());
    /// assert!(!Codec::H264.is_image());
    /// ```
    pub fn is_image(self) -> bool {
        matches!(self.code(), 5 | 6)
    }
}

code_enum! {
    /// `AUDIO_SAMPLE_RATE`: the audio `sample_rate`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::SampleRate;
    /// assert_eq!(SampleRate::from(3), SampleRate::Sr48k);
    /// assert_eq!(SampleRate::Sr16k.hz(), Some(16_000));
    /// ```
    pub enum SampleRate ("zoom_rtms_webhooks::protocol::media::SampleRate") {
        /// 0: 8 kHz.
        Sr8k = 0 => "8 kHz",
        /// 1: 16 kHz (the default).
        Sr16k = 1 => "16 kHz",
        /// 2: 32 kHz.
        Sr32k = 2 => "32 kHz",
        /// 3: 48 kHz (required by Opus).
        Sr48k = 3 => "48 kHz",
    }
    other = "unknown sample rate";
}

impl SampleRate {
    /// The rate in Hz; `None` for an unknown code.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::SampleRate;
    /// assert_eq!(SampleRate::Sr8k.hz(), Some(8_000));
    /// assert_eq!(SampleRate::from(9).hz(), None);
    /// ```
    pub fn hz(self) -> Option<u32> {
        match self.code() {
            0 => Some(8_000),
            1 => Some(16_000),
            2 => Some(32_000),
            3 => Some(48_000),
            _ => None,
        }
    }
}

code_enum! {
    /// `AUDIO_CHANNEL`: the audio `channel`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::AudioChannel;
    /// assert_eq!(AudioChannel::from(2), AudioChannel::Stereo);
    /// ```
    pub enum AudioChannel ("zoom_rtms_webhooks::protocol::media::AudioChannel") {
        /// 1: mono (the default).
        Mono = 1 => "mono",
        /// 2: stereo (Opus only).
        Stereo = 2 => "stereo",
    }
    other = "unknown channel layout";
}

code_enum! {
    /// `MEDIA_DATA_OPTION`: the `data_opt` of audio and video parameters.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::DataOption;
    /// assert_eq!(DataOption::from(2), DataOption::AudioMultiStreams);
    /// ```
    pub enum DataOption ("zoom_rtms_webhooks::protocol::media::DataOption") {
        /// 0: undefined.
        Undefined = 0 => "undefined",
        /// 1: one mixed audio stream, `user_id` 0 (the audio default).
        AudioMixedStream = 1 => "mixed audio",
        /// 2: one stream per active speaker, up to 3 speakers per 20 ms.
        AudioMultiStreams = 2 => "audio per speaker",
        /// 3: the active speaker's video (the video default; no subscription needed).
        VideoSingleActiveStream = 3 => "active speaker video",
        /// 4: one participant's video, chosen with a video subscription (message type 28);
        /// once called `VIDEO_MIXED_SPEAKER_VIEW`.
        VideoSingleIndividualStream = 4 => "individual video",
        /// 5: legacy `VIDEO_MIXED_GALLERY_VIEW`, absent from the current tables (probably
        /// removed).
        VideoMixedGalleryView = 5 => "gallery view (legacy)",
    }
    other = "unknown data option";
}

code_enum! {
    /// Video and screen-share `resolution`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::Resolution;
    /// assert_eq!(Resolution::from(3), Resolution::Fhd);
    /// ```
    pub enum Resolution ("zoom_rtms_webhooks::protocol::media::Resolution") {
        /// 1: SD, 854×480 or 640×360.
        Sd = 1 => "SD",
        /// 2: HD, 1280×720 (the video default).
        Hd = 2 => "HD",
        /// 3: FHD, 1920×1080 (the screen-share default).
        Fhd = 3 => "FHD",
        /// 4: QHD, 2560×1440.
        Qhd = 4 => "QHD",
    }
    other = "unknown resolution";
}

code_enum! {
    /// `RTMS_TRANSCRIPT_LANGUAGE` (Zoom's
    /// [data types](https://developers.zoom.us/docs/rtms/data-types/)): transcript `src_language`
    /// and the `language` of transcript messages.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::TranscriptLanguage;
    /// assert_eq!(TranscriptLanguage::from(9), TranscriptLanguage::English);
    /// assert_eq!(TranscriptLanguage::None.code(), -1);
    /// ```
    pub enum TranscriptLanguage ("zoom_rtms_webhooks::protocol::media::TranscriptLanguage") {
        /// -1: none (auto-detect).
        None = -1 => "none",
        /// 0: Arabic.
        Arabic = 0 => "Arabic",
        /// 1: Bengali.
        Bengali = 1 => "Bengali",
        /// 2: Cantonese.
        Cantonese = 2 => "Cantonese",
        /// 3: Catalan.
        Catalan = 3 => "Catalan",
        /// 4: Chinese (Simplified).
        ChineseSimplified = 4 => "Chinese (Simplified)",
        /// 5: Chinese (Traditional).
        ChineseTraditional = 5 => "Chinese (Traditional)",
        /// 6: Czech.
        Czech = 6 => "Czech",
        /// 7: Danish.
        Danish = 7 => "Danish",
        /// 8: Dutch.
        Dutch = 8 => "Dutch",
        /// 9: English.
        English = 9 => "English",
        /// 10: Estonian.
        Estonian = 10 => "Estonian",
        /// 11: Finnish.
        Finnish = 11 => "Finnish",
        /// 12: French (Canada).
        FrenchCanada = 12 => "French (Canada)",
        /// 13: French (France).
        FrenchFrance = 13 => "French (France)",
        /// 14: German.
        German = 14 => "German",
        /// 15: Hebrew.
        Hebrew = 15 => "Hebrew",
        /// 16: Hindi.
        Hindi = 16 => "Hindi",
        /// 17: Hungarian.
        Hungarian = 17 => "Hungarian",
        /// 18: Indonesian.
        Indonesian = 18 => "Indonesian",
        /// 19: Italian.
        Italian = 19 => "Italian",
        /// 20: Japanese.
        Japanese = 20 => "Japanese",
        /// 21: Korean.
        Korean = 21 => "Korean",
        /// 22: Malay.
        Malay = 22 => "Malay",
        /// 23: Persian.
        Persian = 23 => "Persian",
        /// 24: Polish.
        Polish = 24 => "Polish",
        /// 25: Portuguese.
        Portuguese = 25 => "Portuguese",
        /// 26: Romanian.
        Romanian = 26 => "Romanian",
        /// 27: Russian.
        Russian = 27 => "Russian",
        /// 28: Spanish.
        Spanish = 28 => "Spanish",
        /// 29: Swedish.
        Swedish = 29 => "Swedish",
        /// 30: Tagalog.
        Tagalog = 30 => "Tagalog",
        /// 31: Tamil.
        Tamil = 31 => "Tamil",
        /// 32: Telugu.
        Telugu = 32 => "Telugu",
        /// 33: Thai.
        Thai = 33 => "Thai",
        /// 34: Turkish.
        Turkish = 34 => "Turkish",
        /// 35: Ukrainian.
        Ukrainian = 35 => "Ukrainian",
        /// 36: Vietnamese.
        Vietnamese = 36 => "Vietnamese",
    }
    other = "unknown language";
}

serde_code!(
    MediaContentType,
    Codec,
    SampleRate,
    AudioChannel,
    DataOption,
    Resolution,
    TranscriptLanguage
);

// ---------------------------------------------------------------------------------------------
// Parameter objects
// ---------------------------------------------------------------------------------------------

/// `media_params.audio` (`docs/protocol.md#media-parameters`). Absent fields are omitted and take
/// the server's defaults: raw audio, L16, 16 kHz, mono, mixed stream, 20 ms.
///
/// ```
/// use zoom_rtms_webhooks::protocol::media::{AudioParams, Codec, SampleRate};
///
/// let p = AudioParams::new().with_codec(Codec::Opus).with_sample_rate(SampleRate::Sr48k);
/// assert_eq!(
///     serde_json::to_string(&p).unwrap(),
///     r#"{"sample_rate":3,"codec":4}"#
/// );
/// assert_eq!(p.format().sample_rate_hz, Some(48_000));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AudioParams {
    content_type: Option<MediaContentType>,
    sample_rate: Option<SampleRate>,
    channel: Option<AudioChannel>,
    codec: Option<Codec>,
    data_opt: Option<DataOption>,
    send_rate: Option<i64>,
}

/// The audio format in effect: the requested or confirmed values with the protocol's defaults
/// filled in. What a payload of message type 14 contains.
///
/// ```
/// use zoom_rtms_webhooks::protocol::media::{AudioParams, Codec};
///
/// let f = AudioParams::new().format();
/// assert_eq!(f.codec, Codec::L16);
/// assert_eq!((f.sample_rate_hz, f.channels, f.send_rate_ms), (Some(16_000), 1, 20));
/// assert_eq!(f.l16_packet_bytes(), Some(640));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct AudioFormat {
    /// The content type (default raw audio).
    pub content_type: MediaContentType,
    /// The codec (default L16).
    pub codec: Codec,
    /// The sample rate in Hz (default 16 000); `None` for an unknown code.
    pub sample_rate_hz: Option<u32>,
    /// 1 (mono, the default) or 2 (stereo).
    pub channels: u32,
    /// Mixed (default) or one stream per speaker.
    pub data_opt: DataOption,
    /// Milliseconds of audio per message (default 20).
    pub send_rate_ms: i64,
}

/// The protocol's defaults: raw L16, 16 kHz, mono, mixed, 20 ms (what a server confirming
/// nothing sends).
///
/// ```
/// use zoom_rtms_webhooks::protocol::media::{AudioFormat, AudioParams};
/// assert_eq!(AudioFormat::default(), AudioParams::new().format());
/// assert_eq!(AudioFormat::default().l16_packet_bytes(), Some(640));
/// ```
impl Default for AudioFormat {
    fn default() -> Self {
        AudioParams::new().format()
    }
}

impl AudioFormat {
    /// Bytes per message for L16: `send_rate × rate × channels × 2` (640 for 20 ms at 16 kHz
    /// mono); `None` for another codec or an unknown rate.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::{AudioParams, SampleRate};
    /// let f = AudioParams::new().with_sample_rate(SampleRate::Sr8k).with_send_rate(100).format();
    /// assert_eq!(f.l16_packet_bytes(), Some(1600));
    /// ```
    pub fn l16_packet_bytes(&self) -> Option<u64> {
        if self.codec != Codec::L16 {
            return None;
        }
        let rate = u64::from(self.sample_rate_hz?);
        let ms = u64::try_from(self.send_rate_ms).ok()?;
        Some(ms * rate / 1000 * u64::from(self.channels) * 2)
    }
}

/// Generates `with_<field>` setters and `<field>` getters for optional fields.
macro_rules! accessors {
    ($ty:ident { $( $field:ident, $setter:ident : $fty:ty => $example:expr ),+ $(,)? }) => {
        impl $ty {
            $(
                #[doc = concat!("Sets `", stringify!($field), "` (omitted when never set).")]
                ///
                /// ```
                #[doc = concat!("use zoom_rtms_webhooks::protocol::media::*;")]
                #[doc = "use zoom_rtms_webhooks::handshake::{MediaKind, MediaTypes};"]
                #[doc = concat!("let p = ", stringify!($ty), "::new().", stringify!($setter), "(", stringify!($example), ");")]
                #[doc = concat!("assert_eq!(p.", stringify!($field), "(), Some(", stringify!($example), "));")]
                /// ```
                #[must_use]
                pub fn $setter(mut self, value: $fty) -> Self {
                    self.$field = Some(value);
                    self
                }

                #[doc = concat!("The `", stringify!($field), "` as set or confirmed; `None` when absent (the server's default applies).")]
                ///
                /// ```
                #[doc = concat!("use zoom_rtms_webhooks::protocol::media::", stringify!($ty), ";")]
                #[doc = concat!("assert!(", stringify!($ty), "::new().", stringify!($field), "().is_none());")]
                /// ```
                pub fn $field(&self) -> Option<$fty> {
                    self.$field
                }
            )+
        }
    };
}

/// Serialises the `Some` fields in the given order.
macro_rules! serialize_fields {
    ($self:ident, $s:ident, [$( $field:ident ),+ $(,)?]) => {{
        let len = 0 $( + usize::from($self.$field.is_some()) )+;
        let mut map = $s.serialize_map(Some(len))?;
        $(
            if let Some(v) = &$self.$field {
                map.serialize_entry(stringify!($field), v)?;
            }
        )+
        map.end()
    }};
}

fn code<T: From<i64>>(v: Int) -> Option<T> {
    v.0.map(T::from)
}

impl AudioParams {
    /// Empty parameters: every field takes the server's default.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::AudioParams;
    /// assert_eq!(serde_json::to_string(&AudioParams::new()).unwrap(), "{}");
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The format in effect, defaults filled in (raw audio, L16, 16 kHz, mono, mixed, 20 ms).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::{AudioChannel, AudioParams, Codec, SampleRate};
    /// let f = AudioParams::new()
    ///     .with_codec(Codec::Opus)
    ///     .with_sample_rate(SampleRate::Sr48k)
    ///     .with_channel(AudioChannel::Stereo)
    ///     .format();
    /// assert_eq!((f.codec, f.sample_rate_hz, f.channels), (Codec::Opus, Some(48_000), 2));
    /// ```
    pub fn format(&self) -> AudioFormat {
        AudioFormat {
            content_type: self.content_type.unwrap_or(MediaContentType::RawAudio),
            codec: self.codec.unwrap_or(Codec::L16),
            sample_rate_hz: self.sample_rate.unwrap_or(SampleRate::Sr16k).hz(),
            channels: if self.channel == Some(AudioChannel::Stereo) {
                2
            } else {
                1
            },
            data_opt: self.data_opt.unwrap_or(DataOption::AudioMixedStream),
            send_rate_ms: self.send_rate.unwrap_or(20),
        }
    }
}

accessors!(AudioParams {
    content_type, with_content_type: MediaContentType => MediaContentType::RawAudio,
    sample_rate, with_sample_rate: SampleRate => SampleRate::Sr16k,
    channel, with_channel: AudioChannel => AudioChannel::Mono,
    codec, with_codec: Codec => Codec::L16,
    data_opt, with_data_opt: DataOption => DataOption::AudioMultiStreams,
    send_rate, with_send_rate: i64 => 100,
});

impl Serialize for AudioParams {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_fields!(
            self,
            s,
            [
                content_type,
                sample_rate,
                channel,
                codec,
                data_opt,
                send_rate
            ]
        )
    }
}

impl<'de> Deserialize<'de> for AudioParams {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(default)]
        #[derive(Default)]
        struct Raw {
            content_type: Int,
            sample_rate: Int,
            channel: Int,
            codec: Int,
            data_opt: Int,
            send_rate: Int,
        }
        let r = Raw::deserialize(d)?;
        Ok(AudioParams {
            content_type: code(r.content_type),
            sample_rate: code(r.sample_rate),
            channel: code(r.channel),
            codec: code(r.codec),
            data_opt: code(r.data_opt),
            send_rate: r.send_rate.0,
        })
    }
}

/// `media_params.video` and `media_params.deskshare` (`docs/protocol.md#media-parameters`). Absent
/// fields take the server's defaults: JPG, HD at 5 fps, active speaker (video); JPG, FHD at 1 fps
/// (screen share).
///
/// ```
/// use zoom_rtms_webhooks::protocol::media::{Codec, DataOption, Resolution, VideoParams};
///
/// let p = VideoParams::new()
///     .with_codec(Codec::H264)
///     .with_resolution(Resolution::Hd)
///     .with_fps(25)
///     .with_data_opt(DataOption::VideoSingleIndividualStream);
/// assert_eq!(
///     serde_json::to_string(&p).unwrap(),
///     r#"{"codec":7,"resolution":2,"data_opt":4,"fps":25}"#
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VideoParams {
    content_type: Option<MediaContentType>,
    codec: Option<Codec>,
    resolution: Option<Resolution>,
    data_opt: Option<DataOption>,
    fps: Option<i64>,
}

impl VideoParams {
    /// Empty parameters: every field takes the server's default.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::VideoParams;
    /// assert_eq!(serde_json::to_string(&VideoParams::new()).unwrap(), "{}");
    /// ```
    pub fn new() -> Self {
        Self::default()
    }
}

accessors!(VideoParams {
    content_type, with_content_type: MediaContentType => MediaContentType::RawVideo,
    codec, with_codec: Codec => Codec::Jpg,
    resolution, with_resolution: Resolution => Resolution::Fhd,
    data_opt, with_data_opt: DataOption => DataOption::VideoSingleActiveStream,
    fps, with_fps: i64 => 5,
});

impl Serialize for VideoParams {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_fields!(self, s, [content_type, codec, resolution, data_opt, fps])
    }
}

impl<'de> Deserialize<'de> for VideoParams {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Raw {
            content_type: Int,
            codec: Int,
            resolution: Int,
            data_opt: Int,
            fps: Int,
        }
        let r = Raw::deserialize(d)?;
        Ok(VideoParams {
            content_type: code(r.content_type),
            codec: code(r.codec),
            resolution: code(r.resolution),
            data_opt: code(r.data_opt),
            fps: r.fps.0,
        })
    }
}

/// `media_params.transcript` (`docs/protocol.md#media-parameters`): `src_language` is a hint for
/// the first 30 s (auto-detected after, unless `enable_lid` is `false`). Read from a request, the
/// legacy key `language` is accepted for `src_language`; it is always written as `src_language`.
///
/// ```
/// use zoom_rtms_webhooks::protocol::media::{MediaContentType, TranscriptLanguage, TranscriptParams};
///
/// let p = TranscriptParams::new()
///     .with_content_type(MediaContentType::Text)
///     .with_src_language(TranscriptLanguage::English)
///     .with_enable_lid(true);
/// let json = serde_json::to_string(&p).unwrap();
/// assert_eq!(json, r#"{"content_type":5,"src_language":9,"enable_lid":true}"#);
///
/// let legacy: TranscriptParams = serde_json::from_str(r#"{"language":14}"#).unwrap();
/// assert_eq!(legacy.src_language(), Some(TranscriptLanguage::German));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TranscriptParams {
    content_type: Option<MediaContentType>,
    src_language: Option<TranscriptLanguage>,
    enable_lid: Option<bool>,
}

impl TranscriptParams {
    /// Empty parameters: every field takes the server's default.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::TranscriptParams;
    /// assert_eq!(serde_json::to_string(&TranscriptParams::new()).unwrap(), "{}");
    /// ```
    pub fn new() -> Self {
        Self::default()
    }
}

accessors!(TranscriptParams {
    content_type, with_content_type: MediaContentType => MediaContentType::Text,
    src_language, with_src_language: TranscriptLanguage => TranscriptLanguage::English,
    enable_lid, with_enable_lid: bool => false,
});

impl Serialize for TranscriptParams {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_fields!(self, s, [content_type, src_language, enable_lid])
    }
}

impl<'de> Deserialize<'de> for TranscriptParams {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Raw {
            content_type: Int,
            src_language: Int,
            language: Int,
            enable_lid: Bool,
        }
        let r = Raw::deserialize(d)?;
        Ok(TranscriptParams {
            content_type: code(r.content_type),
            src_language: code(if r.src_language.0.is_some() {
                r.src_language
            } else {
                r.language
            }),
            enable_lid: r.enable_lid.0,
        })
    }
}

/// `media_params.chat` (`docs/protocol.md#media-parameters`): only a content type (5, text).
///
/// ```
/// use zoom_rtms_webhooks::protocol::media::{ChatParams, MediaContentType};
/// let p = ChatParams::new().with_content_type(MediaContentType::Text);
/// assert_eq!(serde_json::to_string(&p).unwrap(), r#"{"content_type":5}"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatParams {
    content_type: Option<MediaContentType>,
}

impl ChatParams {
    /// Empty parameters: the server's default.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::ChatParams;
    /// assert_eq!(serde_json::to_string(&ChatParams::new()).unwrap(), "{}");
    /// ```
    pub fn new() -> Self {
        Self::default()
    }
}

accessors!(ChatParams {
    content_type, with_content_type: MediaContentType => MediaContentType::Text,
});

impl Serialize for ChatParams {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_fields!(self, s, [content_type])
    }
}

impl<'de> Deserialize<'de> for ChatParams {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Raw {
            content_type: Int,
        }
        let r = Raw::deserialize(d)?;
        Ok(ChatParams {
            content_type: code(r.content_type),
        })
    }
}

/// `media_params`: one optional object per media kind. Send only the objects of the kinds the
/// connection asks for ([`only`](MediaParams::only) picks them for one socket of split mode).
///
/// ```
/// use zoom_rtms_webhooks::protocol::media::*;
/// use zoom_rtms_webhooks::handshake::{MediaKind, MediaTypes};
///
/// let params = MediaParams::new()
///     .with_audio(AudioParams::new().with_send_rate(20))
///     .with_transcript(TranscriptParams::new().with_src_language(TranscriptLanguage::English));
/// assert_eq!(
///     serde_json::to_string(&params).unwrap(),
///     r#"{"audio":{"send_rate":20},"transcript":{"src_language":9}}"#
/// );
/// let audio_only = params.only(MediaTypes::AUDIO);
/// assert!(audio_only.transcript().is_none());
/// assert_eq!(audio_only.audio().and_then(|a| a.send_rate()), Some(20));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaParams {
    audio: Option<AudioParams>,
    video: Option<VideoParams>,
    deskshare: Option<VideoParams>,
    transcript: Option<TranscriptParams>,
    chat: Option<ChatParams>,
}

macro_rules! params_accessors {
    ($( $field:ident, $setter:ident : $fty:ty ),+ $(,)?) => {
        impl MediaParams {
            $(
                #[doc = concat!("Sets `media_params.", stringify!($field), "`.")]
                ///
                /// ```
                /// use zoom_rtms_webhooks::protocol::media::*;
                /// use zoom_rtms_webhooks::handshake::{MediaKind, MediaTypes};
                #[doc = concat!("let p = MediaParams::new().", stringify!($setter), "(", stringify!($fty), "::new());")]
                #[doc = concat!("assert!(p.", stringify!($field), "().is_some());")]
                /// ```
                #[must_use]
                pub fn $setter(mut self, value: $fty) -> Self {
                    self.$field = Some(value);
                    self
                }

                #[doc = concat!("`media_params.", stringify!($field), "`, if present.")]
                ///
                /// ```
                /// use zoom_rtms_webhooks::protocol::media::MediaParams;
                #[doc = concat!("assert!(MediaParams::new().", stringify!($field), "().is_none());")]
                /// ```
                pub fn $field(&self) -> Option<&$fty> {
                    self.$field.as_ref()
                }
            )+
        }
    };
}

params_accessors!(
    audio, with_audio: AudioParams,
    video, with_video: VideoParams,
    deskshare, with_deskshare: VideoParams,
    transcript, with_transcript: TranscriptParams,
    chat, with_chat: ChatParams,
);

impl MediaParams {
    /// No parameter object: the server's defaults for everything.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::MediaParams;
    /// assert!(MediaParams::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether no object is present.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::{ChatParams, MediaParams};
    /// assert!(!MediaParams::new().with_chat(ChatParams::new()).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.kinds().next().is_none()
    }

    /// The kinds that have an object, in flag order.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::{ChatParams, MediaParams};
    /// use zoom_rtms_webhooks::handshake::MediaKind;
    /// let p = MediaParams::new().with_chat(ChatParams::new());
    /// assert_eq!(p.kinds().collect::<Vec<_>>(), [MediaKind::Chat]);
    /// ```
    pub fn kinds(&self) -> impl Iterator<Item = MediaKind> + '_ {
        MediaKind::ALL.into_iter().filter(|k| self.has(*k))
    }

    fn has(&self, kind: MediaKind) -> bool {
        match kind {
            MediaKind::Audio => self.audio.is_some(),
            MediaKind::Video => self.video.is_some(),
            MediaKind::Deskshare => self.deskshare.is_some(),
            MediaKind::Transcript => self.transcript.is_some(),
            MediaKind::Chat => self.chat.is_some(),
        }
    }

    /// Takes every kind `other` sets (a data handshake response confirms only the kinds of
    /// its socket: with split sockets each kind comes in a response of its own).
    pub(crate) fn merge(&mut self, other: MediaParams) {
        let MediaParams {
            audio,
            video,
            deskshare,
            transcript,
            chat,
        } = other;
        self.audio = audio.or(self.audio.take());
        self.video = video.or(self.video.take());
        self.deskshare = deskshare.or(self.deskshare.take());
        self.transcript = transcript.or(self.transcript.take());
        self.chat = chat.or(self.chat.take());
    }

    /// The objects of the kinds `types` covers (all of them for [`MediaTypes::ALL`]).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::*;
    /// use zoom_rtms_webhooks::handshake::{MediaKind, MediaTypes};
    /// let p = MediaParams::new().with_audio(AudioParams::new()).with_video(VideoParams::new());
    /// assert!(p.only(MediaTypes::VIDEO).audio().is_none());
    /// assert_eq!(p.only(MediaTypes::ALL), p);
    /// ```
    #[must_use]
    pub fn only(&self, types: MediaTypes) -> MediaParams {
        MediaParams {
            audio: self
                .audio
                .clone()
                .filter(|_| types.includes(MediaKind::Audio)),
            video: self
                .video
                .clone()
                .filter(|_| types.includes(MediaKind::Video)),
            deskshare: self
                .deskshare
                .clone()
                .filter(|_| types.includes(MediaKind::Deskshare)),
            transcript: self
                .transcript
                .clone()
                .filter(|_| types.includes(MediaKind::Transcript)),
            chat: self
                .chat
                .clone()
                .filter(|_| types.includes(MediaKind::Chat)),
        }
    }

    /// Checks the parameters for a connection asking for `media_type`, with the default
    /// [`Rules`]. See [`validate_with`](MediaParams::validate_with).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::*;
    /// use zoom_rtms_webhooks::handshake::{MediaKind, MediaTypes};
    /// let p = MediaParams::new().with_audio(AudioParams::new().with_send_rate(30));
    /// assert_eq!(
    ///     p.validate(MediaTypes::AUDIO).unwrap_err(),
    ///     ParamsError::SendRate { value: 30 }
    /// );
    /// ```
    pub fn validate(&self, media_type: MediaTypes) -> Result<(), ParamsError> {
        self.validate_with(media_type, &Rules::default())
    }

    /// Checks the parameters for a connection asking for `media_type`: the bitmask is not empty and
    /// has only known bits; an object is present only for a requested kind; every present value is
    /// one the protocol defines for its field, and the combinations Zoom's documentation, SDK and
    /// samples require hold (Opus needs 48 kHz, stereo needs Opus, `send_rate` a multiple of 20
    /// from 20 to 1000, `fps` 1–30, JPG/PNG only at low frame rates, a frame rate above the image
    /// limit only with an explicit H.264 codec since the server would silently fall back to JPG at
    /// the limit; each rule with its source: `docs/protocol.md#media-parameters`). The first
    /// failure is returned.
    ///
    /// Nothing is checked when sending: a message built from parameters that fail here is
    /// still sent as built, so any rule can be overridden by not calling this.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::*;
    /// use zoom_rtms_webhooks::handshake::{MediaKind, MediaTypes};
    ///
    /// let share = VideoParams::new().with_codec(Codec::Jpg).with_fps(5);
    /// let p = MediaParams::new().with_deskshare(share);
    /// assert!(p.validate(MediaTypes::DESKSHARE).is_err()); // ≤ 1 fps per Zoom's docs
    /// let lenient = Rules::default().with_deskshare_image_max_fps(5); // the SDK's limit
    /// assert!(p.validate_with(MediaTypes::DESKSHARE, &lenient).is_ok());
    /// ```
    pub fn validate_with(&self, media_type: MediaTypes, rules: &Rules) -> Result<(), ParamsError> {
        if media_type.bits() == 0 || media_type.unknown_bits() != 0 {
            return Err(ParamsError::MediaType {
                bits: media_type.bits(),
            });
        }
        for kind in self.kinds() {
            if !media_type.includes(kind) {
                return Err(ParamsError::NotRequested { kind });
            }
        }
        if let Some(a) = &self.audio {
            validate_audio(a)?;
        }
        if let Some(v) = &self.video {
            validate_video(MediaKind::Video, v, rules)?;
        }
        if let Some(v) = &self.deskshare {
            validate_video(MediaKind::Deskshare, v, rules)?;
        }
        if let Some(t) = &self.transcript {
            check_content_type(
                MediaKind::Transcript,
                t.content_type,
                MediaContentType::Text,
            )?;
            if let Some(lang) = t.src_language {
                if !lang.is_known() {
                    return Err(ParamsError::Language { value: lang.code() });
                }
            }
        }
        if let Some(c) = &self.chat {
            check_content_type(MediaKind::Chat, c.content_type, MediaContentType::Text)?;
        }
        Ok(())
    }
}

fn check_content_type(
    kind: MediaKind,
    value: Option<MediaContentType>,
    expected: MediaContentType,
) -> Result<(), ParamsError> {
    match value {
        None => Ok(()),
        Some(v) if v == expected => Ok(()),
        // RTP (1) is still accepted for audio: older samples send it.
        Some(MediaContentType::Rtp) if kind == MediaKind::Audio => Ok(()),
        Some(v) => Err(ParamsError::ContentType {
            kind,
            value: v.code(),
        }),
    }
}

fn validate_audio(a: &AudioParams) -> Result<(), ParamsError> {
    check_content_type(MediaKind::Audio, a.content_type, MediaContentType::RawAudio)?;
    if let Some(rate) = a.sample_rate {
        if !rate.is_known() {
            return Err(ParamsError::SampleRate { value: rate.code() });
        }
    }
    if let Some(ch) = a.channel {
        if !ch.is_known() {
            return Err(ParamsError::Channel { value: ch.code() });
        }
    }
    if let Some(codec) = a.codec {
        if !codec.is_audio() {
            return Err(ParamsError::Codec {
                kind: MediaKind::Audio,
                value: codec.code(),
            });
        }
    }
    if let Some(opt) = a.data_opt {
        if !matches!(opt.code(), 1 | 2) {
            return Err(ParamsError::DataOption {
                kind: MediaKind::Audio,
                value: opt.code(),
            });
        }
    }
    if let Some(rate) = a.send_rate {
        if !(20..=1000).contains(&rate) || rate % 20 != 0 {
            return Err(ParamsError::SendRate { value: rate });
        }
    }
    let f = a.format();
    if f.codec == Codec::Opus && f.sample_rate_hz != Some(48_000) {
        return Err(ParamsError::OpusNeeds48k {
            sample_rate: a.sample_rate.unwrap_or(SampleRate::Sr16k),
        });
    }
    if f.channels == 2 && f.codec != Codec::Opus {
        return Err(ParamsError::StereoNeedsOpus { codec: f.codec });
    }
    Ok(())
}

fn validate_video(kind: MediaKind, v: &VideoParams, rules: &Rules) -> Result<(), ParamsError> {
    check_content_type(kind, v.content_type, MediaContentType::RawVideo)?;
    if let Some(codec) = v.codec {
        if !codec.is_video() {
            return Err(ParamsError::Codec {
                kind,
                value: codec.code(),
            });
        }
    }
    if let Some(res) = v.resolution {
        if !res.is_known() {
            return Err(ParamsError::Resolution {
                kind,
                value: res.code(),
            });
        }
    }
    if let Some(opt) = v.data_opt {
        let ok = match kind {
            MediaKind::Video => {
                matches!(opt.code(), 3 | 4) || (rules.legacy_video_data_opt && opt.code() == 5)
            }
            _ => false,
        };
        if !ok {
            return Err(ParamsError::DataOption {
                kind,
                value: opt.code(),
            });
        }
    }
    let image_max = if kind == MediaKind::Video {
        rules.video_image_max_fps
    } else {
        rules.deskshare_image_max_fps
    };
    if let Some(fps) = v.fps {
        if !(1..=30).contains(&fps) {
            return Err(ParamsError::Fps { kind, value: fps });
        }
        match v.codec {
            Some(c) if c.is_image() && fps > image_max => {
                return Err(ParamsError::ImageFps {
                    kind,
                    codec: c,
                    fps,
                    max: image_max,
                })
            }
            None if fps > image_max => {
                return Err(ParamsError::FpsNeedsCodec {
                    kind,
                    fps,
                    max: image_max,
                })
            }
            _ => {}
        }
    }
    Ok(())
}

/// The adjustable limits of [`MediaParams::validate_with`], for the points where the sources
/// disagree. The defaults follow Zoom's documentation.
///
/// ```
/// use zoom_rtms_webhooks::protocol::media::Rules;
/// let rules = Rules::default();
/// assert_eq!(rules.deskshare_image_max_fps(), 1);
/// assert_eq!(rules.video_image_max_fps(), 5);
/// assert!(!rules.legacy_video_data_opt());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    video_image_max_fps: i64,
    deskshare_image_max_fps: i64,
    legacy_video_data_opt: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            video_image_max_fps: 5,
            deskshare_image_max_fps: 1,
            legacy_video_data_opt: false,
        }
    }
}

impl Rules {
    /// The highest video frame rate allowed with JPG or PNG (default 5; Zoom's docs and SDK
    /// agree).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::Rules;
    /// assert_eq!(Rules::default().with_video_image_max_fps(2).video_image_max_fps(), 2);
    /// ```
    #[must_use]
    pub fn with_video_image_max_fps(mut self, fps: i64) -> Self {
        self.video_image_max_fps = fps;
        self
    }

    /// The highest screen-share frame rate allowed with JPG or PNG: default 1 per Zoom's
    /// documentation; Zoom's SDK allows 5 (unconfirmed which the server enforces).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::Rules;
    /// assert_eq!(Rules::default().with_deskshare_image_max_fps(5).deskshare_image_max_fps(), 5);
    /// ```
    #[must_use]
    pub fn with_deskshare_image_max_fps(mut self, fps: i64) -> Self {
        self.deskshare_image_max_fps = fps;
        self
    }

    /// Whether video `data_opt` 5 (the legacy gallery view, absent from the current tables)
    /// is allowed (default `false`).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::Rules;
    /// assert!(Rules::default().with_legacy_video_data_opt(true).legacy_video_data_opt());
    /// ```
    #[must_use]
    pub fn with_legacy_video_data_opt(mut self, allow: bool) -> Self {
        self.legacy_video_data_opt = allow;
        self
    }

    /// See [`with_video_image_max_fps`](Rules::with_video_image_max_fps).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::Rules;
    /// assert_eq!(Rules::default().video_image_max_fps(), 5);
    /// ```
    pub fn video_image_max_fps(&self) -> i64 {
        self.video_image_max_fps
    }

    /// See [`with_deskshare_image_max_fps`](Rules::with_deskshare_image_max_fps).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::Rules;
    /// assert_eq!(Rules::default().deskshare_image_max_fps(), 1);
    /// ```
    pub fn deskshare_image_max_fps(&self) -> i64 {
        self.deskshare_image_max_fps
    }

    /// See [`with_legacy_video_data_opt`](Rules::with_legacy_video_data_opt).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::Rules;
    /// assert!(!Rules::default().legacy_video_data_opt());
    /// ```
    pub fn legacy_video_data_opt(&self) -> bool {
        self.legacy_video_data_opt
    }
}

/// Why [`MediaParams::validate`] refused the parameters. [`status_code`](ParamsError::status_code)
/// gives the status a server answers for the same fault (a simulator uses it).
///
/// ```
/// use zoom_rtms_webhooks::codes::StatusCode;
/// use zoom_rtms_webhooks::protocol::media::*;
/// use zoom_rtms_webhooks::handshake::{MediaKind, MediaTypes};
///
/// let p = MediaParams::new().with_audio(AudioParams::new().with_codec(Codec::Opus));
/// let err = p.validate(MediaTypes::AUDIO).unwrap_err();
/// assert_eq!(err, ParamsError::OpusNeeds48k { sample_rate: SampleRate::Sr16k });
/// assert_eq!(err.status_code(), StatusCode::InvalidMediaAudioSampleRate);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamsError {
    /// `media_type` is 0 or has bits no media kind names.
    #[error("media_type {bits} is not a valid media type bitmask")]
    MediaType {
        /// The bitmask.
        bits: u32,
    },
    /// A parameter object is present for a kind `media_type` does not ask for.
    #[error("{kind}: parameters given but media_type does not ask for {kind}")]
    NotRequested {
        /// The kind.
        kind: MediaKind,
    },
    /// `content_type` is not the kind's (2 for audio, 3 for video and screen share, 5 for
    /// transcript and chat; 1 is accepted for audio).
    #[error("{kind}: content_type {value} is not valid here")]
    ContentType {
        /// The kind.
        kind: MediaKind,
        /// The code.
        value: i64,
    },
    /// An unknown audio `sample_rate`.
    #[error("audio: sample_rate {value} is unknown")]
    SampleRate {
        /// The code.
        value: i64,
    },
    /// An unknown audio `channel`.
    #[error("audio: channel {value} is unknown")]
    Channel {
        /// The code.
        value: i64,
    },
    /// A codec not of the kind (audio codecs 1–4, video and screen share 5–7).
    #[error("{kind}: codec {value} is not valid here")]
    Codec {
        /// The kind.
        kind: MediaKind,
        /// The code.
        value: i64,
    },
    /// A `data_opt` not of the kind (audio 1–2, video 3–4; none for screen share).
    #[error("{kind}: data_opt {value} is not valid here")]
    DataOption {
        /// The kind.
        kind: MediaKind,
        /// The code.
        value: i64,
    },
    /// `send_rate` is not a multiple of 20 from 20 to 1000 ms.
    #[error("audio: send_rate {value} ms is not a multiple of 20 from 20 to 1000")]
    SendRate {
        /// The value in ms.
        value: i64,
    },
    /// Opus at another rate than 48 kHz.
    #[error("audio: Opus needs 48 kHz, not {sample_rate}")]
    OpusNeeds48k {
        /// The rate in effect.
        sample_rate: SampleRate,
    },
    /// Stereo with another codec than Opus.
    #[error("audio: stereo needs the Opus codec, not {codec}")]
    StereoNeedsOpus {
        /// The codec in effect.
        codec: Codec,
    },
    /// An unknown `resolution`.
    #[error("{kind}: resolution {value} is unknown")]
    Resolution {
        /// The kind.
        kind: MediaKind,
        /// The code.
        value: i64,
    },
    /// `fps` outside 1–30.
    #[error("{kind}: fps {value} is outside 1-30")]
    Fps {
        /// The kind.
        kind: MediaKind,
        /// The value.
        value: i64,
    },
    /// JPG or PNG above the image frame-rate limit.
    #[error("{kind}: {codec} allows at most {max} fps, not {fps} (use H.264)")]
    ImageFps {
        /// The kind.
        kind: MediaKind,
        /// The codec.
        codec: Codec,
        /// The requested frame rate.
        fps: i64,
        /// The limit.
        max: i64,
    },
    /// A frame rate above the image limit without a codec: the server would fall back to JPG
    /// at the limit.
    #[error("{kind}: fps {fps} above {max} needs codec H.264 (without a codec the server uses JPG at {max} fps)")]
    FpsNeedsCodec {
        /// The kind.
        kind: MediaKind,
        /// The requested frame rate.
        fps: i64,
        /// The limit.
        max: i64,
    },
    /// An unknown transcript `src_language`.
    #[error("transcript: src_language {value} is unknown")]
    Language {
        /// The code.
        value: i64,
    },
}

impl ParamsError {
    /// The status code a server answers for this fault (`docs/protocol.md#media-parameters`).
    ///
    /// ```
    /// use zoom_rtms_webhooks::codes::StatusCode;
    /// use zoom_rtms_webhooks::protocol::media::ParamsError;
    /// assert_eq!(ParamsError::SendRate { value: 7 }.status_code(), StatusCode::InvalidMediaAudioSendRate);
    /// ```
    pub fn status_code(&self) -> StatusCode {
        use MediaKind as K;
        use StatusCode as S;
        let per_kind = |kind: &MediaKind, audio, video, share, transcript, chat| match kind {
            K::Audio => audio,
            K::Video => video,
            K::Deskshare => share,
            K::Transcript => transcript,
            K::Chat => chat,
        };
        match self {
            ParamsError::MediaType { .. } => S::MediaTypeInvalidValue,
            ParamsError::NotRequested { .. } => S::InvalidMediaParams,
            ParamsError::ContentType { kind, .. } => per_kind(
                kind,
                S::InvalidMediaAudioContentType,
                S::InvalidMediaVideoContentType,
                S::InvalidMediaDeskshareContentType,
                S::InvalidMediaTranscriptContentType,
                S::InvalidMediaChatContentType,
            ),
            ParamsError::SampleRate { .. } | ParamsError::OpusNeeds48k { .. } => {
                S::InvalidMediaAudioSampleRate
            }
            ParamsError::Channel { .. } | ParamsError::StereoNeedsOpus { .. } => {
                S::InvalidMediaAudioChannel
            }
            ParamsError::Codec { kind, .. } => per_kind(
                kind,
                S::InvalidMediaAudioCodec,
                S::InvalidMediaVideoCodec,
                S::InvalidMediaDeskshareCodec,
                S::InvalidMediaParams,
                S::InvalidMediaParams,
            ),
            ParamsError::DataOption { kind, .. } => per_kind(
                kind,
                S::InvalidMediaAudioDataOpt,
                S::InvalidMediaVideoDataOpt,
                S::InvalidMediaDeskshareParams,
                S::InvalidMediaParams,
                S::InvalidMediaParams,
            ),
            ParamsError::SendRate { .. } => S::InvalidMediaAudioSendRate,
            ParamsError::Resolution { kind, .. } => per_kind(
                kind,
                S::InvalidMediaParams,
                S::InvalidMediaVideoResolution,
                S::InvalidMediaDeskshareResolution,
                S::InvalidMediaParams,
                S::InvalidMediaParams,
            ),
            ParamsError::Fps { kind, .. }
            | ParamsError::ImageFps { kind, .. }
            | ParamsError::FpsNeedsCodec { kind, .. } => per_kind(
                kind,
                S::InvalidMediaParams,
                S::InvalidMediaVideoFps,
                S::InvalidMediaDeskshareFps,
                S::InvalidMediaParams,
                S::InvalidMediaParams,
            ),
            ParamsError::Language { .. } => S::InvalidMediaTranscriptSourceLanguage,
        }
    }
}

impl Serialize for MediaParams {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_fields!(self, s, [audio, video, deskshare, transcript, chat])
    }
}

impl<'de> Deserialize<'de> for MediaParams {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Raw {
            audio: Obj<AudioParams>,
            video: Obj<VideoParams>,
            deskshare: Obj<VideoParams>,
            transcript: Obj<TranscriptParams>,
            chat: Obj<ChatParams>,
        }
        let r = Raw::deserialize(d)?;
        Ok(MediaParams {
            audio: r.audio.0,
            video: r.video.0,
            deskshare: r.deskshare.0,
            transcript: r.transcript.0,
            chat: r.chat.0,
        })
    }
}
