//! Token keys from a JWKS document (RFC 7517) of the embedding application's identity
//! provider: keys are chosen by the token's `kid`, the document is fetched again every
//! `--jwks-refresh-secs` and, at most every 10 s, when a token names a key not yet
//! known, so a provider can rotate keys without restarting pqcall.
//!
//! Asymmetric keys only (RSA for RS256, P-256 for ES256, Ed25519 for EdDSA): a shared
//! secret has no place in a published document. A key's algorithm is its `alg` or,
//! without one, the one its type implies; a token must use that algorithm.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// The largest JWKS document read.
const MAX_DOCUMENT: usize = 1 << 20;

/// A key of the document, ready to verify with.
#[derive(Clone)]
pub(crate) struct Key {
    pub alg: Algorithm,
    pub key: DecodingKey,
}

/// The keys of one JWKS document, by `kid`.
pub struct Jwks {
    url: hyper::Uri,
    http: Client<Https, Empty<Bytes>>,
    keys: RwLock<HashMap<String, Key>>,
    every: Duration,
    /// Asks the refresh task to fetch now (a token named an unknown key).
    nudge: Notify,
    last: Mutex<Instant>,
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = self.keys.read().map(|k| k.len()).unwrap_or(0);
        f.debug_struct("Jwks")
            .field("url", &self.url)
            .field("keys", &keys)
            .finish_non_exhaustive()
    }
}

/// The algorithm a key is for, if this server accepts it.
fn algorithm(jwk: &Jwk) -> Option<Algorithm> {
    let implied = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
        AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
        _ => return None,
    };
    let given = jwk
        .common
        .key_algorithm
        .map(|a| a.to_string().parse::<Algorithm>());
    match given {
        None => Some(implied),
        Some(Ok(alg)) if alg == implied => Some(alg),
        Some(_) => None,
    }
}

impl Jwks {
    /// Fetches the document at `url` once; refreshed every `every` once
    /// [`Jwks::spawn_refresh`] runs.
    pub async fn fetch(url: &str, every: Duration) -> Result<Arc<Jwks>, String> {
        let uri: hyper::Uri = url.parse().map_err(|e| format!("--jwks-url {url}: {e}"))?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| format!("TLS roots for {url}: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        let jwks = Arc::new(Jwks {
            url: uri,
            http: Client::builder(TokioExecutor::new()).build(https),
            keys: RwLock::new(HashMap::new()),
            every,
            nudge: Notify::new(),
            last: Mutex::new(Instant::now()),
        });
        let n = jwks.refresh().await?;
        tracing::info!(keys = n, "JWKS fetched");
        Ok(jwks)
    }

    /// Fetches the document and replaces the keys: how many it holds now.
    async fn refresh(&self) -> Result<usize, String> {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        let url = &self.url;
        let fetch = async {
            let res = self
                .http
                .get(url.clone())
                .await
                .map_err(|e| e.to_string())?;
            if !res.status().is_success() {
                return Err(format!("status {}", res.status()));
            }
            let body = Limited::new(res.into_body(), MAX_DOCUMENT).collect().await;
            let body = body.map_err(|e| e.to_string())?.to_bytes();
            serde_json::from_slice::<JwkSet>(&body).map_err(|e| e.to_string())
        };
        let set = tokio::time::timeout(Duration::from_secs(10), fetch)
            .await
            .map_err(|_| format!("JWKS {url}: no answer in 10 s"))?
            .map_err(|e| format!("JWKS {url}: {e}"))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let (Some(kid), Some(alg)) = (jwk.common.key_id.clone(), algorithm(jwk)) else {
                tracing::warn!("JWKS: skipping a key without kid or of an unsupported type");
                continue;
            };
            match DecodingKey::from_jwk(jwk) {
                Ok(key) => drop(keys.insert(kid, Key { alg, key })),
                Err(e) => tracing::warn!(kid, error = %e, "JWKS: skipping an unreadable key"),
            }
        }
        let n = keys.len();
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = keys;
        Ok(n)
    }

    /// The key `kid` names; when unknown, the refresh task is asked to fetch again.
    pub(crate) fn key(&self, kid: &str) -> Option<Key> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let key = keys.get(kid).cloned();
        if key.is_none() {
            self.nudge.notify_one();
        }
        key
    }

    /// Refreshes every `every`, and on a nudge once 10 s (or `every`, if shorter) have
    /// passed since the last fetch, so unknown `kid`s cannot make it fetch in a loop;
    /// until `shutdown`.
    pub fn spawn_refresh(self: &Arc<Self>, shutdown: CancellationToken) {
        let jwks = self.clone();
        tokio::spawn(async move {
            loop {
                let since = jwks
                    .last
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .elapsed();
                let wait = jwks.every.saturating_sub(since);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = jwks.nudge.notified() => {
                        let since = jwks.last.lock().unwrap_or_else(|p| p.into_inner()).elapsed();
                        tokio::time::sleep(jwks.every.min(Duration::from_secs(10)).saturating_sub(since)).await;
                    }
                    _ = shutdown.cancelled() => return,
                }
                match jwks.refresh().await {
                    Ok(n) => tracing::debug!(keys = n, "JWKS refreshed"),
                    // The keys stay as they were until a fetch succeeds.
                    Err(e) => tracing::warn!(error = %e, "JWKS refresh failed"),
                }
            }
        });
    }
}
