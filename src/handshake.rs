//! RTMS signalling handshake (STUB: being written by the region-handshake helper).
#![allow(missing_docs)]
pub struct Credentials;
pub struct SignalingHandshakeRequest;
pub struct SignalingHandshakeResponse;
