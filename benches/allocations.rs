//! Heap allocations per relayed message in the server (issue 17: per-request allocations,
//! measured with a counting allocator).
//!
//! ```sh
//! cargo bench --bench allocations
//! ```
//!
//! This process is the server: the library on a two-worker runtime (as on a 2-core
//! machine) behind `stats_alloc`'s counting allocator. The client ([`pqcall::client`]) is
//! this same program started again as a second process, so that nothing it allocates is
//! counted. Before each measured part the client names it on its standard output and
//! waits for a go-ahead on its input; after it, it says `done`. Messages go over real
//! loopback sockets, through hyper, the router and the engine, one at a time (each sent
//! after the one before arrived on the receivers' streams) or with 100 in flight, as in
//! `benches/peerjs/relay.mjs`, each part after a warm-up of its own. Counts hardly depend
//! on the machine's speed (only a background sweep or timer that falls inside a part adds
//! to it), and not on the allocator below (the binary's is jemalloc; here the system's).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;

use futures_util::StreamExt;
use pqcall::client::{Client, EventStream, StreamItem};
use pqcall::{AppState, Config};
use pqcall_signaling::Event;
use pqcall_signaling::api::{
    AnswerKemBody, AnswerRequest, CreateConversationRequest, IceRequest, OfferKemBody,
    OfferRequest, SendRequest,
};
use pqcall_signaling::wire::IceCandidate;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// The client's environment variables: the server's address and the two users' tokens.
const BASE: &str = "PQCALL_ALLOC_BENCH_BASE";
const ALICE: &str = "PQCALL_ALLOC_BENCH_ALICE";
const BOB: &str = "PQCALL_ALLOC_BENCH_BOB";

const WARM_UP: usize = 200;
const COUNT: usize = 5_000;

fn main() {
    match std::env::var(BASE) {
        Ok(base) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(client(&base)),
        Err(_) => server(),
    }
}

/// Serves, starts the client, and counts what each part the client names allocates.
fn server() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = Config {
        rate_per_sec: 1_000_000,
        rate_burst: 1_000_000,
        ..Config::default()
    };
    let state = AppState::new(config, b"allocations-bench-secret-0123456789");
    let serving = pqcall::serve_loopback(state.clone(), std::future::pending());
    let (base, _server) = rt.block_on(serving).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(BASE, &base)
        .env(ALICE, state.mint_token("alice", 3600).unwrap())
        .env(BOB, state.mint_token("bob", 3600).unwrap())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut go = child.stdin.take().unwrap();
    let mut said = BufReader::new(child.stdout.take().unwrap());
    // One buffer for the client's lines, so reading them allocates nothing.
    let mut line = String::with_capacity(256);
    let mut read = |line: &mut String| {
        line.clear();
        said.read_line(line).unwrap() > 0
    };
    while read(&mut line) {
        // `measure <messages> <what>`, then `done` when it finished.
        let (messages, what) = line.trim()[8..].split_once(' ').unwrap();
        let (messages, what) = (messages.parse::<usize>().unwrap(), what.to_owned());
        let region = Region::new(GLOBAL);
        writeln!(go, "go").unwrap();
        assert!(read(&mut line) && line.trim() == "done", "{line}");
        let s = region.change();
        let per = |n: usize| n as f64 / messages as f64;
        println!(
            "{what:<42} {:>6.1} allocations ({:>6.0} bytes), {:>5.1} reallocations, {:>6.1} frees per message",
            per(s.allocations),
            per(s.bytes_allocated),
            per(s.reallocations),
            per(s.deallocations)
        );
    }
    assert!(child.wait().unwrap().success());
}

/// Runs `part` between telling the server and telling it that `messages` went through.
async fn measure(messages: usize, what: &str, part: impl AsyncFnOnce()) {
    println!("measure {messages} {what}");
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).unwrap();
    part().await;
    println!("done");
}

/// The relay anchor's batch (benches/fixtures/ice-batch.json, which the load tool and
/// benches/peerjs read too); `seq` rides in the first candidate.
fn batch(seq: usize) -> Arc<[IceCandidate]> {
    const BATCH: &str = include_str!("fixtures/ice-batch.json");
    let mut batch: Vec<IceCandidate> = serde_json::from_str(BATCH).expect("the fixture");
    batch[0].candidate = batch[0].candidate.replace("{seq}", &seq.to_string()).into();
    batch.into()
}

