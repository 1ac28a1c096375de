//! The stress run's actors: readers that get killed and resume, chatters, callers.

use anyhow::{Context, bail};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::*;

/// One device's reader: opens its stream, records everything, resumes after every
/// end (killed, slow-consumer end), until the run is over and it saw `app.done`.
pub(crate) async fn reader(
    world: Arc<World>,
    dev: Arc<Device>,
    mut rng: fastrand::Rng,
) -> anyhow::Result<()> {
    let mut old_ticket: Option<String> = None;
    loop {
        if world.stop.load(Ordering::SeqCst) && dev.count("app.done", "end") > 0 {
            return Ok(());
        }
        // Sometimes replay the last ticket first: it must be refused.
        if let Some(t) = old_ticket.take().filter(|_| rng.u8(..10) == 0) {
            world
                .refused(&t, "a replayed", &world.stats.replayed_tickets_refused)
                .await?;
        }
        // Sometimes let a ticket expire (the server runs with --ticket-ttl-ms 1000)
        // before using it: it must get 401.
        if rng.u8(..20) == 0 {
            let t = world.ticket(&dev.user).await?;
            tokio::time::sleep(Duration::from_millis(1100)).await;
            world
                .refused(&t, "an expired", &world.stats.expired_tickets_refused)
                .await?;
        }
        let ticket = world.ticket(&dev.user).await?;
        let mut url = format!("{}/api/events?ticket={ticket}", world.base);
        old_ticket = Some(ticket);
        let (conn, last) = (
            dev.conn.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            dev.last.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        );
        if let Some(c) = &conn {
            url.push_str(&format!("&conn_id={c}"));
        }
        if let Some(l) = &last {
            url.push_str(&format!("&last_event_id={l}"));
        }
        let res = world.http.get(url).send().await?;
        if res.status().as_u16() != 200 {
            bail!("stream of {}: {}", dev.user, res.status());
        }
        let mut events = Box::pin(res.bytes_stream().eventsource());
        loop {
            let next = tokio::select! {
                e = events.next() => e,
                _ = dev.kill.notified() => {
                    world.stats.kills.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            };
            let Some(Ok(e)) = next else { break };
            let data: Value = serde_json::from_str(&e.data).unwrap_or(Value::Null);
            if e.event == "hello" {
                let c = data["conn_id"].as_str().unwrap_or_default().to_owned();
                if conn.as_ref().is_some_and(|old| *old != c) {
                    bail!("{} lost its connection id on resume", dev.user);
                }
                *dev.conn.lock().unwrap_or_else(|p| p.into_inner()) = Some(c);
                if !e.id.is_empty() {
                    *dev.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.id.clone());
                }
                dev.changed.notify_waiters();
                continue;
            }
            if e.event == "reset" {
                world.stats.resets.fetch_add(1, Ordering::Relaxed);
            }
            if e.event == "typing" || e.id.is_empty() {
                continue;
            }
            world.stats.events.fetch_add(1, Ordering::Relaxed);
            *dev.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.id.clone());
            dev.seen
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Seen {
                    id: e.id.clone(),
                    name: e.event.clone(),
                    key: key_of(&e.event, &data),
                });
            dev.changed.notify_waiters();
            if dev.slow {
                // A slow reader, which now and then stalls: the server's queue for it
                // fills and the server ends the stream; it resumes like any other.
                let pause = match rng.u16(..4000) {
                    0 => 1500,
                    n if n % 4 == 0 => 1,
                    _ => 0,
                };
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            if world.stop.load(Ordering::SeqCst) && e.event == "app.done" {
                return Ok(());
            }
        }
        world.stats.reconnects.fetch_add(1, Ordering::Relaxed);
    }
}

/// Chat: sends to random conversations of the sender; sometimes retries a send with
/// the same `client_msg_id`, which must give back the same message.
pub(crate) async fn chatter(
    world: Arc<World>,
    convs: Arc<Vec<(String, Vec<String>)>>,
    sent: Arc<Mutex<Vec<(String, String)>>>,
    me: usize,
    mut rng: fastrand::Rng,
) -> anyhow::Result<()> {
    let mut n = 0;
    while !world.stop.load(Ordering::SeqCst) {
        let (conv, members) = &convs[rng.usize(..convs.len())];
        let from = &members[rng.usize(..members.len())];
        let cmid = format!("s{me}-{n}");
        n += 1;
        let body = json!({"conversation_id": conv, "body": format!("hello {cmid}"), "client_msg_id": cmid});
        let r = world
            .ok(from, None, "/api/messages/send", body.clone())
            .await?;
        let id = r["message"]["id"]
            .as_str()
            .context("message id")?
            .to_owned();
        if rng.u8(..8) == 0 {
            let again = world.ok(from, None, "/api/messages/send", body).await?;
            if again["message"]["id"] != r["message"]["id"] {
                bail!("a retried send made a second message");
            }
            world.stats.retries.fetch_add(1, Ordering::Relaxed);
        }
        world.stats.messages.fetch_add(1, Ordering::Relaxed);
        sent.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((conv.clone(), id));
    }
    Ok(())
}

