//! The event-name table, written once: every name the crate knows, with what it means. The
//! parser reads it by name ([`classify`]), the payload constructors by meaning
//! ([`canonical_name`]).

use super::{Lifecycle, Product, WebhookEvent};

/// What an event name means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    UrlValidation,
    Lifecycle(Product, Lifecycle),
    ConcurrencyNearLimit,
    ConcurrencyLimited,
    StartFailed,
    Unknown,
}

/// Every known event name (exact, case-sensitive) and its kind. For a product's lifecycle
/// event the first name listed is the canonical one (Zoom's reference); the others are
/// aliases seen in Zoom's documents and samples.
const NAMES: &[(&str, Kind)] = {
    use Kind::Lifecycle as L;
    use Lifecycle::{Interrupted, Started, Stopped};
    use Product::{ContactCenter, Meeting, Phone, VideoSdk, Webinar};
    &[
        (WebhookEvent::URL_VALIDATION, Kind::UrlValidation),
        ("meeting.rtms_started", L(Meeting, Started)),
        ("meeting.rtms_stopped", L(Meeting, Stopped)),
        ("meeting.rtms_interrupted", L(Meeting, Interrupted)),
        ("webinar.rtms_started", L(Webinar, Started)),
        ("webinar.rtms_stopped", L(Webinar, Stopped)),
        ("webinar.rtms_interrupted", L(Webinar, Interrupted)),
        ("session.rtms_started", L(VideoSdk, Started)),
        ("session.rtms_stopped", L(VideoSdk, Stopped)),
        ("session.rtms_interrupted", L(VideoSdk, Interrupted)),
        (
            "contact_center.voice_rtms_started",
            L(ContactCenter, Started),
        ),
        (
            "contact_center.voice_rtms_stopped",
            L(ContactCenter, Stopped),
        ),
        (
            "contact_center.voice_rtms_interrupted",
            L(ContactCenter, Interrupted),
        ),
        ("contactcenter.rtms_started", L(ContactCenter, Started)),
        ("contactcenter.rtms_stopped", L(ContactCenter, Stopped)),
        (
            "contactcenter.rtms_interrupted",
            L(ContactCenter, Interrupted),
        ),
        ("phone.rtms_started", L(Phone, Started)),
        ("phone.rtms_stopped", L(Phone, Stopped)),
        ("phone.rtms_interrupted", L(Phone, Interrupted)),
        ("phone.call_rtms_started", L(Phone, Started)),
        ("phone.call_rtms_stopped", L(Phone, Stopped)),
        ("phone.call_rtms_interrupted", L(Phone, Interrupted)),
        (
            WebhookEvent::CONCURRENCY_NEAR_LIMIT,
            Kind::ConcurrencyNearLimit,
        ),
        (WebhookEvent::CONCURRENCY_LIMITED, Kind::ConcurrencyLimited),
        (WebhookEvent::START_FAILED, Kind::StartFailed),
    ]
};

/// What an event name means ([`Kind::Unknown`] for a name not in the table).
pub(crate) fn classify(name: &str) -> Kind {
    NAMES
        .iter()
        .find(|(known, _)| *known == name)
        .map_or(Kind::Unknown, |(_, kind)| *kind)
}

/// The canonical name of a product's lifecycle event: the first the table lists for it.
pub(crate) fn canonical_name(product: Product, lifecycle: Lifecycle) -> &'static str {
    let kind = Kind::Lifecycle(product, lifecycle);
    // Every product has its three names (`every_lifecycle_has_a_canonical_name`).
    NAMES
        .iter()
        .find(|(_, k)| *k == kind)
        .map_or("", |(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRODUCTS: [Product; 5] = [
        Product::Meeting,
        Product::Webinar,
        Product::VideoSdk,
        Product::ContactCenter,
        Product::Phone,
    ];
    const STAGES: [Lifecycle; 3] = [
        Lifecycle::Started,
        Lifecycle::Stopped,
        Lifecycle::Interrupted,
    ];

    #[test]
    fn every_lifecycle_has_a_canonical_name_that_classifies_back() {
        for product in PRODUCTS {
            for stage in STAGES {
                let name = canonical_name(product, stage);
                assert!(!name.is_empty(), "{product} {stage}: no name");
                assert_eq!(classify(name), Kind::Lifecycle(product, stage), "{name}");
            }
        }
    }

    #[test]
    fn canonical_names_are_zoom_references() {
        assert_eq!(
            canonical_name(Product::ContactCenter, Lifecycle::Started),
            "contact_center.voice_rtms_started"
        );
        assert_eq!(
            canonical_name(Product::Phone, Lifecycle::Stopped),
            "phone.rtms_stopped"
        );
        assert_eq!(
            canonical_name(Product::VideoSdk, Lifecycle::Interrupted),
            "session.rtms_interrupted"
        );
    }

    #[test]
    fn names_are_unique_and_exact() {
        for (i, (name, _)) in NAMES.iter().enumerate() {
            assert!(
                NAMES[..i].iter().all(|(earlier, _)| earlier != name),
                "{name} listed twice"
            );
            assert_eq!(classify(&name.to_uppercase()), Kind::Unknown, "{name}");
        }
        assert_eq!(classify("rtms.start_failed"), Kind::StartFailed);
        assert_eq!(classify("meeting.rtms_started "), Kind::Unknown);
        assert_eq!(classify(""), Kind::Unknown);
    }
}
