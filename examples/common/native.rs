//! A call between two native webrtc-rs peers through a pqcall server, shared by
//! `examples/native_call.rs` and `benches/call_setup.rs`. With the handshake, the audio
//! track and the data channel are end-to-end encrypted with its keys (`native_media.rs`).
#![allow(dead_code)]

#[path = "native_media.rs"]
pub mod media;
#[path = "native_pc.rs"]
mod pc;
#[path = "native_peer.rs"]
pub mod peer;
#[path = "native_runtime.rs"]
pub mod rt;

use pc::{Peer, exchange};

pub use rt::runtime;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use pqcall_crypto::{
    AnswerKem, CallContext, Callee, CalleeConfirm, Caller, CallerConfirm, OfferKem, Role,
};
use pqcall_signaling::Event;
use pqcall_signaling::api::*;
use tokio::sync::mpsc;
use webrtc::peer_connection::{RTCPeerConnectionState, RTCSessionDescription};
use webrtc::runtime::Runtime;

/// Audio frames each side must decrypt before the call is hung up (0.2 s of audio).
const AUDIO_FRAMES: u64 = 10;

/// How long a call took to set up, from the offer's creation.
#[derive(Debug, Clone)]
pub struct Timings {
    /// Until both peer connections were `connected`.
    pub connected: Duration,
    /// Until the data channel was open on both sides.
    pub channel_open: Duration,
    /// What alice and bob received over the data channel.
    pub messages: (String, String),
    /// The two safety codes, when the handshake ran.
    pub codes: Option<(String, String)>,
    /// Alice's and bob's frame counts (end-to-end encrypted audio and data, §7).
    pub e2ee: (media::Counts, media::Counts),
    /// Time in signaling requests and handshake computations on the critical path.
    pub signaling_and_handshake: Duration,
}

static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Stops per-call progress output (benches and summaries).
pub fn set_quiet() {
    QUIET.store(true, std::sync::atomic::Ordering::Relaxed);
}

fn log(line: &str) {
    if !QUIET.load(std::sync::atomic::Ordering::Relaxed) {
        println!("{line}");
    }
}

/// The value after `name` in the command line, if any (the examples' flags).
pub fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// A runtime that wakes the driver every 2 ms (see [`WakeEvery`]), or the default one.
static DEFAULT_SETTINGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Leaves webrtc-rs's settings as they are (no shorter ICE check interval).
pub fn use_webrtc_defaults() {
    DEFAULT_SETTINGS.store(true, std::sync::atomic::Ordering::Relaxed);
}

