//! Authentication (docs/PROTOCOL.md §2): JWTs from the embedding application, single-use
//! SSE tickets, and development-mode tokens.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use tokio_util::sync::CancellationToken;

use crate::error::StartError;
use crate::jwks::Jwks;
use crate::token_cache::VerifiedTokens;
use pqcall_signaling::{Error, Millis, check_subject};
use serde::{Deserialize, Serialize};

/// How long an SSE ticket lives by default (`--ticket-ttl-ms`).
pub const TICKET_TTL_MS: u64 = 60_000;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    /// The configured audience and issuer, on tokens this server mints (jsonwebtoken
    /// checks them on the way in).
    #[serde(default, skip_serializing_if = "Option::is_none", skip_deserializing)]
    aud: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", skip_deserializing)]
    iss: Option<String>,
}

/// The JWS header fields this server reads itself (jsonwebtoken ignores the rest).
#[derive(Debug, Deserialize)]
struct RawHeader {
    /// RFC 7515 §4.1.11: extensions the verifier must understand. This server
    /// understands none, so a token that names any is refused.
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

/// Verifies tokens and keeps tickets.
pub struct Auth {
    /// Present for HS256 only: what dev mode and `pqcall token` sign with.
    encoding: Option<EncodingKey>,
    decoding: Keys,
    validation: Validation,
    /// Ticket → (user, the ticket's expiry in ms, the token's expiry in s).
    tickets: Mutex<HashMap<String, (String, Millis, u64)>>,
    ticket_ttl_ms: u64,
    /// The longest a token may still be valid, in seconds (0: no limit).
    max_lifetime_secs: u64,
    /// What minted tokens name as `aud` and `iss`.
    audience: Option<String>,
    issuer: Option<String>,
    /// Tokens verified with a configured key (`Keys::One`), not with published ones: a
    /// key withdrawn from a JWKS document must stop its tokens at once.
    verified: VerifiedTokens,
}

/// Where the keys that verify tokens come from.
enum Keys {
    /// One configured key (a secret or a public key).
    One(DecodingKey),
    /// The identity provider's published keys, by `kid`.
    Published(Arc<Jwks>),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").finish_non_exhaustive()
    }
}

fn unauthorized(msg: &str) -> Error {
    Error::Unauthorized(msg.to_owned())
}

