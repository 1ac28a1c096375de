//! Authentication (docs/PROTOCOL.md §2): JWTs from the embedding application, single-use
//! SSE tickets, and development-mode tokens.

use std::collections::HashMap;
use std::sync::Mutex;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use pqcall_signaling::{Error, Millis, check_subject};
use serde::{Deserialize, Serialize};

/// How long an SSE ticket lives by default (`--ticket-ttl-ms`).
pub const TICKET_TTL_MS: u64 = 60_000;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
}

/// Verifies tokens and keeps tickets.
pub struct Auth {
    /// Present for HS256 only: what dev mode and `pqcall token` sign with.
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
    validation: Validation,
    tickets: Mutex<HashMap<String, (String, Millis)>>,
    ticket_ttl_ms: u64,
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

impl Auth {
    /// HS256 with this secret; only HS256 tokens are accepted.
    pub fn hs256(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 5;
        Auth {
            encoding: Some(EncodingKey::from_secret(secret)),
            decoding: DecodingKey::from_secret(secret),
            validation,
            tickets: Mutex::new(HashMap::new()),
            ticket_ttl_ms: TICKET_TTL_MS,
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
        let mut validation = Validation::new(alg);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 5;
        Ok(Auth {
            encoding: None,
            decoding,
            validation,
            tickets: Mutex::new(HashMap::new()),
            ticket_ttl_ms: TICKET_TTL_MS,
        })
    }

    /// The user of a valid `Authorization: Bearer` token.
    pub fn verify(&self, token: &str) -> Result<String, Error> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| unauthorized(&format!("invalid token: {e}")))?;
        check_subject(&data.claims.sub)?;
        Ok(data.claims.sub)
    }

    /// Mints a token for `user` valid for `ttl_secs` (dev mode and `pqcall token`).
    pub fn mint(&self, user: &str, now_secs: u64, ttl_secs: u64) -> Result<(String, u64), Error> {
        check_subject(user).map_err(|_| Error::invalid("user", "a user id is 1 to 128 bytes"))?;
        let exp = now_secs + ttl_secs;
        let claims = Claims {
            sub: user.to_owned(),
            exp,
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

    /// A single-use ticket for `user`'s SSE stream.
    pub fn issue_ticket(&self, user: &str, now: Millis) -> (String, u64) {
        let ticket = random_hex32();
        let expires = now + self.ticket_ttl_ms;
        let mut t = self.tickets.lock().unwrap_or_else(|p| p.into_inner());
        t.retain(|_, (_, exp)| *exp > now);
        t.insert(ticket.clone(), (user.to_owned(), expires));
        (ticket, expires / 1000)
    }

    /// Redeems a ticket once.
    pub fn redeem_ticket(&self, ticket: &str, now: Millis) -> Result<String, Error> {
        let mut t = self.tickets.lock().unwrap_or_else(|p| p.into_inner());
        match t.remove(ticket) {
            Some((user, exp)) if exp > now => Ok(user),
            Some(_) => Err(unauthorized("the ticket has expired")),
            None => Err(unauthorized("unknown or already used ticket")),
        }
    }
}
