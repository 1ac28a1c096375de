//! A native webrtc-rs client for one call with anyone (a browser, say) through a pqcall
//! server: the ML-KEM-768 handshake, then Opus audio and the data channel end-to-end
//! encrypted with SFrame under its keys (docs/PROTOCOL.md §7). It answers the next call, or calls
//! a user; replies to each data message with `echo: <text>`; prints the safety code with
//! `e2ee: on`, and when the call ends a `report {...}` line with the frame counts.
//!
//! ```sh
//! cargo run --example native_peer -- --url http://127.0.0.1:8080 --user bob --answer
//! cargo run --example native_peer -- --url http://127.0.0.1:8080 --user bob --call alice
//! cargo run --example native_peer -- --url https://pqcall.example:8443 --user bob --answer --relay
//! ```
//!
//! `--relay` uses relay candidates only, through the TURN servers the server hands out
//! (`GET /api/ice-servers`).
//!
//! The token comes from the server's development endpoint (`pqcall serve --dev`).

use anyhow::{Context, bail};

#[path = "common/native.rs"]
mod native;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| native::arg(&args, name);
    let base = arg("--url").context("--url URL")?;
    let user = arg("--user").context("--user NAME")?;
    let side = match (arg("--call"), args.iter().any(|a| a == "--answer")) {
        (Some(to), false) => native::peer::Side::Call(to),
        (None, true) => native::peer::Side::Answer,
        _ => bail!("give exactly one of --answer and --call USER"),
    };
    if args.iter().any(|a| a == "--relay") {
        native::use_relay_only();
    }
    let res = reqwest::Client::new()
        .post(format!("{base}/api/dev/token"))
        .json(&serde_json::json!({ "user": user }))
        .send()
        .await?
        .error_for_status()
        .context("the server is not in development mode (--dev)")?;
    let token: serde_json::Value = res.json().await?;
    let token = token["token"].as_str().context("no token")?.to_owned();
    let report = native::peer::run(&base, token, &user, side, native::runtime(true)?, |line| {
        println!("{line}")
    })
    .await?;
    let c = report.counts;
    println!(
        "report {}",
        serde_json::json!({
            "code": report.code,
            "outcome": report.outcome,
            "sent": c.sent,
            "received": c.received,
            "dropped": c.dropped,
            "early": c.early,
            "messages": c.messages,
        })
    );
    Ok(())
}
