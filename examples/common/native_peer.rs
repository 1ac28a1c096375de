//! One native side of a call with any other client (a browser, say): answer the next call,
//! or call a user; run the handshake, the end-to-end encrypted audio and data channel of
//! docs/PROTOCOL.md §7, reply to each data message with `echo: <text>`, and report the
//! frame counts when the call ends. Used by `examples/native_peer.rs` and the browser tests.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use pqcall_crypto::{
    AnswerKem, CallContext, Callee, CalleeConfirm, Caller, CallerConfirm, Error as CryptoError,
    OfferKem, Role,
};
use pqcall_signaling::Event;
use pqcall_signaling::api::*;
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::peer_connection::RTCSessionDescription;
use webrtc::runtime::Runtime;

use super::Peer;
use super::media::{Counts, Media, negotiated_payload_type};

/// What this side does.
#[derive(Debug, Clone)]
pub enum Side {
    /// Answer the next call that rings here.
    Answer,
    /// Call this user.
    Call(String),
}

/// How the call went, seen from here.
#[derive(Debug, Clone)]
pub struct Report {
    /// The safety code, once the handshake completed.
    pub code: Option<String>,
    /// The end-to-end encrypted frames and messages.
    pub counts: Counts,
    /// How the call ended (`call.ended` reason, `declined`, ...).
    pub outcome: String,
}

enum Handshake {
    Caller(Option<Box<Caller>>, String),
    CallerWaiting(pqcall_crypto::CallerAwaitingTag),
    Callee(Option<Callee>, CallContext),
    Done,
}

/// Runs one call to its end; `progress` gets human-readable lines as it goes.
pub async fn run(
    base: &str,
    token: String,
    me: &str,
    side: Side,
    runtime: Option<Arc<dyn Runtime>>,
    progress: impl Fn(&str),
) -> anyhow::Result<Report> {
    let mut peer = Peer::new("native", base, token, runtime).await?;
    progress(&format!("ready as {me}"));
    let (call_id, mut hs) = match &side {
        Side::Call(to) => {
            let offer = peer.pc.create_offer(None).await?;
            peer.pc.set_local_description(offer.clone()).await?;
            let (caller, kem) = Caller::start()?;
            let conn = peer.conn().to_owned();
            let res = peer
                .client
                .offer(
                    &conn,
                    &OfferRequest {
                        to: to.clone(),
                        sdp: offer.sdp.clone(),
                        kem: OfferKemBody {
                            suite: "ML-KEM-768".into(),
                            ek: kem.ek_b64(),
                            commit: kem.commit_b64(),
                        },
                    },
                )
                .await?;
            progress(&format!("calling {to}: {}", res.call_id));
            peer.send_ice(&res.call_id).await?;
            (
                res.call_id,
                Handshake::Caller(Some(Box::new(caller)), offer.sdp),
            )
        }
        Side::Answer => answer(&mut peer, me, &progress).await?,
    };
    let mut code = None;
    let (dc, media) = (peer.dc.clone(), peer.media.clone());
    tokio::spawn(echo(dc, media));
    let mut tracks = std::mem::replace(
        &mut peer.tracks_rx,
        tokio::sync::mpsc::unbounded_channel().1,
    );
    let deadline = tokio::time::sleep(Duration::from_secs(120));
    tokio::pin!(deadline);
    let outcome = loop {
        tokio::select! {
            e = peer.next_call_event(&call_id) => match e? {
                Event::CallAnswer(a) => {
                    let Handshake::Caller(caller, offer_sdp) = &mut hs else { continue };
                    let caller = caller.take().context("answered twice")?;
                    let ctx = match CallContext::from_sdp(&call_id, me, peer_of(&side), offer_sdp, &a.sdp) {
                        Ok(ctx) => ctx,
                        Err(_) => break refuse(&mut peer, &call_id, "fingerprint_mismatch", false).await?,
                    };
                    peer.pc.set_remote_description(RTCSessionDescription::answer(a.sdp.clone())?).await?;
                    peer.remote_description_set().await?;
                    let (waiting, confirm) = caller.finish(&AnswerKem::from_wire(&a.kem.ct)?, &ctx);
                    let conn = peer.conn().to_owned();
                    peer.client.confirm(&conn, &ConfirmRequest {
                        call_id: call_id.clone(),
                        kem: ConfirmKemBody { nonce: Some(confirm.nonce_b64()), tag: confirm.tag_b64() },
                    }).await?;
                    hs = Handshake::CallerWaiting(waiting);
                    peer.send_ice(&call_id).await?;
                }
                Event::CallConfirm(c) => {
                    let keys = match std::mem::replace(&mut hs, Handshake::Done) {
                        Handshake::CallerWaiting(waiting) => {
                            match CalleeConfirm::from_wire(&c.kem.tag).map_err(anyhow::Error::from)
                                .and_then(|t| waiting.verify(&t).map_err(anyhow::Error::from)) {
                                Ok(keys) => (keys, Role::Caller),
                                Err(_) => break refuse(&mut peer, &call_id, "key_confirmation_failed", false).await?,
                            }
                        }
                        Handshake::Callee(Some(callee), ctx) => {
                            let checked = CallerConfirm::from_wire(c.kem.nonce.as_deref().unwrap_or_default(), &c.kem.tag)
                                .and_then(|confirm| callee.confirm(&confirm, &ctx));
                            let Ok((keys, reply)) = checked else {
                                break refuse(&mut peer, &call_id, "key_confirmation_failed", false).await?;
                            };
                            let conn = peer.conn().to_owned();
                            peer.client.confirm(&conn, &ConfirmRequest {
                                call_id: call_id.clone(),
                                kem: ConfirmKemBody { nonce: None, tag: reply.tag_b64() },
                            }).await?;
                            (keys, Role::Callee)
                        }
                        _ => continue,
                    };
                    peer.media.install(&keys.0, keys.1);
                    code = Some(keys.0.safety_code.to_string());
                    progress(&format!("safety code {}, e2ee: on", keys.0.safety_code));
                    let pt = negotiated_payload_type(&peer.audio).await;
                    tokio::spawn(peer.media.clone().send_audio(pt));
                }
                Event::CallEnded(n) => break n.reason.unwrap_or_else(|| "ended".into()),
                Event::CallDeclined(n) => break format!("declined {}", n.reason.unwrap_or_default()),
                Event::CallMissed(_) => break "missed".into(),
                _ => {}
            },
            Some(t) = tracks.recv() => { tokio::spawn(peer.media.clone().receive_audio(t)); }
            _ = &mut deadline => bail!("the call did not end within 120 s"),
        }
    };
    let counts = peer.media.counts();
    peer.pc.close().await?;
    Ok(Report {
        code,
        counts,
        outcome,
    })
}

