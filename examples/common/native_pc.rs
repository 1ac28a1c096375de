//! One native peer connection of a call: its events, ICE candidates on the wire, and
//! the SDP/ICE exchange through the server.

use anyhow::{Context, bail};
use pqcall::client::{Client, EventStream, StreamItem};
use pqcall_signaling::Event;
use pqcall_signaling::api::*;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use webrtc::data_channel::{DataChannel, DataChannelEvent, RTCDataChannelInit};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceCandidateInit, RTCIceServer, RTCIceTransportPolicy, RTCPeerConnectionIceEvent,
    RTCPeerConnectionState, SettingEngineBuilder,
};
use webrtc::rtp_transceiver::RtpSender;
use webrtc::runtime::Runtime;

use super::*;

pub(crate) struct Handler {
    ice: mpsc::UnboundedSender<RTCIceCandidateInit>,
    state: mpsc::UnboundedSender<RTCPeerConnectionState>,
    tracks: mpsc::UnboundedSender<Arc<dyn TrackRemote>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(init) = event.candidate.to_json() {
            let _ = self.ice.send(init);
        }
    }
    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.state.send(state);
    }
    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.tracks.send(track);
    }
}

/// One side of the call: its signaling client and stream, and its peer connection.
pub(crate) struct Peer {
    pub(crate) name: &'static str,
    pub(crate) client: Client,
    pub(crate) events: EventStream,
    pub(crate) pc: Box<dyn PeerConnection>,
    pub(crate) ice_rx: mpsc::UnboundedReceiver<RTCIceCandidateInit>,
    pub(crate) state_rx: mpsc::UnboundedReceiver<RTCPeerConnectionState>,
    pub(crate) tracks_rx: mpsc::UnboundedReceiver<Arc<dyn TrackRemote>>,
    /// The audio track and the keys that encrypt it and the data channel.
    pub(crate) media: Arc<media::Media>,
    pub(crate) audio: Arc<dyn RtpSender>,
    /// The data channel, negotiated out of band (id 0), as the browser client does.
    pub(crate) dc: Arc<dyn DataChannel>,
    pub(crate) remote_set: bool,
    pub(crate) pending_remote: Vec<RTCIceCandidateInit>,
}

impl Peer {
    pub(crate) async fn new(
        name: &'static str,
        base: &str,
        token: String,
        runtime: Option<Arc<dyn Runtime>>,
    ) -> anyhow::Result<Peer> {
        let client = Client::new(base, token);
        // STUN and TURN (with this user's credentials) as the server hands them out.
        let ice_servers = client
            .ice_servers()
            .await?
            .ice_servers
            .into_iter()
            .map(|s| RTCIceServer {
                urls: s.urls,
                username: s.username.unwrap_or_default(),
                credential: s.credential.unwrap_or_default(),
            })
            .collect();
        let relay_only = RELAY_ONLY.load(std::sync::atomic::Ordering::Relaxed);
        let policy = if relay_only {
            RTCIceTransportPolicy::Relay
        } else {
            RTCIceTransportPolicy::All
        };
        let configuration = RTCConfigurationBuilder::new()
            .with_ice_servers(ice_servers)
            .with_ice_transport_policy(policy)
            .build();
        let mut events = client.events();
        match events.next().await? {
            StreamItem::Hello(_) => {}
            other => bail!("expected hello, got {other:?}"),
        }
        let (ice, ice_rx) = mpsc::unbounded_channel();
        let (state, state_rx) = mpsc::unbounded_channel();
        let (tracks, tracks_rx) = mpsc::unbounded_channel();
        // ICE connectivity checks every 20 ms instead of 200 ms (50 attempts, so a
        // candidate is still tried for a second), unless webrtc-rs defaults are asked for.
        // Relay-only too: through TURN, webrtc-rs's pairs need its own pacing (with 50
        // checks 20 ms apart, a pair through the relay sometimes never succeeds).
        let settings = if relay_only || DEFAULT_SETTINGS.load(std::sync::atomic::Ordering::Relaxed)
        {
            SettingEngineBuilder::new().build()
        } else {
            SettingEngineBuilder::new()
                .with_ice_connection_attempts(Some(Duration::from_millis(20)), Some(50))
                .build()
        };
        let mut builder = PeerConnectionBuilder::new()
            .with_setting_engine(settings)
            .with_configuration(configuration)
            .with_media_engine(media::media_engine()?)
            .with_handler(Arc::new(Handler { ice, state, tracks }))
            .with_udp_addrs(vec!["127.0.0.1:0".to_string()]);
        if let Some(rt) = runtime {
            builder = builder.with_runtime(rt);
        }
        let pc = Box::new(builder.build().await?);
        // Track and channel before any offer or answer, so both are in the SDP.
        let (media, audio) = media::Media::add_to(pc.as_ref()).await?;
        let dc = pc
            .create_data_channel(
                "pqcall",
                Some(RTCDataChannelInit {
                    negotiated: Some(0),
                    ..Default::default()
                }),
            )
            .await?;
        Ok(Peer {
            name,
            client,
            events,
            pc,
            ice_rx,
            state_rx,
            tracks_rx,
            media,
            audio,
            dc,
            remote_set: false,
            pending_remote: vec![],
        })
    }

