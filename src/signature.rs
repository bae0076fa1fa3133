//! Webhook signature verification (STUB: being written by the signature helper).
#![allow(missing_docs)]
pub fn sign(_secret: &str, _timestamp: &str, _body: &[u8]) -> String {
    String::new()
}
pub struct ChallengeResponse;
#[derive(Debug)]
pub enum ConfigError {}
pub struct Verified;
pub struct VerifiedEvent;
pub struct Verifier;
#[derive(Debug)]
pub enum VerifyError {}