/// How a call ended, and which device must have seen which final event once.
pub(crate) struct CallEnd {
    pub(crate) call_id: String,
    pub(crate) outcome: &'static str,
    /// (device, event name) that must each appear exactly once.
    pub(crate) finals: Vec<(Arc<Device>, &'static str)>,
}

pub(crate) fn b64(n: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(vec![9u8; n])
}

/// Calls between random pairs: answered and hung up, declined, canceled or missed.
pub(crate) async fn caller(
    world: Arc<World>,
    pairs: Vec<(usize, usize)>,
    ends: Arc<Mutex<Vec<CallEnd>>>,
    mut rng: fastrand::Rng,
) -> anyhow::Result<()> {
    let mut i = 0;
    while !world.stop.load(Ordering::SeqCst) {
        let (a, b) = pairs[i % pairs.len()];
        i += 1;
        let (ua, ub) = (world.users[a].clone(), world.users[b].clone());
        let da = world.devices_of(&ua)[0].clone();
        let dbs = world.devices_of(&ub);
        // The device that answers or declines keeps up (a slow one may lag seconds
        // behind; it must still receive everything, which the end checks).
        let quick: Vec<&Arc<Device>> = dbs.iter().filter(|d| !d.slow).collect();
        let db = quick[rng.usize(..quick.len())].clone();
        let (_, kem) = pqcall_crypto::Caller::start()?;
        let offer = json!({"to": ub, "sdp": "v=0\r\n", "kem": {"suite": "ML-KEM-768", "ek": kem.ek_b64(), "commit": kem.commit_b64()}});
        let (s, r) = world
            .post(&ua, Some(&da.conn()), "/api/calls/offer", offer)
            .await?;
        if s != 200 {
            // Glare with a call the other way is a legitimate answer under load.
            if r["error"]["code"] == "glare" {
                continue;
            }
            bail!("offer: {s} {r}");
        }
        let call = r["call_id"].as_str().context("call id")?.to_owned();
        let id = json!({"call_id": call});
        let missed = |call: String| {
            let mut finals: Vec<(Arc<Device>, &'static str)> =
                dbs.iter().map(|d| (d.clone(), "call.missed")).collect();
            finals.push((da.clone(), "call.missed"));
            CallEnd {
                call_id: call,
                outcome: "missed",
                finals,
            }
        };
        // Answering or declining can lose the race with the ring timeout (409): then
        // the call was missed, and that is what must have been delivered.
        let lost_race = |s: u16, r: &Value| s == 409 && r["error"]["code"] == "invalid_state";
        let end = match rng.u8(..4) {
            0 => {
                db.wait_for("call.offer", &call).await?;
                let (s, r) = world
                    .post(
                        &ub,
                        Some(&db.conn()),
                        "/api/calls/answer",
                        json!({"call_id": call, "sdp": "v=0\r\n", "kem": {"ct": b64(1088)}}),
                    )
                    .await?;
                if lost_race(s, &r) {
                    missed(call)
                } else {
                    if s != 200 {
                        bail!("answer: {s} {r}");
                    }
                    da.wait_for("call.answer", &call).await?;
                    world
                        .ok(
                            &ua,
                            Some(&da.conn()),
                            "/api/calls/confirm",
                            json!({"call_id": call, "kem": {"nonce": b64(32), "tag": b64(32)}}),
                        )
                        .await?;
                    db.wait_for("call.confirm", &call).await?;
                    world
                        .ok(
                            &ub,
                            Some(&db.conn()),
                            "/api/calls/confirm",
                            json!({"call_id": call, "kem": {"tag": b64(32)}}),
                        )
                        .await?;
                    let ice = json!({"call_id": call, "candidates": [{"candidate": "candidate:1 1 udp 1 10.0.0.1 5000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}], "done": true});
                    world
                        .ok(&ua, Some(&da.conn()), "/api/calls/ice", ice.clone())
                        .await?;
                    world
                        .ok(&ub, Some(&db.conn()), "/api/calls/ice", ice)
                        .await?;
                    if rng.bool() {
                        world
                            .ok(&ua, Some(&da.conn()), "/api/calls/end", id)
                            .await?;
                        CallEnd {
                            call_id: call,
                            outcome: "ended",
                            finals: vec![(db.clone(), "call.ended")],
                        }
                    } else {
                        world
                            .ok(&ub, Some(&db.conn()), "/api/calls/end", id)
                            .await?;
                        CallEnd {
                            call_id: call,
                            outcome: "ended",
                            finals: vec![(da.clone(), "call.ended")],
                        }
                    }
                }
            }
            1 => {
                db.wait_for("call.offer", &call).await?;
                let (s, r) = world
                    .post(&ub, Some(&db.conn()), "/api/calls/decline", id)
                    .await?;
                if lost_race(s, &r) {
                    missed(call)
                } else if s == 200 {
                    CallEnd {
                        call_id: call,
                        outcome: "declined",
                        finals: vec![(da.clone(), "call.declined")],
                    }
                } else {
                    bail!("decline: {s} {r}");
                }
            }
            2 => {
                world
                    .ok(&ua, Some(&da.conn()), "/api/calls/end", id)
                    .await?;
                let finals = dbs.iter().map(|d| (d.clone(), "call.ended")).collect();
                CallEnd {
                    call_id: call,
                    outcome: "canceled",
                    finals,
                }
            }
            _ => missed(call),
        };
        for (d, name) in &end.finals {
            d.wait_for(name, &end.call_id).await?;
        }
        ends.lock().unwrap_or_else(|p| p.into_inner()).push(end);
    }
    Ok(())
}
