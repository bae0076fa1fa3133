//! Typed RTMS webhook events (STUB: being written by the events helper).
#![allow(missing_docs)]
use crate::region::{HostPolicy, ServerUrl, ServerUrlError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Product {
    Meeting,
    Webinar,
    VideoSdk,
    ContactCenter,
    Phone,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdField {
    MeetingUuid,
    WebinarUuid,
    SessionId,
    EngagementId,
    CallId,
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceId {
    pub field: IdField,
    pub value: String,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Lifecycle {
    Started,
    Stopped,
    Interrupted,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    Other(i64),
}
#[derive(Debug, Clone, PartialEq)]
pub struct UrlValidation {
    pub plain_token: String,
    pub event_ts: Option<u64>,
}
#[derive(Debug, Clone, PartialEq)]
pub struct RtmsStarted {
    pub event: String,
    pub event_ts: Option<u64>,
    pub product: Product,
    pub instance: InstanceId,
    pub rtms_stream_id: String,
    pub server_urls: String,
}
impl RtmsStarted {
    pub fn server_urls(&self) -> Result<Vec<ServerUrl>, ServerUrlError> {
        crate::region::parse_server_urls(&self.server_urls)
    }
    pub fn server_urls_with(&self, policy: &HostPolicy) -> Result<Vec<ServerUrl>, ServerUrlError> {
        crate::region::parse_server_urls_with(&self.server_urls, policy)
    }
}
#[derive(Debug, Clone, PartialEq)]
pub struct RtmsStopped {
    pub event: String,
    pub product: Product,
    pub instance: InstanceId,
    pub rtms_stream_id: String,
}
#[derive(Debug, Clone, PartialEq)]
pub struct RtmsInterrupted {
    pub event: String,
    pub product: Product,
    pub instance: InstanceId,
    pub rtms_stream_id: String,
}
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum WebhookEvent {
    UrlValidation(UrlValidation),
    RtmsStarted(RtmsStarted),
    RtmsStopped(RtmsStopped),
    RtmsInterrupted(RtmsInterrupted),
}
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    #[error("stub")]
    Stub,
}
impl WebhookEvent {
    pub fn parse(_body: &[u8]) -> Result<Self, ParseError> {
        Err(ParseError::Stub)
    }
}