static RELAY_ONLY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Gathers relay candidates only (through the TURN servers of `GET /api/ice-servers`),
/// as a peer behind a strict firewall would.
pub fn use_relay_only() {
    RELAY_ONLY.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// One whole call: offer (with or without the handshake), answer, confirms, trickle
/// ICE, connected, one data channel message each way, hang up.
pub async fn call_once(
    base: &str,
    alice_token: String,
    bob_token: String,
    runtime: Option<Arc<dyn Runtime>>,
    handshake: bool,
) -> anyhow::Result<Timings> {
    let mut alice = Peer::new("alice", base, alice_token, runtime.clone()).await?;
    let mut bob = Peer::new("bob", base, bob_token, runtime).await?;

    // Alice offers: a data channel, her SDP and the first handshake message.
    let t0 = Instant::now();
    // Time spent in the signaling requests and the handshake's computations on the
    // critical path (the offer, the answer, both confirms and the five crypto steps).
    let mut spent = Duration::ZERO;
    let offer = alice.pc.create_offer(None).await?;
    alice.pc.set_local_description(offer.clone()).await?;
    let (caller, kem) = if handshake {
        let t = Instant::now();
        let (c, k) = Caller::start()?;
        spent += t.elapsed();
        (Some(c), Some(k))
    } else {
        (None, None)
    };
    let (ek, commit) = match &kem {
        Some(k) => (k.ek_b64(), k.commit_b64()),
        None => (
            pqcall_crypto::wire::encode(&[0; 1184]),
            pqcall_crypto::wire::encode(&[0; 32]),
        ),
    };
    let conn = alice.conn().to_owned();
    let t = Instant::now();
    let res = alice
        .client
        .offer(
            &conn,
            &OfferRequest {
                to: "bob".into(),
                sdp: offer.sdp.clone(),
                kem: OfferKemBody {
                    suite: "ML-KEM-768".into(),
                    ek,
                    commit,
                },
            },
        )
        .await?;
    spent += t.elapsed();
    let call_id = res.call_id;
    log(&format!(
        "[alice] offered {call_id}, ringing on {} device(s)",
        res.devices
    ));
    alice.send_ice(&call_id).await?;

    // Bob answers with his half of the handshake.
    let Event::CallOffer(o) = bob.next_call_event(&call_id).await? else {
        bail!("expected call.offer")
    };
    bob.pc
        .set_remote_description(RTCSessionDescription::offer(o.sdp.clone())?)
        .await?;
    bob.remote_description_set().await?;
    let answer = bob.pc.create_answer(None).await?;
    bob.pc.set_local_description(answer.clone()).await?;
    let (callee, ct) = if handshake {
        let t = Instant::now();
        let (c, a) = Callee::answer(&OfferKem::from_wire(&o.kem.ek, &o.kem.commit)?)?;
        spent += t.elapsed();
        (Some(c), a.ct_b64())
    } else {
        (None, pqcall_crypto::wire::encode(&[0; 1088]))
    };
    let conn = bob.conn().to_owned();
    let t = Instant::now();
    bob.client
        .answer(
            &conn,
            &AnswerRequest {
                call_id: call_id.clone(),
                sdp: answer.sdp.clone(),
                kem: AnswerKemBody { ct },
            },
        )
        .await?;
    spent += t.elapsed();
    bob.send_ice(&call_id).await?;
    let ctx = CallContext::from_sdp(&call_id, "alice", "bob", &o.sdp, &answer.sdp)?;

    // Alice finishes and confirms; bob checks and confirms; alice checks.
    let Event::CallAnswer(a) = alice.next_call_event(&call_id).await? else {
        bail!("expected call.answer")
    };
    alice
        .pc
        .set_remote_description(RTCSessionDescription::answer(a.sdp.clone())?)
        .await?;
    alice.remote_description_set().await?;
    let mut codes = None;
    if let (Some(caller), Some(callee)) = (caller, callee) {
        let t = Instant::now();
        let (caller, confirm) = caller.finish(
            &AnswerKem::from_wire(&a.kem.ct)?,
            &CallContext::from_sdp(&call_id, "alice", "bob", &offer.sdp, &a.sdp)?,
        );
        let conn = alice.conn().to_owned();
        alice
            .client
            .confirm(
                &conn,
                &ConfirmRequest {
                    call_id: call_id.clone(),
                    kem: ConfirmKemBody {
                        nonce: Some(confirm.nonce_b64()),
                        tag: confirm.tag_b64(),
                    },
                },
            )
            .await?;
        spent += t.elapsed();
        let Event::CallConfirm(c) = bob.next_call_event(&call_id).await? else {
            bail!("expected call.confirm")
        };
        let t = Instant::now();
        let (bob_keys, reply) = callee.confirm(
            &CallerConfirm::from_wire(c.kem.nonce.as_deref().unwrap_or_default(), &c.kem.tag)?,
            &ctx,
        )?;
        let conn = bob.conn().to_owned();
        bob.client
            .confirm(
                &conn,
                &ConfirmRequest {
                    call_id: call_id.clone(),
                    kem: ConfirmKemBody {
                        nonce: None,
                        tag: reply.tag_b64(),
                    },
                },
            )
            .await?;
        spent += t.elapsed();
        let Event::CallConfirm(c) = alice.next_call_event(&call_id).await? else {
            bail!("expected call.confirm")
        };
        let t = Instant::now();
        let alice_keys = caller.verify(&CalleeConfirm::from_wire(&c.kem.tag)?)?;
        spent += t.elapsed();
        alice.media.install(&alice_keys, Role::Caller);
        bob.media.install(&bob_keys, Role::Callee);
        log(&format!(
            "[alice] safety code {}, e2ee: on",
            alice_keys.safety_code
        ));
        log(&format!(
            "[bob]   safety code {}, e2ee: on",
            bob_keys.safety_code
        ));
        if alice_keys.safety_code != bob_keys.safety_code {
            bail!("the codes differ");
        }

        codes = Some((
            alice_keys.safety_code.to_string(),
            bob_keys.safety_code.to_string(),
        ));
    }
    // Keep relaying ICE until both peer connections are connected, the data channel
    // carried one message each way and each side decrypted some audio.
    let (a_tx, mut a_rx) = tokio::sync::oneshot::channel();
    let (b_tx, mut b_rx) = tokio::sync::oneshot::channel();
    let (dc, m) = (alice.dc.clone(), alice.media.clone());
    tokio::spawn(async move {
        let _ = a_tx.send(exchange(dc, m, "hello from alice", false, t0).await);
    });
    let (dc, m) = (bob.dc.clone(), bob.media.clone());
    tokio::spawn(async move {
        let _ = b_tx.send(exchange(dc, m, "hello from bob", true, t0).await);
    });
    for peer in [&alice, &bob] {
        let pt = media::negotiated_payload_type(&peer.audio).await;
        tokio::spawn(peer.media.clone().send_audio(pt));
    }
    let mut a_tracks = std::mem::replace(&mut alice.tracks_rx, mpsc::unbounded_channel().1);
    let mut b_tracks = std::mem::replace(&mut bob.tracks_rx, mpsc::unbounded_channel().1);
    let audio_heard = |m: &media::Media| !m.keyed() || m.counts().received >= AUDIO_FRAMES;
    let mut audio_check = tokio::time::interval(Duration::from_millis(5));
    let (mut a_conn, mut b_conn) = (None, None);
    let (mut a_msg, mut b_msg) = (None, None);
    let (mut a_open, mut b_open) = (None, None);
    let mut a_state = std::mem::replace(&mut alice.state_rx, mpsc::unbounded_channel().1);
    let mut b_state = std::mem::replace(&mut bob.state_rx, mpsc::unbounded_channel().1);
    let deadline = tokio::time::sleep(Duration::from_secs(20));
    tokio::pin!(deadline);
    let mut heard = false;
    while a_conn.is_none() || b_conn.is_none() || a_msg.is_none() || b_msg.is_none() || !heard {
        tokio::select! {
        e = alice.next_call_event(&call_id) => log(&format!("[alice] {:?}", e?.name())),
        e = bob.next_call_event(&call_id) => log(&format!("[bob] {:?}", e?.name())),
        Some(s) = a_state.recv() => if s == RTCPeerConnectionState::Connected { a_conn = Some(t0.elapsed()); },
        Some(s) = b_state.recv() => if s == RTCPeerConnectionState::Connected { b_conn = Some(t0.elapsed()); },
        Some(t) = a_tracks.recv() => { tokio::spawn(alice.media.clone().receive_audio(t)); }
        Some(t) = b_tracks.recv() => { tokio::spawn(bob.media.clone().receive_audio(t)); }
        _ = audio_check.tick() => heard = audio_heard(&alice.media) && audio_heard(&bob.media),
        r = &mut a_rx, if a_msg.is_none() => { let (open, m) = r??; log(&format!("[alice] data channel open at {open:?}, got {m:?}")); a_open = Some(open); a_msg = Some(m); }
        r = &mut b_rx, if b_msg.is_none() => { let (open, m) = r??; log(&format!("[bob]   data channel open at {open:?}, got {m:?}")); b_open = Some(open); b_msg = Some(m); }
        _ = &mut deadline => bail!(
            "the call did not set up within 20 s: connected {:?}/{:?}, messages {:?}/{:?}, audio {:?}/{:?}",
            a_conn, b_conn, a_msg, b_msg, alice.media.counts(), bob.media.counts()
        )}
    }

    // Alice hangs up; bob's stream says so.
    let conn = alice.conn().to_owned();
    alice
        .client
        .end(
            &conn,
            &CallIdReason {
                call_id: call_id.clone(),
                reason: None,
            },
        )
        .await?;
    let Event::CallEnded(n) = bob.next_call_event(&call_id).await? else {
        bail!("expected call.ended")
    };
    log(&format!(
        "[bob]   call ended ({})",
        n.reason.unwrap_or_default()
    ));
    let e2ee = (alice.media.counts(), bob.media.counts());
    if alice.media.keyed() {
        log(&format!("[alice] e2ee: on; audio frames {:?}", e2ee.0));
        log(&format!("[bob]   e2ee: on; audio frames {:?}", e2ee.1));
    }
    alice.pc.close().await?;
    bob.pc.close().await?;
    Ok(Timings {
        e2ee,
        connected: a_conn.unwrap_or_default().max(b_conn.unwrap_or_default()),
        channel_open: a_open.unwrap_or_default().max(b_open.unwrap_or_default()),
        messages: (a_msg.unwrap_or_default(), b_msg.unwrap_or_default()),
        codes,
        signaling_and_handshake: spent,
    })
}
