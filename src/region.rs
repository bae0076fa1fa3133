//! Regions and server URLs (STUB: being written by the region-handshake helper).
#![allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Region {
    Other(String),
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl(url::Url);
#[derive(Debug, Clone, Default)]
pub struct HostPolicy;
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServerUrlError {
    #[error("stub")]
    Empty,
}
pub fn parse_server_urls(_s: &str) -> Result<Vec<ServerUrl>, ServerUrlError> {
    Err(ServerUrlError::Empty)
}
pub fn parse_server_urls_with(_s: &str, _p: &HostPolicy) -> Result<Vec<ServerUrl>, ServerUrlError> {
    Err(ServerUrlError::Empty)
}