    pub(crate) fn conn(&self) -> &str {
        self.events.conn_id().unwrap_or_default()
    }

    /// Sends every gathered candidate so far as one batch (trickle ICE).
    pub(crate) async fn send_ice(&mut self, call_id: &str) -> anyhow::Result<()> {
        let mut candidates = vec![];
        while let Ok(c) = self.ice_rx.try_recv() {
            candidates.push(to_wire(c));
        }
        if !candidates.is_empty() {
            let conn = self.conn().to_owned();
            self.client
                .ice(
                    &conn,
                    &IceRequest {
                        call_id: call_id.into(),
                        candidates: candidates.into(),
                        done: None,
                    },
                )
                .await?;
        }
        Ok(())
    }

    pub(crate) async fn add_remote(&mut self, ice: Arc<[IceCandidate]>) -> anyhow::Result<()> {
        for c in ice.iter().cloned() {
            let init = RTCIceCandidateInit {
                candidate: c.candidate.into(),
                sdp_mid: c.sdp_mid.map(Into::into),
                sdp_mline_index: c.sdp_m_line_index,
                username_fragment: c.username_fragment.map(Into::into),
                ..Default::default()
            };
            if self.remote_set {
                self.pc.add_ice_candidate(init).await?;
            } else {
                self.pending_remote.push(init);
            }
        }
        Ok(())
    }

    pub(crate) async fn remote_description_set(&mut self) -> anyhow::Result<()> {
        self.remote_set = true;
        for c in std::mem::take(&mut self.pending_remote) {
            self.pc.add_ice_candidate(c).await?;
        }
        Ok(())
    }

    /// The next call event, sending our own candidates as they come meanwhile.
    pub(crate) async fn next_call_event(&mut self, call_id: &str) -> anyhow::Result<Event> {
        loop {
            tokio::select! {
                item = self.events.next() => match item? {
                    StreamItem::Event { event: Event::CallIce(i), .. } => self.add_remote(i.candidates).await?,
                    StreamItem::Event { event, .. } => return Ok(event),
                    other => log(&format!("[{}] {other:?}", self.name))},
                Some(c) = self.ice_rx.recv() => {
                    let conn = self.conn().to_owned();
                    self.client.ice(&conn, &IceRequest { call_id: call_id.into(), candidates: vec![to_wire(c)].into(), done: None }).await?;
                }
            }
        }
    }
}

/// A webrtc-rs candidate in the protocol's `RTCIceCandidateInit` shape.
pub(crate) fn to_wire(c: RTCIceCandidateInit) -> IceCandidate {
    IceCandidate {
        candidate: c.candidate.into(),
        sdp_mid: c.sdp_mid.map(Into::into),
        sdp_m_line_index: c.sdp_mline_index,
        username_fragment: c.username_fragment.map(Into::into),
    }
}

/// Waits for the data channel to open and returns the first message received. `first`
/// sends `text` when the channel opens, the other side replies with its `text` when that
/// arrives: with a channel negotiated out of band, a message sent the moment one side's
/// channel opens can reach the other before its SCTP stream exists there (webrtc-rs 0.21).
/// With keys, both are SFrames (§7); without (`--no-handshake`), plain text.
pub(crate) async fn exchange(
    dc: Arc<dyn DataChannel>,
    media: Arc<media::Media>,
    text: &'static str,
    first: bool,
    opened: Instant,
) -> anyhow::Result<(Duration, String)> {
    let send = async |dc: &Arc<dyn DataChannel>| -> anyhow::Result<()> {
        if media.keyed() {
            dc.send(media.seal_text(text)?.as_slice().into()).await?;
        } else {
            dc.send_text(text).await?;
        }
        Ok(())
    };
    let mut open_at = None;
    loop {
        match dc.poll().await.context("data channel closed")? {
            DataChannelEvent::OnOpen => {
                open_at = Some(opened.elapsed());
                if first {
                    send(&dc).await?;
                }
            }
            DataChannelEvent::OnMessage(m) => {
                let got = if media.keyed() {
                    media
                        .open_text(&m.data)
                        .context("a data message did not decrypt")?
                } else {
                    String::from_utf8_lossy(&m.data).into_owned()
                };
                if !first {
                    send(&dc).await?;
                }
                return Ok((open_at.unwrap_or_default(), got));
            }
            DataChannelEvent::OnClose => bail!("closed"),
            _ => {}
        }
    }
}
