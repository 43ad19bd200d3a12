//! The process's one TLS crypto provider: rustls on ring (ARCHITECTURE.md: no aws-lc-rs).
//! reqwest is built with rustls but without a provider of its own (`rustls-no-provider`, for
//! Azure Blob over https), so every reqwest client (the API client, the OTLP exporter, the
//! archive's Azure client) needs one installed before it is made, or reqwest panics.

/// Installs ring as the process's default provider, unless one is installed already. `main`
/// calls it first thing; [`crate::embedded::Embedded::start`] too, for tests that run the
/// system in their own process.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may have installed one meanwhile: the workspace's one provider, ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