/// The next event on `s` that `keep` picks, skipping the others (a lost one fails the
/// bench rather than hanging it).
async fn next_event<T>(s: &mut EventStream, keep: impl Fn(Event) -> Option<T>) -> T {
    let next = async {
        loop {
            if let StreamItem::Event { event, .. } = s.next().await.unwrap()
                && let Some(t) = keep(event)
            {
                return t;
            }
        }
    };
    let wait = std::time::Duration::from_secs(30);
    tokio::time::timeout(wait, next)
        .await
        .expect("an event in 30 s")
}

/// A user's client and their device's open stream.
async fn device(base: &str, token: &str) -> (Client, EventStream, String) {
    let client = Client::new(base, std::env::var(token).unwrap());
    let mut events = client.events();
    assert!(matches!(events.next().await.unwrap(), StreamItem::Hello(_)));
    let conn = events.conn_id().unwrap().to_owned();
    (client, events, conn)
}

/// Alice relays ICE batches to Bob in an answered call, then chat messages.
async fn client(base: &str) {
    let (alice, mut a, ca) = device(base, ALICE).await;
    let (bob, mut b, cb) = device(base, BOB).await;

    // An answered call, then its ICE batches (`POST /api/calls/ice` -> `call.ice`).
    let (_, kem) = pqcall_crypto::Caller::start().unwrap();
    let offer = OfferRequest {
        to: "bob".into(),
        sdp: "v=0\r\n".into(),
        kem: OfferKemBody {
            suite: "ML-KEM-768".into(),
            ek: kem.ek_b64(),
            commit: kem.commit_b64(),
        },
    };
    let call_id = alice.offer(&ca, &offer).await.unwrap().call_id;
    let ct = pqcall_crypto::wire::encode(&[0; 1088]);
    let answer = AnswerRequest {
        call_id: call_id.clone(),
        sdp: "v=0\r\n".into(),
        kem: AnswerKemBody { ct },
    };
    bob.answer(&cb, &answer).await.unwrap();
    let seq_of = |e| match e {
        Event::CallIce(ice) => ice.candidates[0].candidate[10..]
            .split(' ')
            .next()?
            .parse::<usize>()
            .ok(),
        _ => None,
    };
    let ice = |seq| IceRequest {
        call_id: call_id.clone(),
        candidates: batch(seq),
        done: Some(false),
    };
    let one_at_a_time = async |b: &mut EventStream, from: usize, n: usize| {
        for seq in from..from + n {
            alice.ice(&ca, &ice(seq)).await.unwrap();
            assert_eq!(next_event(b, seq_of).await, seq);
        }
    };
    one_at_a_time(&mut b, 1_000_000, WARM_UP).await;
    let what = "call.ice, 3.3 KB batch, one at a time";
    measure(COUNT, what, async || one_at_a_time(&mut b, 0, COUNT).await).await;
    // A batch is in flight from its POST until it arrived.
    let in_flight = async |b: &mut EventStream, from: usize, n: usize| {
        let slots = tokio::sync::Semaphore::new(100);
        let send = futures_util::stream::iter(from..from + n).for_each_concurrent(100, |seq| {
            let (slots, ice, alice, ca) = (&slots, &ice, &alice, &ca);
            async move {
                slots.acquire().await.unwrap().forget();
                alice.ice(ca, &ice(seq)).await.unwrap();
            }
        });
        let arrive = async {
            for _ in 0..n {
                next_event(b, seq_of).await;
                slots.add_permits(1);
            }
        };
        tokio::join!(send, arrive);
    };
    // The warm-up opens the client's 100 connections.
    in_flight(&mut b, 2_000_000, WARM_UP).await;
    let what = "call.ice, 3.3 KB batch, 100 in flight";
    measure(COUNT, what, async || in_flight(&mut b, COUNT, COUNT).await).await;

    // Chat: `POST /api/messages/send` -> `message.new` (the memory store).
    let members = vec!["bob".into()];
    let create = CreateConversationRequest {
        members,
        title: None,
        open: None,
    };
    let conversation_id = alice
        .create_conversation(&create)
        .await
        .unwrap()
        .conversation_id;
    let says = |e| matches!(e, Event::MessageNew(_)).then_some(());
    // Both members' streams get every message: both are read.
    let chat = async |a: &mut EventStream, b: &mut EventStream, from: usize, n: usize| {
        for i in from..from + n {
            let req = SendRequest {
                conversation_id: conversation_id.clone(),
                body: format!("message {i}: shall we talk at eight?"),
                client_msg_id: format!("m{i}"),
            };
            alice.send(&req).await.unwrap();
            next_event(a, says).await;
            next_event(b, says).await;
        }
    };
    chat(&mut a, &mut b, 0, WARM_UP).await;
    let what = "message.new, 40-byte text, one at a time";
    measure(COUNT, what, async || {
        chat(&mut a, &mut b, WARM_UP, COUNT).await
    })
    .await;
}