/// 32 random bytes as hex.
pub fn random_hex32() -> String {
    let mut b = [0u8; 32];
    if getrandom::fill(&mut b).is_err() {
        panic!("the operating system's random number generator failed");
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `exp` and `sub` required, `nbf` checked when present, 5 s of leeway for clocks.
fn validation(alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.set_required_spec_claims(&["exp", "sub"]);
    v.validate_nbf = true;
    v.leeway = 5;
    v
}

/// Whether the token's header names critical extensions (`crit`).
fn has_crit(token: &str) -> bool {
    use base64::Engine as _;
    let head = token.split('.').next().unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(head);
    let header = bytes
        .ok()
        .and_then(|b| serde_json::from_slice::<RawHeader>(&b).ok());
    header.is_some_and(|h| h.crit.is_some())
}

impl Auth {
    /// The keys `config` names (a JWKS document, a public key, or an HS256 secret; in
    /// development mode without one, a random secret) and its rules for claims.
    pub async fn from_config(config: &crate::Config) -> Result<Auth, StartError> {
        let auth = match (
            config.jwks_url.as_deref(),
            config.jwt_alg.as_str(),
            &config.jwt_public_key,
            &config.jwt_secret,
        ) {
            (Some(url), ..) => {
                let every = Duration::from_secs(config.jwks_refresh_secs.max(1));
                Auth::published(Jwks::fetch(url, every).await.map_err(StartError::Key)?)
            }
            (None, "HS256", _, Some(s)) if !s.expose().is_empty() => {
                Auth::hs256(s.expose().as_bytes())
            }
            (None, "HS256", _, _) if config.dev => Auth::hs256(random_hex32().as_bytes()),
            (None, "HS256", _, _) => {
                let why = "set --jwt-secret (PQCALL_JWT_SECRET), --jwks-url, or run with --dev";
                return Err(StartError::Config(why.into()));
            }
            (None, alg, Some(path), _) => {
                let pem = std::fs::read(path)
                    .map_err(|e| StartError::Key(format!("read {}: {e}", path.display())))?;
                Auth::public_key(alg, &pem).map_err(StartError::Key)?
            }
            (None, alg, None, _) => {
                let why = format!("--jwt-alg {alg} needs --jwt-public-key (or use --jwks-url)");
                return Err(StartError::Config(why));
            }
        };
        Ok(auth.configured(config))
    }

    /// Keys from an identity provider's JWKS document: RS256, ES256 or EdDSA tokens
    /// whose `kid` names one of them. Such a server verifies tokens but cannot mint them.
    pub fn published(jwks: Arc<Jwks>) -> Self {
        Auth {
            encoding: None,
            decoding: Keys::Published(jwks),
            validation: validation(Algorithm::RS256),
            tickets: Mutex::new(HashMap::new()),
            ticket_ttl_ms: TICKET_TTL_MS,
            max_lifetime_secs: 0,
            audience: None,
            issuer: None,
            verified: VerifiedTokens::default(),
        }
    }

    /// Starts what keeps the keys fresh (a JWKS document's refresh), until `shutdown`.
    pub fn spawn_tasks(&self, shutdown: CancellationToken) {
        if let Keys::Published(jwks) = &self.decoding {
            jwks.spawn_refresh(shutdown);
        }
    }

    /// The rules of `config`: the ticket lifetime, the audience and issuer tokens must
    /// name, and their longest lifetime.
    pub fn configured(mut self, config: &crate::Config) -> Self {
        self = self.with_ticket_ttl(config.ticket_ttl_ms);
        let mut required = vec!["exp", "sub"];
        if let Some(aud) = config.jwt_audience.as_deref().filter(|a| !a.is_empty()) {
            self.validation.set_audience(&[aud]);
            self.audience = Some(aud.to_owned());
            required.push("aud");
        }
        if let Some(iss) = config.jwt_issuer.as_deref().filter(|i| !i.is_empty()) {
            self.validation.set_issuer(&[iss]);
            self.issuer = Some(iss.to_owned());
            required.push("iss");
        }
        self.validation.set_required_spec_claims(&required);
        self.max_lifetime_secs = config.jwt_max_lifetime_secs;
        self
    }

    /// HS256 with this secret; only HS256 tokens are accepted.
    pub fn hs256(secret: &[u8]) -> Self {
        let validation = validation(Algorithm::HS256);
        Auth {
            encoding: Some(EncodingKey::from_secret(secret)),
            decoding: Keys::One(DecodingKey::from_secret(secret)),
            validation,
            tickets: Mutex::new(HashMap::new()),
            ticket_ttl_ms: TICKET_TTL_MS,
            max_lifetime_secs: 0,
            audience: None,
            issuer: None,
            verified: VerifiedTokens::default(),
        }
    }

    /// EdDSA, ES256 or RS256 with a PEM public key; only that algorithm is accepted.
    /// Such a server verifies tokens but cannot mint them.
    pub fn public_key(alg: &str, pem: &[u8]) -> Result<Self, String> {
        let (alg, decoding) = match alg {
            "EdDSA" => (Algorithm::EdDSA, DecodingKey::from_ed_pem(pem)),
            "ES256" => (Algorithm::ES256, DecodingKey::from_ec_pem(pem)),
            "RS256" => (Algorithm::RS256, DecodingKey::from_rsa_pem(pem)),
            other => {
                return Err(format!(
                    "unsupported JWT algorithm {other}: use HS256, EdDSA, ES256 or RS256"
                ));
            }
        };
        let decoding = decoding.map_err(|e| format!("bad public key: {e}"))?;
        let validation = validation(alg);
        Ok(Auth {
            encoding: None,
            decoding: Keys::One(decoding),
            validation,
            tickets: Mutex::new(HashMap::new()),
            ticket_ttl_ms: TICKET_TTL_MS,
            max_lifetime_secs: 0,
            audience: None,
            issuer: None,
            verified: VerifiedTokens::default(),
        })
    }

    /// The user of a valid `Authorization: Bearer` token.
    pub fn verify(&self, token: &str) -> Result<String, Error> {
        self.verify_claims(token).map(|(user, _)| user)
    }

    /// The user of a valid token, and when the token expires (`exp`, Unix seconds).
    pub fn verify_claims(&self, token: &str) -> Result<(String, u64), Error> {
        let now = crate::clock::now_ms() / 1000;
        let cached = matches!(self.decoding, Keys::One(_));
        if cached && let Some(found) = self.verified.get(token, now, self.validation.leeway) {
            return Ok(found);
        }
        if has_crit(token) {
            return Err(unauthorized(
                "invalid token: critical header extensions (crit) are not supported",
            ));
        }
        let invalid = |e: jsonwebtoken::errors::Error| unauthorized(&format!("invalid token: {e}"));
        let data = match &self.decoding {
            Keys::One(key) => jsonwebtoken::decode::<Claims>(token, key, &self.validation),
            Keys::Published(jwks) => {
                let header = jsonwebtoken::decode_header(token).map_err(invalid)?;
                let kid = header
                    .kid
                    .ok_or_else(|| unauthorized("invalid token: it names no key (kid)"))?;
                let key = jwks
                    .key(&kid)
                    .ok_or_else(|| unauthorized("invalid token: unknown key (kid)"))?;
                let mut validation = self.validation.clone();
                validation.algorithms = vec![key.alg];
                jsonwebtoken::decode::<Claims>(token, &key.key, &validation)
            }
        }
        .map_err(invalid)?;
        let limit = now
            .saturating_add(self.max_lifetime_secs)
            .saturating_add(self.validation.leeway);
        if self.max_lifetime_secs > 0 && data.claims.exp > limit {
            return Err(unauthorized(
                "invalid token: it expires later than this server allows (--jwt-max-lifetime-secs)",
            ));
        }
        check_subject(&data.claims.sub)?;
        if cached {
            self.verified.put(token, &data.claims.sub, data.claims.exp);
        }
        Ok((data.claims.sub, data.claims.exp))
    }

    /// Mints a token for `user` valid for `ttl_secs` (dev mode and `pqcall token`).
    pub fn mint(&self, user: &str, now_secs: u64, ttl_secs: u64) -> Result<(String, u64), Error> {
        check_subject(user).map_err(|_| Error::invalid("user", "a user id is 1 to 128 bytes"))?;
        let exp = now_secs + ttl_secs;
        let claims = Claims {
            sub: user.to_owned(),
            exp,
            aud: self.audience.clone(),
            iss: self.issuer.clone(),
        };
        let key = self.encoding.as_ref().ok_or_else(|| {
            Error::Unavailable("this server verifies tokens but cannot mint them".into())
        })?;
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, key)
            .map_err(|e| Error::Unavailable(format!("cannot sign: {e}")))?;
        Ok((token, exp))
    }

    /// Tickets live `ms` instead of [`TICKET_TTL_MS`]; never longer (docs/PROTOCOL.md §2: a
    /// ticket lives at most 60 s).
    pub fn with_ticket_ttl(mut self, ms: u64) -> Self {
        self.ticket_ttl_ms = ms.clamp(1, TICKET_TTL_MS);
        self
    }

    /// How long a ticket lives.
    pub fn ticket_ttl_ms(&self) -> u64 {
        self.ticket_ttl_ms
    }

    /// A single-use ticket for `user`'s SSE stream, whose token expires at `token_exp`
    /// (Unix seconds): the stream it opens ends then.
    pub fn issue_ticket(&self, user: &str, token_exp: u64, now: Millis) -> (String, u64) {
        let ticket = random_hex32();
        let expires = now + self.ticket_ttl_ms;
        let mut t = self.tickets.lock().unwrap_or_else(|p| p.into_inner());
        t.retain(|_, (_, exp, _)| *exp > now);
        t.insert(ticket.clone(), (user.to_owned(), expires, token_exp));
        (ticket, expires / 1000)
    }

    /// Redeems a ticket once: its user, and when their token expires.
    pub fn redeem_ticket(&self, ticket: &str, now: Millis) -> Result<(String, u64), Error> {
        let mut t = self.tickets.lock().unwrap_or_else(|p| p.into_inner());
        match t.remove(ticket) {
            Some((user, exp, token_exp)) if exp > now => Ok((user, token_exp)),
            Some(_) => Err(unauthorized("the ticket has expired")),
            None => Err(unauthorized("unknown or already used ticket")),
        }
    }
}
