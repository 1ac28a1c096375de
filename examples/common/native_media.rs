//! A native peer's media, end-to-end encrypted as docs/PROTOCOL.md §7 says: an Opus audio
//! track whose every frame is an SFrame under the handshake's keys, and the data channel's
//! messages likewise. Before the keys exist nothing is sent, and what arrives is dropped.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use pqcall_crypto::{
    CallKeys, DataMessage, DataReceiver, DataSender, FrameReceiver, FrameSender, Role,
};
use rtc::media::Sample;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MediaEngine};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::PeerConnection;
use webrtc::rtp_transceiver::RtpSender;

/// A 20 ms Opus frame of silence (TOC 0xF8: CELT, fullband, 20 ms, one frame).
pub const OPUS_SILENCE: [u8; 3] = [0xf8, 0xff, 0xfe];
const FRAME: Duration = Duration::from_millis(20);
const OPUS_PT: u8 = 111;

/// The Opus codec both sides offer (and that Chromium offers as payload type 111).
fn opus() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

/// A media engine with Opus only.
pub fn media_engine() -> anyhow::Result<MediaEngine> {
    let mut m = MediaEngine::default();
    m.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: opus(),
            payload_type: OPUS_PT,
        },
        RtpCodecKind::Audio,
    )?;
    Ok(m)
}

struct Keys {
    media: FrameSender,
    media_rx: Mutex<FrameReceiver>,
    data: DataSender,
    data_rx: Mutex<DataReceiver>,
}

/// The frame counts of one side, for the log and the tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Audio frames encrypted and sent.
    pub sent: u64,
    /// Audio frames from the peer that decrypted.
    pub received: u64,
    /// Audio frames from the peer dropped after the keys existed (did not decrypt).
    pub dropped: u64,
    /// Audio frames from the peer dropped because they came before the keys.
    pub early: u64,
    /// Data-channel messages from the peer that decrypted.
    pub messages: u64,
}

/// One side's media: the local track, the keys once the peer's tag verified, counters.
pub struct Media {
    track: Arc<TrackLocalStaticSample>,
    ssrc: u32,
    keys: OnceLock<Keys>,
    sent: AtomicU64,
    early: AtomicU64,
    messages: AtomicU64,
}

impl Media {
    /// Adds an Opus track to the peer connection (before any offer or answer exists).
    pub async fn add_to(
        pc: &dyn PeerConnection,
    ) -> anyhow::Result<(Arc<Media>, Arc<dyn RtpSender>)> {
        let ssrc = rand_ssrc();
        let track = Arc::new(TrackLocalStaticSample::new(
            Instant::now(),
            MediaStreamTrack::new(
                "pqcall".to_owned(),
                "pqcall-audio".to_owned(),
                "audio".to_owned(),
                RtpCodecKind::Audio,
                vec![RTCRtpEncodingParameters {
                    rtp_coding_parameters: RTCRtpCodingParameters {
                        ssrc: Some(ssrc),
                        ..Default::default()
                    },
                    codec: opus(),
                    ..Default::default()
                }],
            ),
        )?);
        let sender = pc
            .add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
            .await?;
        let media = Arc::new(Media {
            track,
            ssrc,
            keys: OnceLock::new(),
            sent: AtomicU64::new(0),
            early: AtomicU64::new(0),
            messages: AtomicU64::new(0),
        });
        Ok((media, sender))
    }

    /// Installs this side's senders and receivers; from now on frames flow.
    pub fn install(&self, keys: &CallKeys, role: Role) {
        let _ = self.keys.set(Keys {
            media: keys.media_sender(role),
            media_rx: Mutex::new(keys.media_receiver(role)),
            data: keys.data_sender(role),
            data_rx: Mutex::new(keys.data_receiver(role)),
        });
    }

    /// Whether the keys are in.
    pub fn keyed(&self) -> bool {
        self.keys.get().is_some()
    }

    /// Sends one encrypted 20 ms frame every 20 ms until the peer connection is gone.
    /// Before the keys exist, frames are dropped, never sent in clear.
    pub async fn send_audio(self: Arc<Self>, payload_type: u8) {
        let mut tick = tokio::time::interval(FRAME);
        loop {
            tick.tick().await;
            let Some(keys) = self.keys.get() else {
                continue;
            };
            let Ok(frame) = keys.media.encrypt(&OPUS_SILENCE) else {
                return;
            };
            let sample = Sample {
                data: frame.into(),
                duration: FRAME,
                ..Sample::new(Instant::now())
            };
            if self
                .track
                .sample_writer(self.ssrc, payload_type)
                .write_sample(&sample)
                .await
                .is_err()
            {
                return;
            }
            self.sent.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Decrypts every RTP payload of the peer's track; zero-length (padding) passes.
    pub async fn receive_audio(self: Arc<Self>, track: Arc<dyn TrackRemote>) {
        while let Some(event) = track.poll().await {
            let TrackRemoteEvent::OnRtpPacket(pkt) = event else {
                continue;
            };
            if pkt.payload.is_empty() {
                continue;
            }
            match self.keys.get() {
                None => {
                    self.early.fetch_add(1, Ordering::Relaxed);
                }
                Some(keys) => {
                    // Counted inside the receiver: received or dropped.
                    let _ = keys
                        .media_rx
                        .lock()
                        .map(|mut rx| rx.decrypt(&pkt.payload).is_ok());
                }
            }
        }
    }

    /// A data-channel message sealed for the peer (§7: always a binary message).
    pub fn seal_text(&self, text: &str) -> anyhow::Result<Vec<u8>> {
        let keys = self.keys.get().context("no keys yet")?;
        Ok(keys.data.text(text)?)
    }

    /// The text of a sealed message from the peer, or `None` (dropped and counted).
    pub fn open_text(&self, bytes: &[u8]) -> Option<String> {
        let keys = self.keys.get()?;
        let message = keys.data_rx.lock().ok()?.decrypt(bytes).ok()?;
        self.messages.fetch_add(1, Ordering::Relaxed);
        match message {
            DataMessage::Text(t) => Some(t),
            DataMessage::Binary(b) => Some(String::from_utf8_lossy(&b).into_owned()),
        }
    }

    /// The counts so far.
    pub fn counts(&self) -> Counts {
        let (received, dropped) = self
            .keys
            .get()
            .and_then(|k| {
                k.media_rx
                    .lock()
                    .ok()
                    .map(|rx| (rx.received(), rx.dropped()))
            })
            .unwrap_or_default();
        Counts {
            sent: self.sent.load(Ordering::Relaxed),
            received,
            dropped,
            early: self.early.load(Ordering::Relaxed),
            messages: self.messages.load(Ordering::Relaxed),
        }
    }
}

/// The payload type negotiated for the sender's codec.
pub async fn negotiated_payload_type(sender: &Arc<dyn RtpSender>) -> u8 {
    sender
        .get_parameters()
        .await
        .ok()
        .and_then(|p| p.rtp_parameters.codecs.first().map(|c| c.payload_type))
        .unwrap_or(OPUS_PT)
}

fn rand_ssrc() -> u32 {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    u32::from_be_bytes(b) | 1
}