/// Waits for the next offer and answers it; a key that fails FIPS 203's check, or an SDP
/// that breaks the fingerprint rule, is declined with `bad_key` / `fingerprint_mismatch`.
async fn answer(
    peer: &mut Peer,
    me: &str,
    progress: &impl Fn(&str),
) -> anyhow::Result<(String, Handshake)> {
    loop {
        let Event::CallOffer(o) = peer.next_call_event("").await? else {
            continue;
        };
        progress(&format!("call {} from {}", o.call_id, o.from));
        let checked =
            OfferKem::from_wire(&o.kem.ek, &o.kem.commit).and_then(|k| Callee::answer(&k));
        let (callee, kem) = match checked {
            Ok(pair) => pair,
            Err(
                CryptoError::InvalidEncapsulationKey
                | CryptoError::BadLength { .. }
                | CryptoError::BadBase64(_),
            ) => {
                refuse(peer, &o.call_id, "bad_key", true).await?;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        peer.pc
            .set_remote_description(RTCSessionDescription::offer(o.sdp.clone())?)
            .await?;
        peer.remote_description_set().await?;
        let sdp = peer.pc.create_answer(None).await?;
        peer.pc.set_local_description(sdp.clone()).await?;
        let Ok(ctx) = CallContext::from_sdp(&o.call_id, &o.from, me, &o.sdp, &sdp.sdp) else {
            refuse(peer, &o.call_id, "fingerprint_mismatch", true).await?;
            continue;
        };
        let conn = peer.conn().to_owned();
        peer.client
            .answer(
                &conn,
                &AnswerRequest {
                    call_id: o.call_id.clone(),
                    sdp: sdp.sdp.clone(),
                    kem: AnswerKemBody { ct: kem.ct_b64() },
                },
            )
            .await?;
        peer.send_ice(&o.call_id).await?;
        return Ok((o.call_id, Handshake::Callee(Some(callee), ctx)));
    }
}

fn peer_of(side: &Side) -> &str {
    match side {
        Side::Call(to) => to,
        Side::Answer => "",
    }
}

/// Declines a ringing call, or ends an answered one, with a reason.
async fn refuse(
    peer: &mut Peer,
    call_id: &str,
    reason: &str,
    ringing: bool,
) -> anyhow::Result<String> {
    let conn = peer.conn().to_owned();
    let body = CallIdReason {
        call_id: call_id.into(),
        reason: Some(reason.into()),
    };
    if ringing {
        peer.client.decline(&conn, &body).await?;
    } else {
        peer.client.end(&conn, &body).await?;
    }
    Ok(reason.to_owned())
}

/// Replies to every data-channel message that decrypts with `echo: <text>`, sealed.
async fn echo(dc: Arc<dyn DataChannel>, media: Arc<Media>) {
    while let Some(event) = dc.poll().await {
        if let DataChannelEvent::OnMessage(m) = event {
            let Some(text) = media.open_text(&m.data) else {
                continue;
            };
            if let Ok(sealed) = media.seal_text(&format!("echo: {text}")) {
                let _ = dc.send(sealed.as_slice().into()).await;
            }
        }
    }
}
